import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { status as grpcStatus } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { CodedError, errorCatalogue, GrpcStatus, isCodedError, isErrorCode, type ErrorCode, type ErrorSpec } from '../errors.js';

const docPath = fileURLToPath(new URL('../../docs/errors.md', import.meta.url));

interface DocRow {
  code: string;
  grpc: string;
  mqtt: string;
  http: string;
  description: string;
}

function docRows(): DocRow[] {
  const rows: DocRow[] = [];
  for (const line of readFileSync(docPath, 'utf8').split('\n')) {
    if (!line.startsWith('| `')) continue;
    const m = /^\| `([A-Z0-9_]+)` \| ([A-Z_]+) \| (0x[0-9A-F]{2}|-) \| (\d{3}|-) \| (.+) \|$/.exec(line);
    if (m === null) throw new Error(`docs/errors.md: row not in the expected format: ${line}`);
    rows.push({ code: m[1]!, grpc: m[2]!, mqtt: m[3]!, http: m[4]!, description: m[5]! });
  }
  return rows;
}

const entries = Object.entries(errorCatalogue) as [ErrorCode, ErrorSpec][];

describe('error catalogue', () => {
  it('docs/errors.md and common/errors.ts list the same codes', () => {
    const documented = docRows().map((r) => r.code);
    expect(new Set(documented).size).toBe(documented.length);
    expect([...documented].sort()).toEqual(entries.map(([code]) => code).sort());
  });

  it('docs/errors.md states the same gRPC status, MQTT reason code, HTTP status and meaning', () => {
    const rows = new Map(docRows().map((r) => [r.code, r]));
    for (const [code, spec] of entries) {
      const row = rows.get(code)!;
      expect({ code, grpc: row.grpc, mqtt: row.mqtt, http: row.http, description: row.description }).toEqual({
        code,
        grpc: spec.grpc,
        mqtt: spec.mqtt === undefined ? '-' : `0x${spec.mqtt.toString(16).toUpperCase().padStart(2, '0')}`,
        http: spec.http === undefined ? '-' : String(spec.http),
        description: spec.description,
      });
    }
  });

  it('codes carry their component prefix', () => {
    for (const [code] of entries) expect(code).toMatch(/^(CFG|BR|PC|JR|CTL)_[A-Z0-9_]+$|^INTERNAL$/);
  });

  it('gRPC statuses are the ones grpc-js defines', () => {
    for (const [name, value] of Object.entries(GrpcStatus)) {
      expect(grpcStatus[name as keyof typeof grpcStatus]).toBe(value);
    }
  });

  it('MQTT reason codes are MQTT 5 error codes (0x80 and above) and HTTP statuses are errors', () => {
    for (const [, spec] of entries) {
      if (spec.mqtt !== undefined) expect(spec.mqtt).toBeGreaterThanOrEqual(0x80);
      if (spec.mqtt !== undefined) expect(spec.mqtt).toBeLessThanOrEqual(0xa2);
      if (spec.http !== undefined) expect(spec.http).toBeGreaterThanOrEqual(400);
    }
  });

  it('CodedError exposes the mapping and frozen details', () => {
    const err = new CodedError('PC_NOT_LEADER', 'not the leader', { details: { leader: '10.0.0.2:1228' } });
    expect(err).toBeInstanceOf(Error);
    expect(isCodedError(err)).toBe(true);
    expect(err.code).toBe('PC_NOT_LEADER');
    expect(err.grpcStatus).toBe(grpcStatus.FAILED_PRECONDITION);
    expect(err.mqttReasonCode).toBeUndefined();
    expect(err.details).toEqual({ leader: '10.0.0.2:1228' });
    expect(Object.isFrozen(err.details)).toBe(true);
    const denied = new CodedError('BR_NOT_AUTHORIZED', 'acl', { cause: new Error('rule 3') });
    expect(denied.mqttReasonCode).toBe(0x87);
    expect(denied.httpStatus).toBe(403);
    expect((denied.cause as Error).message).toBe('rule 3');
    expect(isErrorCode('JR_CORRUPT_SEGMENT')).toBe(true);
    expect(isErrorCode('toString')).toBe(false);
    expect(isCodedError(new Error('x'))).toBe(false);
  });
});
