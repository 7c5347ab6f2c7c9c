/**
 * Pure helpers for interleaved benchmark runs (bench/end_to_end.ts,
 * bench/train_step.ts). On a shared machine the load changes during a run;
 * measuring A, B, C, A, B, C ... and comparing medians (and round i of A with
 * round i of B) lets a load change hit every side alike instead of favouring
 * whichever ran in the quiet minute. Kept free of tfjs and of the clock so
 * test/bench/interleave.test.ts can check them on fixed numbers.
 */

/** One run of an interleaved schedule: round (0-based) and variant. */
export interface ScheduledRun<T> {
  round: number;
  variant: T;
}

/** A, B, C, A, B, C ...: every variant once per round, in the given order, `rounds` times. */
export function interleavedOrder<T>(variants: readonly T[], rounds: number): Array<ScheduledRun<T>> {
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`rounds must be a positive integer, got ${rounds}`);
  const order: Array<ScheduledRun<T>> = [];
  for (let round = 0; round < rounds; round++) for (const variant of variants) order.push({ round, variant });
  return order;
}

/** The median; the mean of the two middle values for an even count. */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error("median of no values");
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Smallest and largest value, and their ratio max / min (1 for a single value). */
export interface Spread {
  min: number;
  max: number;
  ratio: number;
}

export function spread(values: readonly number[]): Spread {
  if (values.length === 0) throw new Error("spread of no values");
  const min = Math.min(...values);
  const max = Math.max(...values);
  return { min, max, ratio: max / min };
}

/** a[i] / b[i]: round i of one side over round i of the other (the two ran next to each other). */
export function perRoundRatios(a: readonly number[], b: readonly number[]): number[] {
  if (a.length !== b.length) throw new Error(`per-round ratio of ${a.length} against ${b.length} rounds`);
  return a.map((x, i) => x / b[i]!);
}

/** A ratio of two sides measured in rounds: from the medians, and the median and range of the per-round ratios. */
export interface RatioSummary {
  ofMedians: number;
  perRound: { median: number; min: number; max: number };
}

export function compareRounds(a: readonly number[], b: readonly number[]): RatioSummary {
  const ratios = perRoundRatios(a, b);
  const { min, max } = spread(ratios);
  return { ofMedians: median(a) / median(b), perRound: { median: median(ratios), min, max } };
}
