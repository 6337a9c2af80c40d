/**
 * OpenTelemetry for redis-multitokens, switched on in one line: `enableOpenTelemetry()`.
 *
 * It subscribes to the library's `diagnostics_channel` tracing channels (see `TOKEN_TRACING_CHANNELS`)
 * and turns each call of every `TokenManager` of the process into a span and metrics, through
 * `@opentelemetry/api` only: the app brings its own SDK (`@opentelemetry/sdk-node`, or the trace and
 * metrics SDKs) and registers it as usual; without one, the API's no-op providers make this free.
 *
 * @packageDocumentation
 */
import {
  SpanKind,
  SpanStatusCode,
  context as otelContext,
  metrics as otelMetrics,
  trace as otelTrace,
  type Attributes,
  type MeterProvider,
  type Span,
  type TracerProvider,
} from '@opentelemetry/api';
import { performance } from 'node:perf_hooks';
import { StoreUnavailableError } from '../core/errors.js';
import { subscribeTokenTracing, type TokenTraceContext } from '../core/tracing.js';

/** Instrumentation scope name of the tracer and meter (the npm package's name). */
export const INSTRUMENTATION_NAME = 'redis-multitokens';

/** Names of the metrics {@link enableOpenTelemetry} records (OpenTelemetry naming: dotted, no `_total`, units apart). */
export const METRICS = Object.freeze({
  /** Counter, unit `{verification}`: verify calls by `redis_multitokens.outcome` and `redis_multitokens.reason`. */
  verifications: 'redis_multitokens.verifications',
  /**
   * Histogram, unit `s` (SECONDS, as the OpenTelemetry semantic conventions measure durations, e.g.
   * `http.server.request.duration`): time of one verify call, by outcome and reason.
   */
  verifyDuration: 'redis_multitokens.verify.duration',
  /** Counter, unit `{token}`: tokens created. */
  tokensCreated: 'redis_multitokens.tokens.created',
  /** Counter, unit `{token}`: tokens revoked, by `redis_multitokens.operation` (create counts evictions). */
  tokensRevoked: 'redis_multitokens.tokens.revoked',
  /**
   * Counter, unit `{call}`: calls that failed because the store could not serve them
   * (`StoreUnavailableError` and its subclasses), by `redis_multitokens.operation` and `error.type`
   * (the error's `code`). Alert on its rate: every such call answered 503.
   */
  storeUnavailable: 'redis_multitokens.store.unavailable',
});

/** Attribute keys on spans and metrics. */
export const ATTRIBUTES = Object.freeze({
  /**
   * The `TokenManager` method (`create`, `verify`, `revoke`, `revokeById`, `revokeAll`, `revokeOthers`,
   * `list`): on every span, and on the `tokensRevoked` and `storeUnavailable` metrics.
   */
  operation: 'redis_multitokens.operation',
  /**
   * How the call ended (`TraceOutcome`): `ok`, `valid` / `invalid` (verify) or `error` (it threw). On
   * every span, and on the `verifications` and `verifyDuration` metrics.
   */
  outcome: 'redis_multitokens.outcome',
  /**
   * Why: for an invalid verify, `malformed`, `invalid`, `throttled` or a DPoP refusal (`dpop_required`...);
   * for an error, its `code`. On spans when there is one; on the verify metrics always (`''` for none).
   */
  reason: 'redis_multitokens.reason',
  /** The public token id (24 characters, safe to log), on spans when known; never on metrics (unbounded cardinality). */
  tokenId: 'redis_multitokens.token_id',
  /** Tokens the call revoked (create: those evicted past `maxTokensPerUser`; a revoke that found nothing: 0), on the spans of create and the revokes. */
  revokedCount: 'redis_multitokens.revoked_count',
  /** OpenTelemetry's `error.type` (semantic conventions): the error's `code`. */
  errorType: 'error.type',
  /** OpenTelemetry's `enduser.id`: only with `recordUserId: true`. */
  userId: 'enduser.id',
});

/**
 * Bucket boundaries of the verify histogram, in SECONDS: 50 µs to 2.5 s. A verify is one Redis round
 * trip (typically 0.1 to 2 milliseconds), so the default OpenTelemetry buckets (5 ms and up) would put
 * almost every call in the first one.
 */
export const VERIFY_DURATION_BUCKETS_SECONDS: readonly number[] = Object.freeze([
  0.00005, 0.0001, 0.00025, 0.0005, 0.00075, 0.001, 0.0025, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
]);

/** Options of {@link enableOpenTelemetry}. */
export interface OpenTelemetryOptions {
  /** Where spans go. Default: the global tracer provider (`trace.getTracerProvider()`). */
  tracerProvider?: TracerProvider;
  /** Where metrics go. Default: the global meter provider (`metrics.getMeterProvider()`). */
  meterProvider?: MeterProvider;
  /** Record a span per call (default true). */
  spans?: boolean;
  /** Record the metrics of {@link METRICS} (default true). */
  metrics?: boolean;
  /**
   * Put the user id on spans as `enduser.id` (default false: a user id is personal data in many apps;
   * the token id, public and safe to log, is always there). Never on metrics (unbounded cardinality).
   */
  recordUserId?: boolean;
}

const OPTIONS = ['tracerProvider', 'meterProvider', 'spans', 'metrics', 'recordUserId'];

