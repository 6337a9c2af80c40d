import { InvalidArgumentTypeError, InvalidArgumentValueError } from '../../core/errors.js';

/** Default key prefix of the Redis store. */
export const DEFAULT_KEY_PREFIX = 'rmt:';

/**
 * The one place where Redis key names are built (the Lua scripts build user-index keys from the record's
 * user id with `LUA_USER_KEY`, which must stay in step with {@link RedisKeys.userKey}).
 *
 * Layout, for key prefix `P`, user tag `T` (8 hex digits, carried by every token of the user) and
 * user id `U` (hex of its UTF-8 bytes, so `:`, `{`, `}`, `*`, spaces and Unicode never collide):
 *
 * - `P{T}:t:<tokenId>`: STRING, one token record as JSON (digest, times, device); its key TTL is the token's expiry.
 * - `P{T}:u:<hex U>`: ZSET, the user's index: token id -> expiry in epoch ms (`+inf` = immortal).
 * - `P{T}:f:<tokenId>`: STRING, count of wrong secrets for that token id; expires with its window.
 * - `P{T}:j:<jtiHash>`: STRING, a DPoP proof `jti` (RFC 9449 §11.1) seen for a user with tag T; expires
 *   with the replay window.
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
      throw new InvalidArgumentValueError('keyPrefix must be at most 64 characters and must not contain `{` or `}` (they would change the hash slot)');
    this.prefix = prefix;
  }

  /** Prefix of the token record keys of the users with this tag: `P{T}:t:`. */
  tokenKeyPrefix(userTag: string): string {
    return `${this.prefix}{${userTag}}:t:`;
  }

  /** Key of one token record: `P{T}:t:<tokenId>` (the token id starts with the tag). */
  tokenKey(tokenId: string, userTag: string): string {
    return this.tokenKeyPrefix(userTag) + tokenId;
  }

  /** Key of the wrong-secret counter of one token id: `P{T}:f:<tokenId>`. */
  failureKey(tokenId: string, userTag: string): string {
    return `${this.prefix}{${userTag}}:f:${tokenId}`;
  }

  /** Key of a seen DPoP proof `jti` (its base64url SHA-256): `P{T}:j:<jtiHash>`, in the user's hash slot. */
  dpopJtiKey(jtiHash: string, userTag: string): string {
    return `${this.prefix}{${userTag}}:j:${jtiHash}`;
  }

  /** Prefix of the user index keys of the users with this tag: `P{T}:u:`. */
  userKeyPrefix(userTag: string): string {
    return `${this.prefix}{${userTag}}:u:`;
  }

  /**
   * SCAN `MATCH` pattern of every key of this layout under the prefix (`kind`: only token records,
   * user indexes or failure counters), the prefix's glob characters escaped. For the admin methods.
   */
  scanPattern(kind?: RedisKeyKind): string {
    const letter = kind === undefined ? '[tuf]' : KIND_LETTER[kind];
    return `${this.prefix.replace(/[*?[\]\\]/g, '\\$&')}{????????}:${letter}:*`;
  }

  /** What a key under this prefix is (see the layout above) and its user tag, or null for a key of another layout or prefix. */
  parse(key: string): {
    /** The key's kind, from its letter: `t` a token record, `u` a user index, `f` a wrong-secret counter. */
    kind: RedisKeyKind;
    /** The user tag `T` of its hash tag `{T}` (8 hex digits): the user's hash slot. */
    userTag: string;
  } | null {
    if (!key.startsWith(this.prefix)) return null;
    const m = /^\{([0-9a-f]{8})\}:([tuf]):./.exec(key.slice(this.prefix.length));
    return m ? { kind: LETTER_KIND[m[2]!]!, userTag: m[1]! } : null;
  }

  /**
   * The pub/sub channel where the removing scripts announce removed token ids (space-separated), for
   * every process's local verify cache: `Prevoked`. Its Lua twin is `publish_revoked` in scripts.ts.
   */
  revocationChannel(): string {
    return `${this.prefix}revoked`;
  }

  /** Key of one user's index: `P{T}:u:<hex of the user id's UTF-8 bytes>`. */
  userKey(userId: string, userTag: string): string {
    return this.userKeyPrefix(userTag) + Buffer.from(userId, 'utf8').toString('hex');
  }
}

/** The kinds of keys of the layout: token record, user index, wrong-secret counter. */
export type RedisKeyKind = 'token' | 'user' | 'failure';
const KIND_LETTER: Record<RedisKeyKind, string> = { token: 't', user: 'u', failure: 'f' };
const LETTER_KIND: Record<string, RedisKeyKind> = { t: 'token', u: 'user', f: 'failure' };

/**
 * Lua twin of {@link RedisKeys.userKey}: `user_key(user_key_prefix, user_id)`. One `string.format` over
 * the id's bytes (at most 768: 256 UTF-16 code units, 3 bytes each at most), not a function call per byte.
 */
export const LUA_USER_KEY = `
local function user_key(prefix, uid)
  return prefix .. string.format(string.rep('%02x', #uid), string.byte(uid, 1, -1))
end
`;
