/**
 * The Redis driver conformance suite (redis-multitokens/testing) over the older major of each client:
 * ioredis 5 and node-redis 5 (test/support/redis-clients.ts), each case on a throwaway redis-server of
 * its own that it flushes, pauses, stops and restarts. The newest majors run in
 * driver-conformance.test.ts (a worker of their own).
 */
import { describe, it } from 'vitest';
import { driverConformanceCases } from '../../src/testing/index.js';
import { clientKinds, driverFactory } from '../support/redis-clients.js';
import { hasRedisServerBinary } from '../support/redis-server.js';

for (const kind of clientKinds().filter((k) => !k.newest))
  describe.runIf(hasRedisServerBinary()).concurrent(`Driver conformance: ${kind.name}`, () => {
    for (const c of driverConformanceCases(driverFactory(kind))) it(c.name, c.run, c.timeoutMs);
  });
