import { InvalidArgumentTypeError, InvalidArgumentValueError } from '../../core/errors.js';

/** Default key prefix of the Redis store. */
export const DEFAULT_KEY_PREFIX = 'rmt:';

/**
 * The one place where Redis key names are built (the Lua scripts build a user's index key from the
 * hash key and the record's user id with `LUA_USER_KEY`, which must stay in step with
 * {@link RedisKeys.indexKey}; test/unit/keys.test.ts checks both on Redis).
 *
 * Layout (0.2), for key prefix `P`, user tag `T` (8 hex digits, carried by every token of the user) and
 * user id `U` (hex of its UTF-8 bytes, so `:`, `{`, `}`, `*`, spaces and Unicode never collide):
 *
 * - `P{T}`: HASH, every token of the users with tag `T` (almost always one user): field = the token id
 *   without its tag (16 characters), value = one compact record (see the header of scripts.ts), split
 *   in pieces of at most 63 bytes while the hash is small (their fields: small whole numbers that the
 *   record's first piece names), so it keeps Redis's compact listpack encoding under the default
 *   `hash-max-listpack-value 64`. The record carries the
 *   user id (tags of two users may collide: every script checks it) and the token's wrong-secret count.
 *   The key's TTL covers its longest-lived record (no TTL while one is immortal). A hash that has held
 *   live records of two users at once (their tags collide) also has the field `shared` (value `1`): the
 *   mark that keeps `revokeAll` from deleting the hash whole (see REVOKE_ALL in scripts.ts).
 * - `P{T}:i:<hex U>`: ZSET, only for a user holding more than 32 tokens: token id (16 characters) ->
 *   expiry in epoch ms (immortal tokens: 10^15 + last use in ms, so they sort last, by last use). It
 *   keeps create at the device limit, pruning and revoke-all bounded for users with many devices.
 * - `P{T}:j:<jtiHash>`: STRING, a DPoP proof `jti` (RFC 9449 §11.1) seen for a user with tag T; expires
 *   with the replay window.
 *
 * The 0.1 layout (`P{T}:t:<tokenId>` records, `P{T}:u:<hex U>` indexes, `P{T}:f:<tokenId>` counters)
 * is still read: see {@link RedisKeys.legacyUserKey} and the CHANGELOG (0.2) for the upgrade.
 *
 * Everything of one user sits in hash slot `{T}`, so every script touches one slot (Redis Cluster safe).
 */
export class RedisKeys {
  /** The key prefix every key starts with (default `"rmt:"`). */
  readonly prefix: string;

  /** @throws {InvalidArgumentTypeError | InvalidArgumentValueError} a prefix that is not a string of 0-64 characters without `{` or `}`. */
  constructor(prefix: unknown = DEFAULT_KEY_PREFIX) {
    if (typeof prefix !== 'string') throw new InvalidArgumentTypeError('keyPrefix must be a string');
    if (prefix.length > 64 || /[{}]/.test(prefix))
      throw new InvalidArgumentValueError(
        'keyPrefix must be at most 64 characters and must not contain `{` or `}` (they would change the hash slot)',
      );
    this.prefix = prefix;
  }

  /** Key of the hash holding every token of the users with this tag: `P{T}`. */
  hashKey(userTag: string): string {
    return `${this.prefix}{${userTag}}`;
  }

  /** Field of one token in {@link RedisKeys.hashKey}: the token id without its 8-character tag. */
  field(tokenId: string): string {
    return tokenId.slice(8);
  }

  /** Key of one user's index (only users with more than 32 tokens have one): `P{T}:i:<hex of the user id's UTF-8 bytes>`. */
  indexKey(userId: string, userTag: string): string {
    return `${this.hashKey(userTag)}:i:${hexOf(userId)}`;
  }

  /** Key of a seen DPoP proof `jti` (its base64url SHA-256): `P{T}:j:<jtiHash>`, in the user's hash slot. */
  dpopJtiKey(jtiHash: string, userTag: string): string {
    return `${this.prefix}{${userTag}}:j:${jtiHash}`;
  }

  /**
   * SCAN `MATCH` pattern of the keys of one kind under the prefix (none: every key with a user tag,
   * which {@link RedisKeys.parse} sorts out), the prefix's glob characters escaped. For the admin methods.
   */
  scanPattern(kind?: RedisKeyKind): string {
    const base = `${this.prefix.replace(/[*?[\]\\]/g, '\\$&')}{????????}`;
    if (kind === undefined) return `${base}*`;
    if (kind === 'hash') return base;
    return `${base}:${KIND_LETTER[kind]}:*`;
  }

  /** What a key under this prefix is (see the layout above) and its user tag, or null for a key of another kind or prefix. */
  parse(key: string): {
    /** What the key holds. */
    kind: RedisKeyKind;
    /** The user tag `T` of its hash tag `{T}` (8 hex digits): the user's hash slot. */
    userTag: string;
  } | null {
    if (!key.startsWith(this.prefix)) return null;
    const m = /^\{([0-9a-f]{8})\}(?::([ituf]):.)?/.exec(key.slice(this.prefix.length));
    if (!m) return null;
    if (m[2] === undefined) return key.length === this.prefix.length + 10 ? { kind: 'hash', userTag: m[1]! } : null;
    return { kind: LETTER_KIND[m[2]]!, userTag: m[1]! };
  }

  /**
   * The pub/sub channel where the removing scripts announce removed token ids (space-separated), for
   * every process's local verify cache: `Prevoked`. Its Lua twin is `publish_revoked` in scripts.ts.
   */
  revocationChannel(): string {
    return `${this.prefix}revoked`;
  }

  /** 0.1 layout: key of one token record, `P{T}:t:<tokenId>` (read until those tokens expire). */
  legacyTokenKey(tokenId: string, userTag: string): string {
    return `${this.hashKey(userTag)}:t:${tokenId}`;
  }

  /** 0.1 layout: key of one user's index, `P{T}:u:<hex U>`. */
  legacyUserKey(userId: string, userTag: string): string {
    return `${this.hashKey(userTag)}:u:${hexOf(userId)}`;
  }

  /** 0.1 layout: key of one token id's wrong-secret counter, `P{T}:f:<tokenId>`. */
  legacyFailureKey(tokenId: string, userTag: string): string {
    return `${this.hashKey(userTag)}:f:${tokenId}`;
  }
}

/**
 * The kinds of keys of the layout: `hash` (a user tag's token records), `index` (a user's index past
 * 32 tokens); and of the 0.1 layout, still read: `token` record, `user` index, `failure` counter.
 */
export type RedisKeyKind = 'hash' | 'index' | 'token' | 'user' | 'failure';
const KIND_LETTER: Record<Exclude<RedisKeyKind, 'hash'>, string> = { index: 'i', token: 't', user: 'u', failure: 'f' };
const LETTER_KIND: Record<string, RedisKeyKind> = { i: 'index', t: 'token', u: 'user', f: 'failure' };

function hexOf(userId: string): string {
  return Buffer.from(userId, 'utf8').toString('hex');
}

/**
 * Lua twin of the hex part of {@link RedisKeys.indexKey} and {@link RedisKeys.legacyUserKey}:
 * `user_key(prefix, user_id)`. One `string.format` over the id's bytes (at most 768: 256 UTF-16 code
 * units, 3 bytes each at most), not a function call per byte.
 */
export const LUA_USER_KEY = `
local function user_key(prefix, uid)
  return prefix .. string.format(string.rep('%02x', #uid), string.byte(uid, 1, -1))
end
`;
