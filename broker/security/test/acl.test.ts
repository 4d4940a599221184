import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileRules, decidePublish, decideSubscribe, type ClientIdentity } from '../acl.js';
import { filterContains, filtersOverlap, levelsMatch } from '../filter-relations.js';
import type { AclRuleInput } from '../security-store.js';

const alice: ClientIdentity = { username: 'alice', clientId: 'c-alice', ip: '10.1.2.3' };
const rule = (r: Partial<AclRuleInput> & Pick<AclRuleInput, 'topic'>): AclRuleInput =>
  ({ who: { kind: 'all' }, action: 'all', permission: 'allow', ...r });
const pub = (rules: AclRuleInput[], topic: string, id = alice, qos = 0, retain = false) => decidePublish(compileRules(rules, id), topic, qos, retain);
const sub = (rules: AclRuleInput[], filter: string, id = alice, qos = 0) => decideSubscribe(compileRules(rules, id), filter, qos);

describe('ACL rule matching', () => {
  it('who: username, client id, IP, CIDR, all', () => {
    const t = 'x';
    expect(pub([rule({ topic: t, who: { kind: 'username', value: 'alice' } })], t)).toBe('allow');
    expect(pub([rule({ topic: t, who: { kind: 'username', value: 'bob' } })], t)).toBeUndefined();
    expect(pub([rule({ topic: t, who: { kind: 'client_id', value: 'c-alice' } })], t)).toBe('allow');
    expect(pub([rule({ topic: t, who: { kind: 'ip', value: '10.1.2.3' } })], t)).toBe('allow');
    expect(pub([rule({ topic: t, who: { kind: 'ip', value: '10.0.0.0/8' } })], t)).toBe('allow');
    expect(pub([rule({ topic: t, who: { kind: 'ip', value: '10.0.0.0/16' } })], t)).toBeUndefined();
    expect(pub([rule({ topic: t, who: { kind: 'ip', value: '10.0.0.0/8' } })], t, { ...alice, ip: '::ffff:10.9.9.9' })).toBe('allow');
    expect(pub([rule({ topic: t })], t, { ...alice, username: undefined })).toBe('allow');
    expect(pub([rule({ topic: t, who: { kind: 'username', value: 'alice' } })], t, { ...alice, username: undefined })).toBeUndefined();
  });

  it('action publish / subscribe / all', () => {
    expect(pub([rule({ topic: 'a', action: 'subscribe' })], 'a')).toBeUndefined();
    expect(sub([rule({ topic: 'a', action: 'subscribe' })], 'a')).toBe('allow');
    expect(sub([rule({ topic: 'a', action: 'publish' })], 'a')).toBeUndefined();
    expect(pub([rule({ topic: 'a', action: 'all', permission: 'deny' })], 'a')).toBe('deny');
  });

  it('wildcards +, # and the $-topic rule [MQTT-4.7.2-1]', () => {
    const rules = [rule({ topic: 'a/+/c' }), rule({ topic: 'b/#' })];
    expect(pub(rules, 'a/x/c')).toBe('allow');
    expect(pub(rules, 'a/x/y/c')).toBeUndefined();
    expect(pub(rules, 'b')).toBe('allow');
    expect(pub(rules, 'b/1/2/3')).toBe('allow');
    expect(pub([rule({ topic: '#' })], '$SYS/x')).toBeUndefined();
    expect(pub([rule({ topic: '$SYS/#' })], '$SYS/x')).toBe('allow');
  });

  it('placeholders ${username} and ${clientid}; unsafe values never widen a rule', () => {
    const rules = [rule({ topic: 'u/${username}/#' }), rule({ topic: 'c/${clientid}', action: 'publish' })];
    expect(pub(rules, 'u/alice/x')).toBe('allow');
    expect(pub(rules, 'u/bob/x')).toBeUndefined();
    expect(pub(rules, 'c/c-alice')).toBe('allow');
    expect(pub(rules, 'u/+/x', { ...alice, username: '+' })).toBeUndefined();
    expect(sub(rules, 'u/+/#', { ...alice, username: '+' })).toBeUndefined();
    expect(pub(rules, 'u/a/b/x', { ...alice, username: 'a/b' })).toBeUndefined();
    expect(pub(rules, 'u//x', { ...alice, username: undefined })).toBeUndefined();
    // A deny rule whose placeholder cannot be filled denies everything (fail closed).
    expect(pub([rule({ topic: 'u/${username}', permission: 'deny' }), rule({ topic: '#' })], 'z', { ...alice, username: '#' })).toBe('deny');
  });

  it('eq: a literal filter', () => {
    const rules = [rule({ topic: 'eq a/#', action: 'subscribe' })];
    expect(sub(rules, 'a/#')).toBe('allow');
    expect(sub(rules, 'a/b')).toBeUndefined();
    expect(sub([rule({ topic: 'eq a/#', action: 'subscribe', permission: 'deny' }), rule({ topic: '#' })], 'a/+')).toBe('allow');
  });

  it('QoS and retain conditions', () => {
    const rules = [rule({ topic: 't', qos: [0, 1] }), rule({ topic: 'r', retain: false })];
    expect(pub(rules, 't', alice, 1)).toBe('allow');
    expect(pub(rules, 't', alice, 2)).toBeUndefined();
    expect(sub(rules, 't', alice, 2)).toBeUndefined();
    expect(pub(rules, 'r', alice, 0, false)).toBe('allow');
    expect(pub(rules, 'r', alice, 0, true)).toBeUndefined();
  });

  it('first match wins; subscribe decisions cover the whole filter', () => {
    expect(pub([rule({ topic: 'a/b', permission: 'deny' }), rule({ topic: 'a/#' })], 'a/b')).toBe('deny');
    expect(pub([rule({ topic: 'a/#' }), rule({ topic: 'a/b', permission: 'deny' })], 'a/b')).toBe('allow');
    const rules = [rule({ topic: 'a/secret', permission: 'deny' }), rule({ topic: 'a/#' })];
    expect(sub(rules, 'a/#')).toBe('deny');
    expect(sub(rules, 'a/+')).toBe('deny');
    expect(sub(rules, 'a/public')).toBe('allow');
    expect(sub([rule({ topic: 'a/+' })], 'a/#')).toBeUndefined();
  });
});

