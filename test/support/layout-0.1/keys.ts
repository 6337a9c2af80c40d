/** Fixture: the 0.1 key builders (src/stores/redis/keys.ts at e5a1241), to write tokens in the 0.1 layout in upgrade tests. */
import { InvalidArgumentTypeError, InvalidArgumentValueError } from '../../../src/core/errors.js';

/** Default key prefix of the Redis store. */
export const DEFAULT_KEY_PREFIX = 'rmt:';

/**
 * The one place where Redis key names are built (the Lua scripts build user-index keys from the record's
 * user id with {@link LUA_USER_KEY}, which must stay in step with {@link RedisKeys.userKey}).
 *
 * Layout, for key prefix `P`, user tag `T` (8 hex digits, carried by every token of the user) and
 * user id `U` (hex of its UTF-8 bytes, so `:`, `{`, `}`, `*`, spaces and Unicode never collide):
 *
 * - `P{T}:t:<tokenId>`: STRING, one token record as JSON (digest, times, device); its key TTL is the token's expiry.
 * - `P{T}:u:<hex U>`: ZSET, the user's index: token id -> expiry in epoch ms (`+inf` = immortal).
 * - `P{T}:f:<tokenId>`: STRING, count of wrong secrets for that token id; expires with its window.
 *
 * Everything of one user sits in hash slot `{T}`, so every script touches one slot (Redis Cluster safe).
 */
export class RedisKeys {
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

  /** Prefix of the user index keys of the users with this tag: `P{T}:u:`. */
  userKeyPrefix(userTag: string): string {
    return `${this.prefix}{${userTag}}:u:`;
  }

  /** Key of one user's index: `P{T}:u:<hex of the user id's UTF-8 bytes>`. */
  userKey(userId: string, userTag: string): string {
    return this.userKeyPrefix(userTag) + Buffer.from(userId, 'utf8').toString('hex');
  }
}

/**
 * Lua twin of {@link RedisKeys.userKey}: `user_key(user_key_prefix, user_id)`. One `string.format` over
 * the id's bytes (at most 768: 256 UTF-16 code units, 3 bytes each at most), not a function call per byte.
 */
export const LUA_USER_KEY = `
local function user_key(prefix, uid)
  return prefix .. string.format(string.rep('%02x', #uid), string.byte(uid, 1, -1))
end
`;
