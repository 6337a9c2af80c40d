/** The shapes shared by the runner and the scenarios. */
import type { Figure } from './stats.js';

/** `full`: the committed figures; `quick`: under 2 minutes in all; `tiny`: a smoke run for the test suite. */
export type Mode = 'full' | 'quick' | 'tiny';

/** What a scenario gets from the runner. */
export interface ScenarioContext {
  mode: Mode;
  /** URL of the harness's own, throwaway Redis (the scenario may FLUSHALL it). */
  redisUrl: string;
  /** Progress lines (stderr). */
  log: (line: string) => void;
}

/** What a scenario hands back: named figures and ratios (each a median with its spread), and notes. */
export interface ScenarioResult {
  /** Named figures, e.g. `c50.ours-ioredis.opsPerSec`. */
  figures: Record<string, Figure>;
  /** Named per-pair ratios, e.g. `c50.ours-ioredis/evalsha-ioredis.opsPerSec` (unit 'x'). */
  ratios: Record<string, Figure>;
  /** Parameters actually used (token counts, durations, connections...). */
  params: Record<string, unknown>;
  /** Variants listed by the issue that do not exist yet (reported as such, never faked). */
  notBuilt: string[];
  /** Anything a reader needs to interpret the figures. */
  notes: string[];
}

/** A scenario module's default export. */
export interface Scenario {
  name: string;
  /** One line: what is compared. */
  title: string;
  run(ctx: ScenarioContext): Promise<ScenarioResult>;
}

/** A value per mode. */
export function byMode<T>(mode: Mode, values: Record<Mode, T>): T {
  return values[mode];
}

/** An empty result to fill in. */
export function emptyResult(): ScenarioResult {
  return { figures: {}, ratios: {}, params: {}, notBuilt: [], notes: [] };
}
