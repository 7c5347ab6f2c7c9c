/**
 * ASHA, asynchronous successive halving (Li et al., "A System for Massively Parallel Hyperparameter Tuning",
 * MLSys 2020), over epochs. Rungs train for minEpochs * eta^k epochs (k = 0, 1, ...) while that is below
 * maxEpochs, and the last rung for maxEpochs. Whenever a run can start (`ask`), the scheduler looks from the
 * second-highest rung down for a setting in the best floor(n / eta) of the n results of its rung that was not
 * promoted yet, and promotes the best such setting to the next rung; with none, it starts a new setting at rung 0
 * (until `trials` were started); with none left, it waits for running trials, or is done.
 *
 * A promoted setting trains again from the same start with the larger budget (no checkpoint is handed on), so
 * every run is a pure function of its setting and epochs and can run on any queue worker; the cost is the epochs
 * of the lower rungs, run again. Ties rank the lower trial id first.
 */
import { sampleSpace, type Params, type SearchSpace } from "./search_space.js";
import { trialRandom, type Ask, type Scheduler, type TrialRequest } from "./scheduler.js";
import { OptionsError } from "../errors.js";

export interface AshaOptions {
  /** Settings started at rung 0. */
  trials: number;
  seed: number;
  reductionFactor: number;
  minEpochs: number;
  maxEpochs: number;
  /** Settings to start first (before drawn ones), e.g. the previous update's best. */
  initial?: readonly Params[];
}

/** The epochs of each rung: minEpochs * eta^k below maxEpochs, then maxEpochs. */
export function ashaRungs(minEpochs: number, maxEpochs: number, reductionFactor: number): number[] {
  if (!Number.isInteger(reductionFactor) || reductionFactor < 2) throw new OptionsError(`ASHA's reduction factor must be an integer >= 2, got ${reductionFactor}`);
  if (!Number.isInteger(minEpochs) || minEpochs < 1) throw new OptionsError(`ASHA's minEpochs must be an integer >= 1, got ${minEpochs}`);
  if (!Number.isInteger(maxEpochs) || maxEpochs < minEpochs) throw new OptionsError(`ASHA's maxEpochs (${maxEpochs}) must be an integer >= minEpochs (${minEpochs})`);
  const rungs: number[] = [];
  for (let epochs = minEpochs; epochs < maxEpochs; epochs *= reductionFactor) rungs.push(epochs);
  rungs.push(maxEpochs);
  return rungs;
}

interface RungResult {
  trialId: number;
  score: number;
  promoted: boolean;
}

export class AshaScheduler implements Scheduler {
  readonly name = "asha";
  readonly plannedRuns = undefined;
  readonly rungs: readonly number[];
  private readonly results: RungResult[][];
  private readonly params = new Map<number, Params>();
  private started = 0;
  private running = 0;

  constructor(private readonly space: SearchSpace, private readonly options: AshaOptions) {
    this.rungs = ashaRungs(options.minEpochs, options.maxEpochs, options.reductionFactor);
    this.results = this.rungs.map(() => []);
  }

  ask(): Ask {
    const promotion = this.promotion();
    if (promotion !== undefined) {
      promotion.result.promoted = true;
      this.running++;
      const rung = promotion.rung + 1;
      return { kind: "run", request: { trialId: promotion.result.trialId, params: this.params.get(promotion.result.trialId)!, epochs: this.rungs[rung]!, rung } };
    }
    if (this.started < this.options.trials) {
      const trialId = this.started++;
      const params = this.options.initial?.[trialId] ?? sampleSpace(this.space, trialRandom(this.options.seed, trialId));
      this.params.set(trialId, params);
      this.running++;
      return { kind: "run", request: { trialId, params, epochs: this.rungs[0]!, rung: 0 } };
    }
    return this.running > 0 ? { kind: "wait" } : { kind: "done" };
  }

  tell(request: TrialRequest, score: number): void {
    this.running--;
    this.results[request.rung]!.push({ trialId: request.trialId, score, promoted: false });
  }

  /** The best not-yet-promoted setting in the top 1/eta of a rung, from the second-highest rung down. */
  private promotion(): { rung: number; result: RungResult } | undefined {
    for (let rung = this.rungs.length - 2; rung >= 0; rung--) {
      const ranked = [...this.results[rung]!].sort((a, b) => b.score - a.score || a.trialId - b.trialId);
      const top = ranked.slice(0, Math.floor(ranked.length / this.options.reductionFactor));
      // A failed run is never promoted, even when too few ran for it to fall out of the top.
      const candidate = top.find((r) => !r.promoted && r.score > Number.NEGATIVE_INFINITY);
      if (candidate !== undefined) return { rung, result: candidate };
    }
    return undefined;
  }
}
