/**
 * `redis-multitokens/testing`: the Store conformance suite, so any Store (yours too) can prove it keeps
 * the Store interface's rules, and the Redis driver conformance suite, so any `RedisDriver` can prove
 * it keeps the driver contract. Runner-agnostic: they use `node:assert` only.
 * @packageDocumentation
 */
export { storeConformanceCases, forgeSecret, type StoreFactory, type ConformanceCase } from './store-suite.js';
export { driverConformanceCases, type DriverFactory, type DriverTestServer, type DriverTestClient } from './driver-suite.js';
