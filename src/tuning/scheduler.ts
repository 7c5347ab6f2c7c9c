/**
 * Schedulers decide which trial runs next, by ask and tell, so trials can run one at a time in this process or
 * many at once on queue workers: `ask()` gives a trial to start (or says to wait for results, or that the search is
 * done), `tell()` hands back a trial's metric. Scores are "higher is better" (a loss is negated by the caller);
 * a failed trial scores -Infinity.
 *
 * Seeded and deterministic: a random search's trial i draws from its own stream (deriveSeed(seed, "trial", i)),
 * so it is the same setting whatever order results come back in; a grid is a fixed order; ASHA (asha.ts) decides
 * from the results told so far, so it is deterministic whenever results are told in the same order (always, with
 * one trial at a time).
 */
import { OptionsError } from "../errors.js";
import { deriveSeed, Random } from "../random.js";
import { gridValues, sampleSpace, type Params, type SearchSpace } from "./search_space.js";

/**
 * The random stream of trial `trialId`. The first outputs of a freshly seeded xoroshiro128+ are poorly mixed (with
 * the 31-bit seeds deriveSeed gives, the first float() is always >= 0.5: measured over 1000 seeds), so a few draws
 * are discarded before the trial's own.
 */
export function trialRandom(seed: number, trialId: number): Random {
  const random = Random.fromSeed(deriveSeed(seed, "trial", trialId));
  for (let i = 0; i < 8; i++) random.float();
  return random;
}

/** One run a scheduler asks for: a setting and the epochs to train it (undefined: the config's maxEpochs). */
export interface TrialRequest {
  /** Numbers the setting, from 0; a setting ASHA promotes keeps its id and runs again with more epochs. */
  trialId: number;
  params: Params;
  epochs: number | undefined;
  /** ASHA's rung (0 for the first); 0 for random and grid. */
  rung: number;
}

export type Ask = { kind: "run"; request: TrialRequest } | { kind: "wait" } | { kind: "done" };

export interface Scheduler {
  readonly name: string;
  /** Total runs the search will make when it is known in advance (random, grid); undefined for ASHA. */
  readonly plannedRuns: number | undefined;
  ask(): Ask;
  /** The score of a run `ask` gave (higher is better; -Infinity for a failed run). */
  tell(request: TrialRequest, score: number): void;
}

/** Runs a fixed list of requests in order; done once each was told. */
class ListScheduler implements Scheduler {
  private next = 0;
  private told = 0;
  constructor(readonly name: string, private readonly requests: readonly TrialRequest[]) {}
  get plannedRuns(): number {
    return this.requests.length;
  }
  ask(): Ask {
    if (this.next < this.requests.length) return { kind: "run", request: this.requests[this.next++]! };
    return this.told < this.requests.length ? { kind: "wait" } : { kind: "done" };
  }
  tell(): void {
    this.told++;
  }
}

/**
 * Random search: `trials` settings, the first ones taken from `initial` (e.g. the best setting of the previous
 * update), the rest drawn from `space`, trial i from the stream deriveSeed(seed, "trial", i).
 */
export function randomSearch(space: SearchSpace, options: { trials: number; seed: number; initial?: readonly Params[] }): Scheduler {
  const initial = options.initial ?? [];
  const requests = Array.from({ length: options.trials }, (_, trialId) => ({
    trialId,
    params: initial[trialId] ?? sampleSpace(space, trialRandom(options.seed, trialId)),
    epochs: undefined,
    rung: 0,
  }));
  return new ListScheduler("random", requests);
}

/** Every point of the grid (search_space.ts gridValues per entry), the last entry varying fastest. */
export function gridPoints(space: SearchSpace, points: number): Params[] {
  let settings: Params[] = [{}];
  for (const [key, domain] of space) {
    const values = gridValues(domain, points);
    settings = settings.flatMap((setting) => values.map((value) => ({ ...setting, [key]: value })));
  }
  return settings;
}

/**
 * Grid search over the whole grid. `trials`, when given, must equal the grid's size: a part of a grid would
 * silently leave out settings, so it is refused with the grid's size.
 */
export function gridSearch(space: SearchSpace, options: { points: number; trials?: number | undefined }): Scheduler {
  const grid = gridPoints(space, options.points);
  if (options.trials !== undefined && options.trials !== grid.length) {
    const sizes = space.map(([key, domain]) => `${key}: ${gridValues(domain, options.points).length}`).join(", ");
    throw new OptionsError(`grid search runs every point of its grid, ${grid.length} here (${sizes}); asked for ${options.trials} trials: leave the trial count out, or change the space or tuning.gridPoints`);
  }
  return new ListScheduler("grid", grid.map((params, trialId) => ({ trialId, params, epochs: undefined, rung: 0 })));
}
