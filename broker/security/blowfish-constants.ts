// Blowfish's initial subkeys are the hexadecimal digits of π's fractional part (Schneier 1993):
// P1 = 0x243F6A88, P2 = 0x85A308D3, ..., then the four S-boxes. Rather than embed 4168 bytes of
// hex, they are computed once, on first use, from Machin's formula π = 16·atan(1/5) − 4·atan(1/239)
// in fixed-point BigInt arithmetic. The known-answer tests of bcrypt check the result.

/** 18 P-array words followed by 4 × 256 S-box words. */
const WORDS = 18 + 4 * 256;
const GUARD_BITS = 64n;

let cached: Uint32Array | null = null;

/** A fresh copy is not needed by callers: they copy into their own state. */
export function blowfishInitialWords(): Uint32Array {
  if (cached === null) cached = computePiWords();
  return cached;
}

function atanInverse(x: bigint, one: bigint): bigint {
  // atan(1/x) = Σ (−1)^k / ((2k+1) · x^(2k+1))
  const x2 = x * x;
  let term = one / x;
  let sum = term;
  for (let k = 1n; term !== 0n; k++) {
    term /= x2;
    const part = term / (2n * k + 1n);
    sum = k % 2n === 1n ? sum - part : sum + part;
  }
  return sum;
}

function computePiWords(): Uint32Array {
  const bits = BigInt(WORDS * 32) + GUARD_BITS;
  const one = 1n << bits;
  const pi = 16n * atanInverse(5n, one) - 4n * atanInverse(239n, one);
  // Drop the integer part 3 and the guard bits: what is left are the fraction's first WORDS·32 bits.
  const fraction = (pi - 3n * one) >> GUARD_BITS;
  const out = new Uint32Array(WORDS);
  let rest = fraction;
  for (let i = WORDS - 1; i >= 0; i--) {
    out[i] = Number(rest & 0xffffffffn);
    rest >>= 32n;
  }
  return out;
}
