import { describe, expect, it } from 'vitest';
import { brokerSchema, ConfigError, formatConfigKeys, int, loadConfig, oneOf, str, tableList, type ConfigSchema } from '../config/index.js';

const schema = {
  sources: tableList({
    item: {
      type: oneOf({ values: ['a', 'b'], default: 'a', doc: 'kind' }),
      url: str({ default: '', doc: 'where' }),
      hash: { name: oneOf({ values: ['x', 'y'], default: 'x', doc: 'n' }), rounds: int({ default: 3, min: 1, max: 9, doc: 'r' }) },
    },
    default: [{ type: 'a' }],
    doc: 'sources in order',
  }),
} satisfies ConfigSchema;

function problems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err: unknown) {
    if (err instanceof ConfigError) return err.problems.map((p) => `${p.path}: ${p.message}`);
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('table-list config fields ([[section]] arrays of tables)', () => {
  it('fill every item with the item defaults, nested inline tables included', () => {
    expect(loadConfig(schema).sources).toEqual([{ type: 'a', url: '', hash: { name: 'x', rounds: 3 } }]);
    const c = loadConfig(schema, { values: { sources: [{ type: 'b', hash: { rounds: 5 } }, { url: 'u' }] } });
    expect(c.sources).toEqual([
      { type: 'b', url: '', hash: { name: 'x', rounds: 5 } },
      { type: 'a', url: 'u', hash: { name: 'x', rounds: 3 } },
    ]);
    expect(Object.isFrozen(c.sources[0]!.hash)).toBe(true);
  });

  it('take a TOML value from --set', () => {
    const c = loadConfig(schema, { sets: ['sources=[{ type = "b", url = "x" }]'] });
    expect(c.sources).toEqual([{ type: 'b', url: 'x', hash: { name: 'x', rounds: 3 } }]);
    expect(loadConfig(schema, { sets: ['sources=[]'] }).sources).toEqual([]);
  });

  it('name the item and key of every problem', () => {
    expect(problems(() => loadConfig(schema, { values: { sources: [{ type: 'c' }, { hash: { rounds: 0, colour: 1 } }, 3] } }))).toEqual([
      'sources[0].type: expected one of "a", "b", got "c"',
      'sources[1].hash.colour: unknown key (known here: name, rounds)',
      'sources[1].hash.rounds: expected an integer 1..9, got 0',
      'sources[2]: expected a table, got 3',
    ]);
    expect(problems(() => loadConfig(schema, { values: { sources: { type: 'a' } } }))).toEqual([
      'sources: expected a list of tables ([[...]] sections), got a table',
    ]);
    expect(problems(() => loadConfig(schema, { values: { sources: [{ hash: 'x' }] } }))[0]).toMatch(/^sources\[0\]\.hash: expected a table of settings/);
  });

  it('are listed with their default in --help', () => {
    expect(formatConfigKeys(schema)).toContain('sources = [{ type = "a" }]   [list of tables with keys type, url, hash]');
  });

  it('broker auth and acl chains: per-type requirements are cross-checked', () => {
    expect(problems(() => loadConfig(brokerSchema, { values: { auth: { chain: [{ type: 'built_in' }, { type: 'mysql' }, { type: 'jwt' }] }, acl: { chain: [{ type: 'redis' }] } } }))).toEqual([
      'auth.chain[1].url: required for a mysql source',
      'auth.chain[2].secret: a jwt source needs secret (HMAC) or public_key_file (RSA)',
      'acl.chain[0].url: required for a redis source',
    ]);
  });
});
