import { decodeBase62, encodeBase62Fixed, randomBase62 } from './base62.js';
import { crc32 } from './crc32.js';

/**
 * The token format.
 *
 * ```text
 * rmt_ 1a2b3c4d 0Ab9...(16) 7fQz...(43) 0aZ9xY
 * └┬─┘ └──┬───┘ └────┬───┘ └─────┬─────┘ └─┬──┘
 * prefix  user tag  random id   secret     CRC-32 checksum (base62, 6 chars)
 *         └──────────┬──────┘
 *               token id (public, 24 chars)
 * ```
 *
 * - `rmt_`: fixed prefix, so secret scanners can find leaked tokens (as GitHub's `ghp_`).
 * - user tag: 8 hex digits of a keyed hash of the user id (see `KeyRing.userTag`). It lets a store find
 *   the user's partition (the Redis hash slot) from the token alone; it is the same for every token of
 *   one user, and reveals nothing about the user id without the server's secret.
 * - random id: 16 base62 characters (≈95 bits), so the token id is unique.
 * - secret: 43 base62 characters from `node:crypto` (≈256 bits). Never stored anywhere.
 * - checksum: CRC-32 of everything before it, 6 base62 characters; rejects typos before any I/O.
 *
 * Total length: {@link TOKEN_LENGTH} (77) characters, all ASCII letters, digits and one `_`.
 */
export const TOKEN_PREFIX = 'rmt_';
/** Length of the user tag (hex characters). */
export const USER_TAG_LENGTH = 8;
/** Length of the public token id: user tag + 16 base62 characters. */
export const TOKEN_ID_LENGTH = USER_TAG_LENGTH + 16;
/** Length of the secret part: 43 base62 characters ≈ 256 bits. */
export const SECRET_LENGTH = 43;
/** Length of the checksum: 6 base62 characters encoding a CRC-32. */
export const CHECKSUM_LENGTH = 6;
/** Total token length in characters (77). */
export const TOKEN_LENGTH = TOKEN_PREFIX.length + TOKEN_ID_LENGTH + SECRET_LENGTH + CHECKSUM_LENGTH;

const TOKEN_RE = /^rmt_[0-9a-f]{8}[0-9A-Za-z]{16}[0-9A-Za-z]{43}[0-9A-Za-z]{6}$/;
/** Length of everything the checksum covers (prefix, token id, secret). */
const BODY_LENGTH = TOKEN_LENGTH - CHECKSUM_LENGTH;
const TOKEN_ID_RE = /^[0-9a-f]{8}[0-9A-Za-z]{16}$/;

/** A token string split into its parts. Produced only by {@link parseToken} and `generateToken`. */
export interface ParsedToken {
  /** The whole token string (secret: never log or store it). */
  readonly token: string;
  /** Public token id (24 characters), safe to show and log. */
  readonly tokenId: string;
  /** The user tag (first 8 characters of the token id). */
  readonly userTag: string;
}

function checksumOf(body: string): string {
  return encodeBase62Fixed(crc32(body), CHECKSUM_LENGTH);
}

/** Makes a new random token carrying `userTag` (8 lower-case hex digits, from `KeyRing.userTag`). */
export function generateToken(userTag: string): ParsedToken {
  const tokenId = userTag + randomBase62(TOKEN_ID_LENGTH - USER_TAG_LENGTH);
  const body = TOKEN_PREFIX + tokenId + randomBase62(SECRET_LENGTH);
  return { token: body + checksumOf(body), tokenId, userTag };
}

/**
 * Parses a token string without any I/O. Returns `null` when the value is not a string, or has the
 * wrong prefix, length, alphabet or checksum. Runs in time linear in `min(length, 77)`: longer
 * strings are refused by their length first.
 */
export function parseToken(value: unknown): ParsedToken | null {
  if (typeof value !== 'string' || value.length !== TOKEN_LENGTH) return null;
  if (!TOKEN_RE.test(value)) return null;
  // The checksum decoded and compared as a number (the same test as encoding the CRC and comparing the
  // text, since 6 base62 digits encode each value below 62^6 once), and no slice of the body made.
  if (decodeBase62(value, BODY_LENGTH, TOKEN_LENGTH) !== crc32(value, BODY_LENGTH)) return null;
  const tokenId = value.slice(TOKEN_PREFIX.length, TOKEN_PREFIX.length + TOKEN_ID_LENGTH);
  return { token: value, tokenId, userTag: tokenId.slice(0, USER_TAG_LENGTH) };
}

/** True when `value` has the shape of a public token id (24 characters: 8 hex + 16 base62). */
export function isTokenId(value: unknown): value is string {
  return typeof value === 'string' && TOKEN_ID_RE.test(value);
}
