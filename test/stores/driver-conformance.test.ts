/**
 * The Redis driver conformance suite (redis-multitokens/testing) over every client of this run:
 * ioredis 6 and 5, node-redis 6 and 5 (test/support/redis-clients.ts), each case on a throwaway
 * redis-server of its own that it flushes, pauses, stops and restarts.
 */
import { describe, it } from 'vitest';
import { driverConformanceCases } from '../../src/testing/index.js';
import { clientKinds, driverFactory } from '../support/redis-clients.js';
import { hasRedisServerBinary } from '../support/redis-server.js';

for (const kind of clientKinds())
  describe.runIf(hasRedisServerBinary()).concurrent(`Driver conformance: ${kind.name}`, () => {
    for (const c of driverConformanceCases(driverFactory(kind))) it(c.name, c.run, c.timeoutMs);
  });
