import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { InvalidArgumentTypeError, InvalidArgumentValueError } from './errors.js';

/** Smallest accepted secret, in bytes (256 bits, the output size of SHA-256; RFC 2104 §3 recommends at least that). */
export const MIN_SECRET_BYTES = 32;

/** One server secret of the key ring. `id` is stored beside each digest so the right key is used to check it. */
export interface SecretKey {
  /** Short public name of the key, 1–32 characters of `[A-Za-z0-9._-]`, e.g. `"2026-11"`. */
  id: string;
  /** The secret itself: at least 32 bytes (a string counts its UTF-8 bytes). */
  secret: string | Uint8Array;
}

/**
 * The `secret` option: one secret (its key id is `"k1"`), or a key ring whose FIRST entry signs new
 * tokens while every entry still verifies the tokens it signed. Rotate by putting a new key first;
 * remove an old key to invalidate exactly the tokens it signed.
 */
export type SecretOption = string | Uint8Array | readonly SecretKey[];

/** A key id and the HMAC-SHA-256 digest of a token under that key (base64url, 43 characters). */
export interface TokenDigest {
  /** Id of the ring key the digest was made with (`"k1"` for a single secret). */
  keyId: string;
  /** HMAC-SHA-256 of the token under that key, base64url (43 characters). */
  digest: string;
}

const KEY_ID_RE = /^[A-Za-z0-9._-]{1,32}$/;

/**
 * HMAC-SHA-256 key ring (RFC 2104). Redis only ever sees `HMAC(secret, token)`: a copy of Redis does
 * not let anyone log in, and write access to Redis without the secret does not let anyone forge a token.
 * The token is long and random, so no key stretching is needed (about 1 µs per digest).
 */
export class KeyRing {
  // ECMAScript private fields: util.inspect, console.log and JSON.stringify never show the secrets.
  readonly #keys: ReadonlyArray<{ id: string; secret: Buffer }>;
  readonly #tagKey: Buffer;

  /**
   * @param userTagSecret the key of {@link KeyRing.userTag}; required with a key ring (an array), optional
   *   with a single secret (which then serves, under a separate label).
   * @throws {InvalidArgumentTypeError} `secret` is missing or of the wrong type.
   * @throws {InvalidArgumentValueError} a secret shorter than 32 bytes, a bad or duplicate key id, an empty
   *   ring, a key ring without `userTagSecret`.
   */
  constructor(secret: SecretOption, userTagSecret?: string | Uint8Array) {
    const list: readonly SecretKey[] =
      typeof secret === 'string' || secret instanceof Uint8Array ? [{ id: 'k1', secret }] : secret;
    if (!Array.isArray(list))
      throw new InvalidArgumentTypeError(
        'secret must be a string, a Uint8Array, or an array of { id, secret } (the key ring); set the `secret` option',
      );
    if (list.length === 0) throw new InvalidArgumentValueError('secret: the key ring must hold at least one key');
    const seen = new Set<string>();
    this.#keys = list.map((k, i) => {
      if (!k || typeof k !== 'object')
        throw new InvalidArgumentTypeError(`secret[${i}] must be an object { id, secret }`);
      if (typeof k.id !== 'string' || !KEY_ID_RE.test(k.id))
        throw new InvalidArgumentValueError(`secret[${i}].id must be 1-32 characters of [A-Za-z0-9._-]`);
      if (seen.has(k.id)) throw new InvalidArgumentValueError(`secret: duplicate key id "${k.id}"`);
      seen.add(k.id);
      return { id: k.id, secret: secretBytes(list === secret ? `secret[${i}].secret` : 'secret', k.secret) };
    });
    if (userTagSecret !== undefined) this.#tagKey = secretBytes('userTagSecret', userTagSecret);
    else if (list !== secret) this.#tagKey = this.#keys[0]!.secret;
    else
      throw new InvalidArgumentValueError(
        'userTagSecret is required with a key ring: it must never change, or "log out everywhere" would miss older tokens. When moving from one secret to a key ring, set userTagSecret to that first secret',
      );
  }

  /**
   * The user tag of a normalised user id: the first 8 hex digits of HMAC-SHA-256(userTagSecret,
   * "user-tag:" + user id). Every token of the user carries it, so a store can find the user's partition
   * (Redis hash slot) from a token alone. Keyed, so a token id reveals nothing about the user id. It must
   * stay the same for the life of the tokens: that is why it has its own secret, apart from rotation.
   */
  userTag(userId: string): string {
    return createHmac('sha256', this.#tagKey).update(`user-tag:${userId}`, 'utf8').digest('hex').slice(0, 8);
  }

  /** What `util.inspect` shows: the key ids only. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `KeyRing { keyIds: [${this.#keys.map((k) => `'${k.id}'`).join(', ')}] }`;
  }

  /** Ids of every key of the ring, signing key first. */
  get keyIds(): string[] {
    return this.#keys.map((k) => k.id);
  }

  /** Id of the key that signs new tokens (the first of the ring). */
  get currentKeyId(): string {
    return this.#keys[0]!.id;
  }

  /** Digest of `token` under the current key (used when creating a token). */
  sign(token: string): TokenDigest {
    const k = this.#keys[0]!;
    return { keyId: k.id, digest: hmac(k.secret, token) };
  }

  /** Digests of `token` under every key of the ring (the store picks the one whose id it stored). */
  digestsOf(token: string): TokenDigest[] {
    return this.#keys.map((k) => ({ keyId: k.id, digest: hmac(k.secret, token) }));
  }
}

/** A secret option as bytes. @throws TypeError/RangeError naming `name` (not a string/bytes, under 32 bytes). */
function secretBytes(name: string, value: unknown): Buffer {
  let bytes: Buffer;
  if (typeof value === 'string') bytes = Buffer.from(value, 'utf8');
  else if (value instanceof Uint8Array) bytes = Buffer.from(value);
  else throw new InvalidArgumentTypeError(`${name} must be a string or a Uint8Array`);
  if (bytes.length < MIN_SECRET_BYTES)
    throw new InvalidArgumentValueError(
      `${name} must be at least ${MIN_SECRET_BYTES} bytes (got ${bytes.length}); generate one with: node -e "console.log(require('crypto').randomBytes(32).toString('base64url'))"`,
    );
  return bytes;
}

function hmac(key: Buffer, token: string): string {
  return createHmac('sha256', key).update(token, 'utf8').digest('base64url');
}

/**
 * Constant-time equality of two digests (or any two strings): both are hashed with SHA-256 first, so
 * the comparison takes the same time whatever their lengths and contents (after fastify-bearer-auth's
 * `compare`). Returns false, never throws, when either value is not a string.
 */
export function digestsEqual(a: unknown, b: unknown): boolean {
  if (typeof a !== 'string' || typeof b !== 'string') return false;
  const ha = createHash('sha256').update(a, 'utf8').digest();
  const hb = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(ha, hb) && a.length === b.length;
}
