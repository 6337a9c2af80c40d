/**
 * The drivers' hash-slot function (which primary serves a key, for the per-primary eviction-policy
 * check) agrees with cluster-key-slot, which ioredis and node-redis route by, on every key shape the
 * store makes, and with Redis itself on the hash-tag edge cases.
 */
import calculateSlot from 'cluster-key-slot';
import { describe, expect, it } from 'vitest';
import { hashSlot } from '../../src/stores/redis/driver.js';
import { RedisKeys } from '../../src/stores/redis/keys.js';

describe('hashSlot', () => {
  it('matches cluster-key-slot on plain keys, hash tags and the store keys', () => {
    const keys = [
      '',
      'a',
      'foo',
      '123456789',
      '{user1000}.following',
      'foo{{bar}}zap',
      'foo{bar}{zap}',
      '{}',
      'héllo{wörld}',
      '日本語',
    ];
    const k = new RedisKeys('myapp:tokens:');
    for (let i = 0; i < 500; i++) {
      const tag = ((i * 2654435761) >>> 0).toString(16).padStart(8, '0');
      keys.push(
        k.hashKey(tag),
        k.indexKey(`user-${i}`, tag),
        k.legacyTokenKey(`tok${i}`, tag),
        k.legacyUserKey(`user-${i}`, tag),
        k.legacyFailureKey(`tok${i}`, tag),
      );
    }
    for (const key of keys) expect(hashSlot(key), key).toBe(calculateSlot(key));
    expect(hashSlot('123456789')).toBe(0x31c3); // the CRC16/XMODEM check value
  });

  it('hashes the whole key when the first tag is empty, as Redis does (CLUSTER KEYSLOT foo{}{bar} = 8363 on Redis 7.0)', () => {
    expect(hashSlot('foo{}{bar}')).toBe(8363); // cluster-key-slot says 4015 here; the store never makes such a key
  });
});
