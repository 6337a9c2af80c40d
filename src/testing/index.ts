/**
 * `redis-multitokens/testing`: the Store conformance suite, so any Store (yours too) can prove it keeps
 * the Store interface's rules. Runner-agnostic: it uses `node:assert` only.
 * @packageDocumentation
 */
export { storeConformanceCases, forgeSecret, type StoreFactory, type ConformanceCase } from './store-suite.js';
