import { describe, expect, it } from 'vitest';
import { createLogger } from '../log.js';

function capture(level: Parameters<typeof createLogger>[0]) {
  const lines: string[] = [];
  const log = createLogger(level, 'broker', { write: (l) => lines.push(l), now: () => Date.UTC(2025, 0, 31, 12) });
  return { log, lines };
}

describe('logger', () => {
  it('writes one line: timestamp, level, component, message, JSON fields', () => {
    const { log, lines } = capture('info');
    log.info('listening', { port: 8080 });
    log.warn('slow');
    expect(lines).toEqual(['2025-01-31T12:00:00.000Z INFO  broker listening {"port":8080}', '2025-01-31T12:00:00.000Z WARN  broker slow']);
  });

  it('drops events below its level', () => {
    const { log, lines } = capture('warn');
    log.debug('a');
    log.info('b');
    log.warn('c');
    log.error('d');
    expect(lines.map((l) => l.split(' ').slice(1, 2)[0])).toEqual(['WARN', 'ERROR']);
    expect(log.isEnabled('info')).toBe(false);
    expect(log.isEnabled('error')).toBe(true);
    const silent = capture('silent');
    silent.log.error('x');
    expect(silent.lines).toEqual([]);
  });

  it('child loggers name the sub-component and share level and sink', () => {
    const { log, lines } = capture('debug');
    log.child('admin').child('http').debug('request');
    expect(lines[0]).toContain(' DEBUG broker.admin.http request');
  });

  it('keeps one event on one line and encodes errors, buffers, bigints and cycles', () => {
    const { log, lines } = capture('info');
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    const err = Object.assign(new Error('boom\nsecond line'), { code: 'EADDRINUSE' });
    log.error('failed\nbadly', { err, payload: Buffer.from('abc'), big: 10n, cyclic });
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain('\n');
    expect(lines[0]).toContain('ERROR broker failed\\nbadly {');
    const fields = JSON.parse(lines[0]!.slice(lines[0]!.indexOf('{'))) as Record<string, any>;
    expect(fields.err).toMatchObject({ name: 'Error', message: 'boom\nsecond line', code: 'EADDRINUSE' });
    expect(fields.payload).toBe('<3 bytes>');
    expect(fields.big).toBe('10');
    expect(fields.cyclic).toEqual({ a: 1, self: '[circular]' });
  });

  it('refuses an unknown level', () => {
    expect(() => createLogger('verbose' as 'info', 'x')).toThrow(/unknown log level "verbose"/);
  });
});