/**
 * Switches OpenTelemetry spans and metrics on for every `TokenManager` of this process:
 * `enableOpenTelemetry()` after the SDK is registered. Returns the function that switches them off
 * (unsubscribes; nothing else is left behind). Calling it twice records everything twice.
 *
 * Spans: one per call, named `redis-multitokens <operation>` (`create`, `verify`, `revoke`, `revokeById`,
 * `revokeAll`, `revokeOthers`, `list`), kind INTERNAL, child of the span active when the call began;
 * attributes {@link ATTRIBUTES}. An invalid token is an outcome, not an error: its span's status stays
 * unset; a thrown error sets status ERROR, `error.type` and records the exception (whose message never
 * holds a token).
 *
 * @throws {TypeError} an unknown option or one of the wrong type.
 */
export function enableOpenTelemetry(options: OpenTelemetryOptions = {}): () => void {
  if (options === null || typeof options !== 'object')
    throw new TypeError('enableOpenTelemetry: options must be an object');
  for (const key of Object.keys(options))
    if (!OPTIONS.includes(key))
      throw new TypeError(`enableOpenTelemetry: unknown option "${key}" (known: ${OPTIONS.join(', ')})`);
  const wantSpans = options.spans ?? true;
  const wantMetrics = options.metrics ?? true;
  const recordUserId = options.recordUserId ?? false;
  const tracer = (options.tracerProvider ?? otelTrace.getTracerProvider()).getTracer(INSTRUMENTATION_NAME);
  const meter = (options.meterProvider ?? otelMetrics.getMeterProvider()).getMeter(INSTRUMENTATION_NAME);
  const verifications = meter.createCounter(METRICS.verifications, {
    unit: '{verification}',
    description: 'Token verifications, by outcome and reason.',
  });
  const verifyDuration = meter.createHistogram(METRICS.verifyDuration, {
    unit: 's',
    description: 'Duration of one token verification (one store round trip), in seconds.',
    advice: { explicitBucketBoundaries: [...VERIFY_DURATION_BUCKETS_SECONDS] },
  });
  const created = meter.createCounter(METRICS.tokensCreated, { unit: '{token}', description: 'Tokens created.' });
  const revoked = meter.createCounter(METRICS.tokensRevoked, {
    unit: '{token}',
    description: 'Tokens revoked, by operation (create: evicted past maxTokensPerUser).',
  });
  const storeUnavailable = meter.createCounter(METRICS.storeUnavailable, {
    unit: '{call}',
    description: 'Calls that failed because the token store was unavailable (answered 503).',
  });

  const calls = new WeakMap<TokenTraceContext, { span: Span | null; startedAtMs: number }>();
  const unsubscribe = subscribeTokenTracing({
    start(ctx) {
      const name = `${INSTRUMENTATION_NAME} ${ctx.operation}`;
      const span = wantSpans
        ? tracer.startSpan(
            name,
            { kind: SpanKind.INTERNAL, attributes: { [ATTRIBUTES.operation]: ctx.operation } },
            otelContext.active(),
          )
        : null;
      calls.set(ctx, { span, startedAtMs: performance.now() });
    },
    asyncEnd(ctx) {
      const call = calls.get(ctx);
      if (!call) return; // began before this subscription
      calls.delete(ctx);
      const seconds = (performance.now() - call.startedAtMs) / 1000;
      const failed = ctx.outcome === 'error';
      if (wantMetrics) record(ctx, seconds, failed);
      if (call.span) endSpan(call.span, ctx, failed);
    },
  });

  function record(ctx: TokenTraceContext, seconds: number, failed: boolean): void {
    const operation = ctx.operation;
    if (operation === 'verify') {
      const attributes: Attributes = {
        [ATTRIBUTES.outcome]: ctx.outcome ?? 'error',
        [ATTRIBUTES.reason]: ctx.reason ?? '',
      };
      verifications.add(1, attributes);
      verifyDuration.record(seconds, attributes);
    }
    if (failed) {
      if (ctx.error instanceof StoreUnavailableError)
        storeUnavailable.add(1, { [ATTRIBUTES.operation]: operation, [ATTRIBUTES.errorType]: ctx.reason ?? '' });
      return;
    }
    if (operation === 'create') created.add(1);
    if (ctx.revokedCount > 0) revoked.add(ctx.revokedCount, { [ATTRIBUTES.operation]: operation });
  }

  function endSpan(span: Span, ctx: TokenTraceContext, failed: boolean): void {
    const attributes: Attributes = { [ATTRIBUTES.outcome]: ctx.outcome ?? 'error' };
    if (ctx.reason !== null) attributes[ATTRIBUTES.reason] = ctx.reason;
    if (ctx.tokenId !== null) attributes[ATTRIBUTES.tokenId] = ctx.tokenId;
    if (ctx.operation !== 'verify' && ctx.operation !== 'list') attributes[ATTRIBUTES.revokedCount] = ctx.revokedCount;
    if (recordUserId && ctx.userId !== null) attributes[ATTRIBUTES.userId] = ctx.userId;
    if (failed) {
      attributes[ATTRIBUTES.errorType] = ctx.reason ?? 'ERR_UNEXPECTED';
      if (ctx.error instanceof Error) span.recordException(ctx.error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: ctx.reason ?? undefined });
    }
    span.setAttributes(attributes);
    span.end();
  }

  return unsubscribe;
}
