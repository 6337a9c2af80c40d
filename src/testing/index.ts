/**
 * `redis-multitokens/testing`: the Store conformance suite, so any Store (yours too) can prove it keeps
 * the Store interface's rules; the Redis driver conformance suite, so any `RedisDriver` can prove it
 * keeps the driver contract; and the HTTP contract suite, so any framework adapter can prove it gives
 * the same answers as the others. Runner-agnostic: they use `node:assert` (and `node:http`) only.
 * @packageDocumentation
 */
export { storeConformanceCases, forgeSecret, type StoreFactory, type ConformanceCase } from './store-suite.js';
export {
  driverConformanceCases,
  type DriverFactory,
  type DriverTestServer,
  type DriverTestClient,
} from './driver-suite.js';
export {
  httpContractCases,
  sendRequest,
  type HttpAdapterHarness,
  type HttpContractApp,
  type HttpContractStores,
  type ContractReply,
} from './http-suite.js';
export { DpopClient, type DpopProofOverrides } from './dpop-client.js';
