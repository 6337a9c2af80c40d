/**
 * Small statistics for interleaved benchmark rounds: medians and spreads of per-round figures, and
 * per-pair ratios (round i of A over round i of B, so a slow moment of the shared machine hits both).
 */

/** One named figure over the rounds of a run: its median, its spread (min..max) and the rounds it comes from. */
export interface Figure {
  /** Median over the rounds. */
  median: number;
  /** Smallest round. */
  min: number;
  /** Largest round. */
  max: number;
  /** Number of rounds. */
  n: number;
  /** Unit, spelt out: 'ops/s', 'µs', 'B', 'x'... */
  unit: string;
  /** Every round's value, in run order. */
  rounds: number[];
}

/** The median of `values` (mean of the two middle ones for an even count); NaN for none. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** The `q` quantile (0..1) of sorted values, nearest rank. */
export function quantileSorted(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** A {@link Figure} from per-round values. */
export function figure(rounds: readonly number[], unit: string): Figure {
  const finite = rounds.filter((v) => Number.isFinite(v));
  return {
    median: median(finite),
    min: finite.length ? Math.min(...finite) : Number.NaN,
    max: finite.length ? Math.max(...finite) : Number.NaN,
    n: finite.length,
    unit,
    rounds: [...rounds],
  };
}

/** Per-pair ratios `a[i] / b[i]` as a {@link Figure} (unit 'x'). */
export function pairedRatio(a: readonly number[], b: readonly number[]): Figure {
  const n = Math.min(a.length, b.length);
  return figure(
    Array.from({ length: n }, (_, i) => a[i]! / b[i]!),
    'x',
  );
}

/** Spread of a figure as a percentage of its median: (max - min) / median. */
export function spreadPct(f: Figure): number {
  return f.median === 0 ? 0 : (100 * (f.max - f.min)) / Math.abs(f.median);
}
