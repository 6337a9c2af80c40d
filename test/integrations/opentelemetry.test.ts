/**
 * `redis-multitokens/opentelemetry` with the real OpenTelemetry SDK (its in-memory span and metric
 * exporters) over a real Redis store: a span per operation with outcome, reason and token id (never the
 * token), a child of the caller's active span; verifications by outcome and reason, the verify duration
 * histogram in seconds, created / revoked tokens, store outages; switched off by the function returned.
 */
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  AggregationTemporality,
  DataPointType,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
  type DataPoint,
  type Histogram,
  type MetricData,
} from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { outageStore } from '../support/contract.js';
import { TokenManager } from '../../src/core/manager.js';
import { isTraced, tokenChannels } from '../../src/core/tracing.js';
import { ATTRIBUTES, METRICS, VERIFY_DURATION_BUCKETS_SECONDS, enableOpenTelemetry } from '../../src/opentelemetry.js';
import { IoredisStore } from '../../src/stores/redis/ioredis.js';
import { forgeSecret } from '../../src/testing/index.js';
import { TEST_SECRET, deletePrefix, testRedis, uniquePrefix } from '../support/redis.js';

const redis = testRedis();
const keyPrefix = uniquePrefix('otel');
const store = new IoredisStore({ client: redis, keyPrefix });
const contextManager = new AsyncLocalStorageContextManager().enable();
context.setGlobalContextManager(contextManager);
afterAll(async () => {
  context.disable();
  await deletePrefix(redis, keyPrefix);
  await redis.quit();
});

let spans: InMemorySpanExporter;
let tracerProvider: BasicTracerProvider;
let metricExporter: InMemoryMetricExporter;
let meterProvider: MeterProvider;
let disable: () => void;

beforeEach(() => {
  spans = new InMemorySpanExporter();
  tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
  metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  meterProvider = new MeterProvider({
    readers: [new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: 3_600_000 })],
  });
  disable = enableOpenTelemetry({ tracerProvider, meterProvider });
});
afterEach(async () => {
  disable();
  await tracerProvider.shutdown();
  await meterProvider.shutdown();
});

async function collected(): Promise<Map<string, MetricData>> {
  await meterProvider.forceFlush();
  const out = new Map<string, MetricData>();
  for (const rm of metricExporter.getMetrics())
    for (const sm of rm.scopeMetrics) for (const m of sm.metrics) out.set(m.descriptor.name, m);
  return out;
}
const points = (m: MetricData | undefined) => (m?.dataPoints ?? []) as DataPoint<unknown>[];
const sumOf = (m: MetricData | undefined, attrs: Record<string, string> = {}) =>
  points(m)
    .filter((p) => Object.entries(attrs).every(([k, v]) => p.attributes[k] === v))
    .reduce((s, p) => s + (p.value as number), 0);
const named = (op: string) => spans.getFinishedSpans().filter((s) => s.name === `redis-multitokens ${op}`);

