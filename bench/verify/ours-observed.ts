/**
 * Variants: `ours` (our verify, no write due) with someone listening on the `redis-multitokens:verify`
 * tracing channel, to measure what the tracing costs when it is on; `ours` itself is the same verify
 * with nobody listening (the zero-cost claim: one `hasSubscribers` read per call).
 * `ours-traced`: one subscriber doing nothing on every event (what any subscriber pays for at least).
 * `ours-otel`: `enableOpenTelemetry()` with the real SDK: a tracer provider with a batch span processor
 * over an exporter that drops the spans, a meter provider with a reader that never exports (the
 * instruments still aggregate on every call).
 * The subscribers are switched on only around these variants' own bursts (`activate`): the channels are
 * global to the process, and the other variants run interleaved with them.
 */
import { BasicTracerProvider, BatchSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import {
  InMemoryMetricExporter,
  AggregationTemporality,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import { subscribeTokenTracing } from 'redis-multitokens';
import { enableOpenTelemetry } from 'redis-multitokens/opentelemetry';
import { oursNoWrite } from './ours.js';
import type { VerifyVariant } from './variant.js';

const nothing = () => {};

export const oursTraced: VerifyVariant = {
  ...oursNoWrite,
  name: 'ours-traced',
  title: 'our verify, no write due, with a do-nothing subscriber on the verify tracing channel',
  activate: () =>
    subscribeTokenTracing({ start: nothing, end: nothing, asyncStart: nothing, asyncEnd: nothing, error: nothing }, [
      'verify',
    ]),
};

const dropSpans: SpanExporter = { export: (_spans, done) => done({ code: 0 }), shutdown: async () => {} };

export const oursOtel: VerifyVariant = {
  ...oursNoWrite,
  name: 'ours-otel',
  title:
    'our verify, no write due, with enableOpenTelemetry() on the OpenTelemetry SDK (spans batched and dropped, metrics aggregated)',
  activate() {
    const tracerProvider = new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(dropSpans)] });
    const reader = new PeriodicExportingMetricReader({
      exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE),
      exportIntervalMillis: 3_600_000,
    });
    const meterProvider = new MeterProvider({ readers: [reader] });
    const disable = enableOpenTelemetry({ tracerProvider, meterProvider });
    return () => {
      disable();
      void tracerProvider.shutdown();
      void meterProvider.shutdown();
    };
  },
};
