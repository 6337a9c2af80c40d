/** A verify variant: prepares its data on a connection and returns the operation to measure. */
import type { ClientKind, Connection } from './connection.js';

export interface VerifyVariant {
  /** Short stable name, used in figure names (e.g. `ours-renewal`). */
  name: string;
  title: string;
  /** Commands whose server time counts as this variant's (INFO commandstats names). */
  commands: readonly string[];
  /** Run only under these clients (default: every client); variants that use no Redis run once. */
  clients?: readonly ClientKind[];
  /** Sets up `users` users' worth of data and returns one operation (it rotates over them). */
  prepare(conn: Connection, users: number): Promise<() => Promise<unknown>>;
  /** Switched on around each of this variant's bursts (e.g. a tracing subscriber); returns the switch-off. */
  activate?: () => () => void;
}

/** The value the bare variants read: about the size of one token record today. */
export const RECORD_SIZED_VALUE = JSON.stringify({
  u: 'user-00042',
  k: 'k1',
  d: 'x'.repeat(43),
  c: 1767225600000,
  l: 1767225600000,
  e: 1768435200000,
});
