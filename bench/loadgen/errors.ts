/**
 * Typed errors of the benchmark tool. Each carries a stable code so the runner can report a
 * failed run precisely (and a test can assert on it) instead of matching message text.
 */
export type BenchErrorCode =
  | 'BENCH_USAGE'
  | 'BENCH_MALFORMED_PACKET'
  | 'BENCH_PROTOCOL'
  | 'BENCH_TIMEOUT'
  | 'BENCH_CONNECT_REFUSED'
  | 'BENCH_BROKER_START'
  | 'BENCH_AUTH_SETUP'
  | 'BENCH_CONNACK_REFUSED'
  | 'BENCH_BROKER_DIED'
  | 'BENCH_FD_LIMIT';

export class BenchError extends Error {
  readonly code: BenchErrorCode;

  constructor(code: BenchErrorCode, message: string) {
    super(message);
    this.name = 'BenchError';
    this.code = code;
  }
}

/** A CONNACK with a non-zero return code [MQTT-3.2.2.3]; 4 = bad credentials, 5 = not authorized. */
export class ConnackRefusedError extends BenchError {
  readonly returnCode: number;

  constructor(clientId: string, returnCode: number) {
    super('BENCH_CONNACK_REFUSED', `CONNACK refused ${clientId}: return code ${returnCode}`);
    this.name = 'ConnackRefusedError';
    this.returnCode = returnCode;
  }
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