describe('filter relations', () => {
  const L = (s: string) => s.split('/');
  it('containment and overlap examples', () => {
    expect(filterContains(L('a/#'), L('a'))).toBe(true);
    expect(filterContains(L('a/+'), L('a/#'))).toBe(false);
    expect(filterContains(L('#'), L('$SYS/#'))).toBe(false);
    // "+/#" matches every topic "#" does (found by acl-property-broker.test.ts); "a/+/#" misses "a".
    expect(filterContains(L('+/#'), L('#'))).toBe(true);
    expect(filterContains(L('a/+/#'), L('a/#'))).toBe(false);
    expect(filterContains(L('+/+/#'), L('#'))).toBe(false);
    expect(filterContains(L('+'), L('#'))).toBe(false);
    expect(filtersOverlap(L('a/+/c'), L('a/b/#'))).toBe(true);
    expect(filtersOverlap(L('a/b'), L('a/b/#'))).toBe(true);
    expect(filtersOverlap(L('+/x'), L('$SYS/x'))).toBe(false);
  });

  it('agree with the sets of topics the filters match, for every pair of short filters', () => {
    // Filters of up to three levels (then maybe "#") over a, b, $s and +; topics of up to five
    // levels over a, b, $s and z, which no filter names: enough to tell any two such filters apart.
    const filters = ['#'];
    const grow = (prefix: string[]): void => {
      if (prefix.length > 0) filters.push(prefix.join('/'), [...prefix, '#'].join('/'));
      if (prefix.length === 3) return;
      for (const l of ['a', 'b', '$s', '+']) if (prefix.length === 0 || l !== '$s') grow([...prefix, l]);
    };
    grow([]);
    let topics = [''];
    const universe: string[] = [];
    for (let depth = 1; depth <= 5; depth++) {
      topics = topics.flatMap((p) => ['a', 'b', '$s', 'z'].filter((l) => p === '' || l !== '$s').map((l) => (p === '' ? l : `${p}/${l}`)));
      universe.push(...topics);
    }
    const sets = new Map(filters.map((f) => [f, universe.map((t) => levelsMatch(L(f), L(t)))]));
    const wrong: string[] = [];
    for (const outer of filters) {
      for (const inner of filters) {
        const o = sets.get(outer)!;
        const n = sets.get(inner)!;
        if (filterContains(L(outer), L(inner)) !== n.every((m, i) => !m || o[i])) wrong.push(`${outer} contains ${inner}`);
        if (filtersOverlap(L(outer), L(inner)) !== n.some((m, i) => m && o[i])) wrong.push(`${outer} overlaps ${inner}`);
      }
    }
    expect(wrong).toEqual([]);
  });
});

