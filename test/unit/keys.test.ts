/**
 * The key encoding: user ids with `:`, `{`, `}`, `*`, spaces or any Unicode never collide, and the Lua
 * twin of `RedisKeys.indexKey` (and of the 0.1 `legacyUserKey`) (used inside the scripts) builds exactly the same names, checked on Redis.
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { LUA_USER_KEY, RedisKeys } from '../../src/stores/redis/keys.js';
import { normalizeUserId } from '../../src/core/user-id.js';
import { testRedis } from '../support/redis.js';

const keys = new RedisKeys('app:');
const redis = testRedis();
afterAll(() => redis.quit());

/** User ids as the API accepts them: well-formed Unicode, 1-256 code units, rich in key-syntax characters. */
const userIds = fc
  .oneof(
    fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }),
    fc.string({
      unit: fc.constantFrom(':', '{', '}', '*', ' ', '?', '[', ']', '\\', 'a', '1', 'é', '😀', '\u0000'),
      minLength: 1,
      maxLength: 20,
    }),
    fc.integer().map(String),
  )
  .filter((s) => s.length <= 256)
  .map((s) => normalizeUserId(s));

describe('Redis key encoding', () => {
  it('distinct user ids give distinct user keys (100,000 pairs)', () => {
    fc.assert(
      fc.property(userIds, userIds, (a, b) => {
        if (a === b) return keys.indexKey(a, '0123abcd') === keys.indexKey(b, '0123abcd');
        return keys.indexKey(a, '0123abcd') !== keys.indexKey(b, '0123abcd');
      }),
      { numRuns: 100_000 },
    );
  });

  it('the hash tag is always the user tag: no user id can move a key to another slot', () => {
    fc.assert(
      fc.property(userIds, (id) => {
        const k = keys.indexKey(id, '0123abcd');
        return (
          k.indexOf('{') === 'app:'.length &&
          k.slice(k.indexOf('{') + 1, k.indexOf('}')) === '0123abcd' &&
          !/[{}]/.test(k.slice(k.indexOf('}') + 1))
        );
      }),
      { numRuns: 20_000 },
    );
  });

  it("the scripts' Lua user_key builds the same names as RedisKeys.indexKey and legacyUserKey (300 ids, run on Redis)", async () => {
    const ids = [...fc.sample(userIds, 300), '😀'.repeat(128), '中'.repeat(256), 'x'.repeat(256)]; // the longest ids: 256 UTF-16 code units, up to 768 bytes
    const script = `${LUA_USER_KEY}\nlocal out = {}\nfor i = 2, #ARGV do out[#out + 1] = user_key(ARGV[1] .. ':i:', ARGV[i]) out[#out + 1] = user_key(ARGV[1] .. ':u:', ARGV[i]) end\nreturn out`;
    const fromLua = (await redis.eval(script, 0, keys.hashKey('0123abcd'), ...ids)) as string[];
    expect(fromLua).toEqual(ids.flatMap((id) => [keys.indexKey(id, '0123abcd'), keys.legacyUserKey(id, '0123abcd')]));
  });
});
