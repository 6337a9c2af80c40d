/**
 * Scenario `memory`: Redis bytes per token, from the growth of INFO `used_memory` after N tokens are
 * created on an empty Redis (records, user indexes and Redis's per-key overhead all counted), for 1 and
 * 10 devices per user, without and with ~100 B of device details. Beside it, MEMORY USAGE of one
 * record and one user index, and the index's encoding.
 */
import { Redis } from 'ioredis';
import { usedMemory } from '../lib/redis.js';
import { figure } from '../lib/stats.js';
import { byMode, emptyResult, type Scenario } from '../lib/types.js';
import { DEVICE_DETAILS, oursFiller } from './ours.js';

const scenario: Scenario = {
  name: 'memory',
  title:
    'Redis bytes per token (used_memory growth), 1 and 10 devices per user, without and with ~100 B of device details',
  async run(ctx) {
    const result = emptyResult();
    const tokens = byMode(ctx.mode, { full: 100_000, quick: 10_000, tiny: 200 });
    const rounds = byMode(ctx.mode, { full: 1, quick: 1, tiny: 1 });
    const detailBytes = Buffer.byteLength(DEVICE_DETAILS.deviceName + DEVICE_DETAILS.userAgent + DEVICE_DETAILS.ip);
    result.params = {
      tokens,
      rounds,
      detailBytes,
      layout:
        '0.2: one HASH per user tag of compact text records (pieces of <= 64 B), a ZSET index only past 32 tokens',
      redisSettings: 'defaults (hash-max-listpack-*, zset-max-listpack-*)',
    };
    const admin = new Redis(ctx.redisUrl);
    const filler = oursFiller(ctx.redisUrl);
    try {
      for (const devices of [1, 10])
        for (const details of [false, true]) {
          const name = `devices${devices}.${details ? 'details' : 'bare'}`;
          const perToken: number[] = [];
          const recordBytes: number[] = [];
          const indexBytes: number[] = [];
          for (let r = 0; r < rounds; r++) {
            await admin.flushall();
            await admin.call('MEMORY', 'PURGE').catch(() => undefined);
            const before = await usedMemory(admin);
            const userPrefix = `mem-${devices}-${details ? 'd' : 'b'}-${r}-`;
            await filler.fill({ tokens, devicesPerUser: devices, details, inFlight: 64, userPrefix });
            perToken.push(((await usedMemory(admin)) - before) / tokens);
            const keys = await filler.keysOfOneUser(userPrefix);
            recordBytes.push(Number(await admin.call('MEMORY', 'USAGE', keys.record, 'SAMPLES', '0')) / devices);
            indexBytes.push(Number((await admin.call('MEMORY', 'USAGE', keys.index, 'SAMPLES', '0')) ?? 0) / devices);
            result.params[`${name}.hashEncoding`] = await admin.object('ENCODING', keys.record);
            result.params[`${name}.hashFields`] = await admin.hlen(keys.record);
          }
          result.figures[`${name}.bytesPerToken`] = figure(perToken, 'B');
          result.figures[`${name}.recordKeyBytes`] = figure(recordBytes, 'B');
          result.figures[`${name}.indexBytesPerToken`] = figure(indexBytes, 'B');
          ctx.log(`memory ${name}: ${Math.round(perToken[0]!)} B per token`);
        }
      await admin.flushall();
    } finally {
      await filler.close();
      await admin.quit();
    }
    result.notes.push(
      "bytesPerToken: (used_memory after − before) ÷ tokens, on an emptied Redis; recordKeyBytes: MEMORY USAGE of one user's hash ÷ its devices (key, records, TTL, dict entry); indexBytesPerToken: MEMORY USAGE of one user index ÷ its devices (0: none below 33 tokens).",
      'used_memory counts allocator size classes and dict growth: at small N it moves in steps (a dict resize), so compare at the same N.',
    );
    return result;
  },
};
export default scenario;