describe('redis-multitokens/opentelemetry', () => {
  it('one span per operation, with outcome, reason and token id; no token or user id anywhere', async () => {
    const m = new TokenManager({ store, secret: TEST_SECRET, maxTokensPerUser: 2 });
    const a = await m.create('otel-user-1');
    const b = await m.create('otel-user-1');
    const c = await m.create('otel-user-1'); // evicts a
    await m.verify(b.token);
    await m.verify(forgeSecret(b.token));
    await m.verify('rmt_nonsense');
    await m.list('otel-user-1');
    await m.revoke(b.token);
    await m.revokeById('otel-user-1', c.tokenId);
    await m.revokeOthers('otel-user-1', c.tokenId);
    await m.revokeAll('otel-user-1');

    expect(named('create').map((s) => s.attributes)).toEqual([
      {
        [ATTRIBUTES.operation]: 'create',
        [ATTRIBUTES.outcome]: 'ok',
        [ATTRIBUTES.tokenId]: a.tokenId,
        [ATTRIBUTES.revokedCount]: 0,
      },
      {
        [ATTRIBUTES.operation]: 'create',
        [ATTRIBUTES.outcome]: 'ok',
        [ATTRIBUTES.tokenId]: b.tokenId,
        [ATTRIBUTES.revokedCount]: 0,
      },
      {
        [ATTRIBUTES.operation]: 'create',
        [ATTRIBUTES.outcome]: 'ok',
        [ATTRIBUTES.tokenId]: c.tokenId,
        [ATTRIBUTES.revokedCount]: 1,
      },
    ]);
    expect(named('verify').map((s) => s.attributes)).toEqual([
      { [ATTRIBUTES.operation]: 'verify', [ATTRIBUTES.outcome]: 'valid', [ATTRIBUTES.tokenId]: b.tokenId },
      {
        [ATTRIBUTES.operation]: 'verify',
        [ATTRIBUTES.outcome]: 'invalid',
        [ATTRIBUTES.reason]: 'invalid',
        [ATTRIBUTES.tokenId]: b.tokenId,
      },
      { [ATTRIBUTES.operation]: 'verify', [ATTRIBUTES.outcome]: 'invalid', [ATTRIBUTES.reason]: 'malformed' },
    ]);
    expect(named('verify').map((s) => s.status.code)).toEqual([0, 0, 0]); // an invalid token is an outcome, not an error
    expect(named('list')).toHaveLength(1);
    expect(named('revoke')[0]!.attributes).toMatchObject({
      [ATTRIBUTES.tokenId]: b.tokenId,
      [ATTRIBUTES.revokedCount]: 1,
    });
    expect(named('revokeById')[0]!.attributes).toMatchObject({
      [ATTRIBUTES.tokenId]: c.tokenId,
      [ATTRIBUTES.revokedCount]: 1,
    });
    expect(named('revokeOthers')[0]!.attributes).toMatchObject({ [ATTRIBUTES.revokedCount]: 0 });
    expect(named('revokeAll')[0]!.attributes).toMatchObject({ [ATTRIBUTES.revokedCount]: 0 });
    for (const s of spans.getFinishedSpans()) expect(s.instrumentationScope.name).toBe('redis-multitokens');

    const text = JSON.stringify(spans.getFinishedSpans().map((s) => [s.name, s.attributes, s.events]));
    for (const t of [a, b, c]) expect(text).not.toContain(t.token);
    expect(text).not.toContain('otel-user-1');
  });

  it("a span is a child of the caller's active span; recordUserId puts enduser.id on it", async () => {
    disable();
    disable = enableOpenTelemetry({ tracerProvider, meterProvider, recordUserId: true });
    const m = new TokenManager({ store, secret: TEST_SECRET });
    const parent = tracerProvider.getTracer('app').startSpan('GET /me');
    const { token } = await m.create('otel-user-2');
    await context.with(trace.setSpan(context.active(), parent), () => m.verify(token));
    parent.end();
    const verify = named('verify')[0]!;
    expect(verify.parentSpanContext?.spanId).toBe(parent.spanContext().spanId);
    expect(verify.spanContext().traceId).toBe(parent.spanContext().traceId);
    expect(verify.attributes[ATTRIBUTES.userId]).toBe('otel-user-2');
  });

  it('metrics: verifications by outcome and reason, the duration histogram in seconds, tokens created and revoked', async () => {
    const m = new TokenManager({ store, secret: TEST_SECRET, maxFailedVerifications: 2 });
    const { token } = await m.create('otel-user-3');
    await m.create('otel-user-3');
    for (let i = 0; i < 3; i++) await m.verify(token);
    for (let i = 0; i < 3; i++) await m.verify(forgeSecret(token)); // invalid, invalid, then throttled
    await m.verify('');
    await m.revokeAll('otel-user-3');

    const got = await collected();
    const v = got.get(METRICS.verifications);
    expect(v?.descriptor.unit).toBe('{verification}');
    expect(sumOf(v, { [ATTRIBUTES.outcome]: 'valid' })).toBe(3);
    expect(sumOf(v, { [ATTRIBUTES.outcome]: 'invalid', [ATTRIBUTES.reason]: 'invalid' })).toBe(2);
    expect(sumOf(v, { [ATTRIBUTES.outcome]: 'invalid', [ATTRIBUTES.reason]: 'throttled' })).toBe(1);
    expect(sumOf(v, { [ATTRIBUTES.outcome]: 'invalid', [ATTRIBUTES.reason]: 'malformed' })).toBe(1);

    const h = got.get(METRICS.verifyDuration)!;
    expect(h.descriptor.unit).toBe('s');
    expect(h.dataPointType).toBe(DataPointType.HISTOGRAM);
    const valid = points(h).find((p) => p.attributes[ATTRIBUTES.outcome] === 'valid')!.value as Histogram;
    expect(valid.count).toBe(3);
    expect(valid.buckets.boundaries).toEqual([...VERIFY_DURATION_BUCKETS_SECONDS]);
    // Seconds, not milliseconds: three Redis round trips on loopback take well under 3 s in all.
    expect(valid.sum).toBeGreaterThan(0);
    expect(valid.sum).toBeLessThan(3);

    expect(sumOf(got.get(METRICS.tokensCreated))).toBe(2);
    expect(sumOf(got.get(METRICS.tokensRevoked), { [ATTRIBUTES.operation]: 'revokeAll' })).toBe(2);
    expect(got.has(METRICS.storeUnavailable)).toBe(false);
  });

  it('a store outage: spans with status ERROR and error.type, the store-unavailable counter per operation', async () => {
    const down = await outageStore();
    const m = new TokenManager({ store: down, secret: TEST_SECRET });
    const { token } = await new TokenManager({ store, secret: TEST_SECRET }).create('otel-user-4');
    try {
      await expect(m.verify(token)).rejects.toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' });
      await expect(m.verify(token)).rejects.toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' });
      await expect(m.list('otel-user-4')).rejects.toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' });
    } finally {
      await down.close();
    }
    const failed = named('verify').filter((s) => s.attributes[ATTRIBUTES.outcome] === 'error');
    expect(failed).toHaveLength(2);
    expect(failed[0]!.status).toMatchObject({ code: 2, message: 'ERR_STORE_UNAVAILABLE' });
    expect(failed[0]!.attributes[ATTRIBUTES.errorType]).toBe('ERR_STORE_UNAVAILABLE');
    expect(failed[0]!.events.map((e) => e.name)).toEqual(['exception']);
    expect(JSON.stringify(failed.map((s) => s.events))).not.toContain(token);

    const got = await collected();
    const outages = got.get(METRICS.storeUnavailable);
    expect(sumOf(outages, { [ATTRIBUTES.operation]: 'verify', [ATTRIBUTES.errorType]: 'ERR_STORE_UNAVAILABLE' })).toBe(
      2,
    );
    expect(sumOf(outages, { [ATTRIBUTES.operation]: 'list' })).toBe(1);
    expect(
      sumOf(got.get(METRICS.verifications), {
        [ATTRIBUTES.outcome]: 'error',
        [ATTRIBUTES.reason]: 'ERR_STORE_UNAVAILABLE',
      }),
    ).toBe(2);
  });

  it('the returned function switches it off: no subscriber left, no span, no metric', async () => {
    expect(isTraced(tokenChannels.verify)).toBe(true);
    disable();
    expect(Object.values(tokenChannels).map(isTraced)).toEqual(Object.values(tokenChannels).map(() => false));
    const m = new TokenManager({ store, secret: TEST_SECRET });
    await m.verify((await m.create('otel-user-5')).token);
    expect(spans.getFinishedSpans()).toEqual([]);
    expect((await collected()).has(METRICS.verifications)).toBe(false);
  });

  it('refuses an unknown option by name', () => {
    expect(() => enableOpenTelemetry({ tracer: 1 } as never)).toThrow(/unknown option "tracer"/);
  });
});
