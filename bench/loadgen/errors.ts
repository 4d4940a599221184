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

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
