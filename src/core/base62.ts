import { randomBytes } from 'node:crypto';

/** The base62 alphabet used in tokens: digits, upper case, lower case (no `-` or `_`, so a double click selects a whole token). */
export const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/**
 * `length` uniformly random base62 characters from `node:crypto` (rejection sampling:
 * bytes >= 248 are discarded so every character has probability exactly 1/62).
 * Entropy: log2(62) ≈ 5.954 bits per character.
 */
export function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    const bytes = randomBytes(Math.ceil((length - out.length) * 1.1) + 4);
    for (let i = 0; i < bytes.length && out.length < length; i++) {
      const b = bytes[i]!;
      if (b < 248) out += BASE62[b % 62];
    }
  }
  return out;
}

/** Encodes a non-negative integer below 2^53 as exactly `width` base62 characters, left-padded with `0`. */
export function encodeBase62Fixed(value: number, width: number): string {
  let out = '';
  let v = value;
  for (let i = 0; i < width; i++) {
    out = BASE62[v % 62] + out;
    v = Math.floor(v / 62);
  }
  return out;
}

/** Value of each base62 character by char code (-1: not base62). */
const BASE62_VALUE = (() => {
  const t = new Int8Array(128).fill(-1);
  for (let i = 0; i < BASE62.length; i++) t[BASE62.charCodeAt(i)] = i;
  return t;
})();

/**
 * The integer that `text.slice(start, end)` encodes in base62 (the inverse of {@link encodeBase62Fixed}),
 * without making the slice; NaN when a character is not base62. At most 8 characters (below 2^53).
 */
export function decodeBase62(text: string, start: number, end: number): number {
  let v = 0;
  for (let i = start; i < end; i++) {
    const d = BASE62_VALUE[text.charCodeAt(i)] ?? -1;
    if (d < 0) return Number.NaN;
    v = v * 62 + d;
  }
  return v;
}
