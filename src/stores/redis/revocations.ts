import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { InvalidArgumentValueError } from '../../core/errors.js';
import type { RevocationListener, RevocationWatch, RevocationWatchOptions } from '../../core/store.js';
import type { RedisDriver } from './driver.js';

/** Most heartbeats awaited at once; older ones are forgotten (they can only make `syncedAtMs` older). */
const MAX_PENDING_HEARTBEATS = 64;

/**
 * The Redis store's {@link RevocationWatch}: a subscription to `channel` (where the removing scripts
 * PUBLISH the removed token ids, space-separated; see `publish_revoked` in scripts.ts) plus a heartbeat
 * this process PUBLISHes to itself on every primary each `heartbeatIntervalMs` milliseconds (a message
 * `~<nonce>:<n>`, which no token id can start with).
 *
 * Why the heartbeat bounds what was missed: Redis delivers the messages one primary publishes to one
 * subscriber in the order it ran them (on a cluster, through the ordered bus link from that primary).
 * When the heartbeat sent at local time `s` has come back from every primary, every removal that ran
 * before `s` was announced before it, and so has been delivered: `syncedAtMs()` returns the latest such
 * `s` (monotonic clock, `performance.now()`). On a lost subscription (as the driver reports it) the
 * listener is `reset()` and `syncedAtMs()` is `-Infinity` until a heartbeat sent after the new
 * subscription returns; a silent loss shows as heartbeats that stop coming back.
 *
 * @throws {InvalidArgumentValueError} the driver has no `subscribe` / `publish` (a driver of a third party).
 */
export function watchRedisRevocations(
  driver: RedisDriver,
  channel: string,
  listener: RevocationListener,
  options: RevocationWatchOptions,
): RevocationWatch {
  const { subscribe, publish } = driver;
  if (typeof subscribe !== 'function' || typeof publish !== 'function')
    throw new InvalidArgumentValueError(
      `verifyCache: the ${driver.name} driver cannot subscribe to pub/sub (RedisDriver.subscribe and publish), which the cache needs to hear of revocations`,
    );
  const prefix = `~${randomBytes(6).toString('base64url')}:`;
  let seq = 0;
  let synced = -Infinity;
  let subscribed = false;
  let stopped = false;
  /** Heartbeats sent and not yet back from every primary: copies seen, copies expected (-1 until PUBLISH answers). */
  const pending = new Map<number, { sentAtMs: number; got: number; expected: number }>();
  const settle = (n: number) => {
    const p = pending.get(n);
    if (!p || p.expected < 0 || p.got < p.expected) return;
    if (subscribed && p.sentAtMs > synced) synced = p.sentAtMs;
    for (const k of pending.keys()) if (k <= n) pending.delete(k);
  };
  const beat = () => {
    if (!subscribed || stopped || driver.state() !== 'ready') return;
    const n = ++seq;
    pending.set(n, { sentAtMs: performance.now(), got: 0, expected: -1 });
    if (pending.size > MAX_PENDING_HEARTBEATS) pending.delete(pending.keys().next().value!);
    publish.call(driver, channel, prefix + n).then(
      (count) => {
        const p = pending.get(n);
        if (!p) return;
        p.expected = count;
        settle(n);
      },
      () => pending.delete(n),
    );
  };
  const unsubscribe = subscribe.call(driver, channel, {
    message(text) {
      if (text.charCodeAt(0) === 126 /* ~ */) {
        if (!text.startsWith(prefix)) return; // another process's heartbeat
        const n = Number(text.slice(prefix.length));
        const p = pending.get(n);
        if (p) {
          p.got++;
          settle(n);
        }
        return;
      }
      listener.revoked(text.split(' '));
    },
    state(up) {
      subscribed = up;
      synced = -Infinity;
      pending.clear();
      listener.reset();
      if (up) beat();
    },
  });
  const timer = setInterval(beat, options.heartbeatIntervalMs);
  timer.unref();
  return {
    syncedAtMs: () => synced,
    async close() {
      if (stopped) return;
      stopped = true;
      subscribed = false;
      synced = -Infinity;
      clearInterval(timer);
      pending.clear();
      await unsubscribe();
    },
  };
}
