// Object names of the s3 driver, under the broker's prefix:
//   <prefix>batches/<seq, 20 digits>    one group commit of apply() batches (immutable)
//   <prefix>snapshots/<seq, 20 digits>  the whole state after batch object <seq>
//   <prefix>writer                      who opened the prefix last (single-writer check)
// Twenty zero-padded digits hold any sequence up to 2^64, and make name order numeric order, so
// a listing (ascending, as S3 returns it) is replay order.

const DIGITS = 20;

export function normalizePrefix(prefix: string): string {
  return prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
}

export const batchesDir = (prefix: string): string => `${prefix}batches/`;
export const snapshotsDir = (prefix: string): string => `${prefix}snapshots/`;
export const writerKey = (prefix: string): string => `${prefix}writer`;

export const batchKey = (prefix: string, seq: number): string => `${batchesDir(prefix)}${String(seq).padStart(DIGITS, '0')}`;
export const snapshotKey = (prefix: string, seq: number): string => `${snapshotsDir(prefix)}${String(seq).padStart(DIGITS, '0')}`;

/** The sequence in a batch or snapshot name under `dir`, or null for any other name. */
export function seqOf(dir: string, name: string): number | null {
  if (!name.startsWith(dir)) return null;
  const rest = name.slice(dir.length);
  if (!/^\d{20}$/.test(rest)) return null;
  const n = Number(rest);
  return Number.isSafeInteger(n) ? n : null;
}
