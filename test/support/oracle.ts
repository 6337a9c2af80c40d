/**
 * A test oracle of the token checksum, written from the documented format with node:zlib's CRC-32 (not
 * the library's code), so tests can build well-formed tokens independently of the implementation.
 */
import { crc32 as zlibCrc32 } from 'node:zlib';

export const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** The 6 base62 characters of CRC-32(body), most significant first. */
export function oracleChecksum(body: string): string {
  let v = zlibCrc32(body) >>> 0;
  let out = '';
  for (let i = 0; i < 6; i++) {
    out = BASE62[v % 62] + out;
    v = Math.floor(v / 62);
  }
  return out;
}