// ---- property: an allowed subscription never yields a topic the client may not subscribe to ----

const level = fc.constantFrom('a', 'b', '$s', '${username}', '${clientid}');
const filterLevels = fc.array(fc.constantFrom('a', 'b', '$s', '+', 'alice'), { minLength: 1, maxLength: 3 });
const toFilter = (levels: string[], hash: boolean) => [...levels, ...(hash ? ['#'] : [])].join('/');
const arbFilter = fc.tuple(filterLevels, fc.boolean()).map(([l, h]) => toFilter(l, h));
const arbRuleTopic = fc.tuple(fc.array(fc.oneof(level, fc.constant('+')), { minLength: 1, maxLength: 3 }), fc.boolean()).map(([l, h]) => toFilter(l, h));
const arbTopic = fc.array(fc.constantFrom('a', 'b', '$s', 'alice', 'c-alice'), { minLength: 1, maxLength: 4 }).map((l) => l.join('/'));
const arbRule = fc.record({
  who: fc.constantFrom({ kind: 'all' as const }, { kind: 'username' as const, value: 'alice' }, { kind: 'username' as const, value: 'bob' }, { kind: 'ip' as const, value: '10.0.0.0/8' }),
  action: fc.constantFrom('publish' as const, 'subscribe' as const, 'all' as const),
  permission: fc.constantFrom('allow' as const, 'deny' as const),
  topic: arbRuleTopic,
  qos: fc.option(fc.subarray([0, 1, 2] as const, { minLength: 1 }), { nil: undefined }),
});
const seed = process.env['FC_SEED'] === undefined ? undefined : Number(process.env['FC_SEED']);

describe('ACL properties', () => {
  it('a topic delivered through an allowed subscription is itself allowed to be subscribed to', () => {
    fc.assert(fc.property(fc.array(arbRule, { maxLength: 6 }), arbFilter, arbTopic, fc.constantFrom(0, 1, 2), fc.constantFrom<'allow' | 'deny'>('allow', 'deny'),
      (rules, filter, topic, qos, noMatch) => {
        const compiled = compileRules(rules, alice);
        const subOk = (decideSubscribe(compiled, filter, qos) ?? noMatch) === 'allow';
        if (!subOk || !levelsMatch(filter.split('/'), topic.split('/'))) return;
        expect((decideSubscribe(compiled, topic, qos) ?? noMatch)).toBe('allow');
      }), { seed, numRuns: 3000 });
  });

  it('publish decisions are the first matching rule, whatever order rules are tried in the engine', () => {
    fc.assert(fc.property(fc.array(arbRule, { maxLength: 6 }), arbTopic, fc.constantFrom(0, 1, 2), (rules, topic, qos) => {
      const compiled = compileRules(rules, alice);
      const first = compiled.find((r) => r.publish && (r.qosMask & (1 << qos)) !== 0 && (r.matchAll || levelsMatch(r.levels, topic.split('/'))));
      expect(decidePublish(compiled, topic, qos, false)).toBe(first?.permission);
    }), { seed, numRuns: 2000 });
  });
});
