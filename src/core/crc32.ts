/**
 * CRC-32 (IEEE 802.3, the polynomial of zlib and of GitHub's token checksums) of an ASCII string.
 * Used only as the token's checksum, so that typos and truncations are rejected before any I/O
 * and secret scanners can tell a real token from a look-alike. Not a security mechanism.
 */
const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 of the char codes of `text` (callers pass ASCII only), or of its first `length` of them, as an unsigned 32-bit integer. */
export function crc32(text: string, length: number = text.length): number {
  let crc = 0xffffffff;
  for (let i = 0; i < length; i++) crc = TABLE[(crc ^ text.charCodeAt(i)) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
