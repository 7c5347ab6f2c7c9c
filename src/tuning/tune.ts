/**
 * A tuning run: the config's search space and scheduler, one trial per setting (and per ASHA rung), each an
 * ordinary update written to its own state folder under `workDir`, and the best of them. `relearn tune` reports
 * the trials and the best setting; `relearn update --tune` (tune_update.ts) also keeps the best trial's state.
 */
import { join } from "node:path";
import { OptionsError } from "../errors.js";
import type { RelearnConfig } from "../workflow/config.js";
import type { DataFile } from "../workflow/data_files.js";
import { AshaScheduler } from "./asha.js";
import { resolveSpace } from "./check_space.js";
import { localExecutor, type TrialExecutor } from "./executor.js";
import { gridSearch, randomSearch, type Scheduler } from "./scheduler.js";
import { bestOf, runSearch } from "./search.js";
import type { Params, SearchSpace } from "./search_space.js";
import { DEFAULT_TRIALS, metricMode, tuningSettingsSchema, type TuningSettings } from "./settings.js";
import type { TrialOutcome, TrialSpec } from "./trial.js";

export interface TuneRequest {
  config: RelearnConfig;
  data: DataFile;
  val: DataFile;
  inputState?: string | undefined;
  taskId?: string | undefined;
  /** A folder for the trials' states (created by the caller, removed by the caller). */
  workDir: string;
  executor?: TrialExecutor | undefined;
  /** Settings tried first by random search and ASHA (e.g. the previous update's best); ignored by grid search. */
  initial?: readonly Params[] | undefined;
  /** Called after each run with the runs so far and the best so far. */
  onTrial?: ((progress: TuneProgress) => void) | undefined;
}

export interface TuneProgress {
  outcome: TrialOutcome;
  /** Runs finished so far, and the planned total when known (random, grid). */
  done: number;
  planned: number | undefined;
  best: TrialOutcome | undefined;
}

export interface TuneResult {
  settings: TuningSettings;
  space: SearchSpace;
  /** Where the space came from, for messages (e.g. 'preset "renate-sgd"'). */
  spaceSource: string;
  mode: "max" | "min";
  /** Every run, in the order they finished. */
  outcomes: TrialOutcome[];
  best: TrialOutcome;
}

/** The config's tuning settings with defaults (a config without a tuning section tunes with the defaults). */
export function tuningSettingsOf(config: RelearnConfig): TuningSettings {
  return config.tuning ?? tuningSettingsSchema.parse({});
}

/** The scheduler the settings name, over `space`. */
export function createScheduler(config: RelearnConfig, settings: TuningSettings, space: SearchSpace, initial: readonly Params[] = []): Scheduler {
  const trials = settings.trials;
  switch (settings.scheduler) {
    case "random":
      return randomSearch(space, { trials: trials ?? DEFAULT_TRIALS, seed: settings.seed, initial });
    case "grid":
      return gridSearch(space, { points: settings.gridPoints, trials });
    case "asha":
      return new AshaScheduler(space, {
        trials: trials ?? DEFAULT_TRIALS,
        seed: settings.seed,
        reductionFactor: settings.asha.reductionFactor,
        minEpochs: settings.asha.minEpochs,
        maxEpochs: settings.asha.maxEpochs ?? config.options.maxEpochs ?? 50,
        initial,
      });
  }
}

/** Every trial of a search failed (diverged): an OptionsError that keeps the outcomes, so the trials table can still be written. */
export class AllTrialsFailedError extends OptionsError {
  override name = "AllTrialsFailedError";
  constructor(
    message: string,
    readonly outcomes: readonly TrialOutcome[],
  ) {
    super(message);
  }
}

/** Runs the search; a TrialOutcome per run. Throws an AllTrialsFailedError (an OptionsError) when every trial failed. */
export async function runTuning(request: TuneRequest): Promise<TuneResult> {
  const { config } = request;
  const settings = tuningSettingsOf(config);
  const { space, source } = resolveSpace(config, settings, { resumed: request.inputState !== undefined });
  const scheduler = createScheduler(config, settings, space, request.initial ?? []);
  const mode = metricMode(settings.metric);
  const score = (o: TrialOutcome) => (o.value === null ? Number.NEGATIVE_INFINITY : mode === "max" ? o.value : -o.value);
  const executor = request.executor ?? localExecutor();
  // Trials run with the config as given, without its tuning section (a trial does not tune).
  const trialConfig = { ...config, tuning: undefined };
  const outcomes: TrialOutcome[] = [];
  const finished = await runSearch(
    scheduler,
    (r) => {
      const spec: TrialSpec = {
        trialId: r.trialId,
        rung: r.rung,
        config: trialConfig,
        params: r.params,
        epochs: r.epochs ?? null,
        data: request.data,
        val: request.val,
        inputState: request.inputState,
        outputState: join(request.workDir, `trial-${r.trialId}-rung-${r.rung}`),
        taskId: request.taskId,
        metric: settings.metric,
      };
      return executor.run(spec);
    },
    {
      concurrency: executor.concurrency,
      score,
      onResult: (_request, outcome) => {
        outcomes.push(outcome);
        request.onTrial?.({ outcome, done: outcomes.length, planned: scheduler.plannedRuns, best: bestOf(outcomes, score) });
      },
    },
  );
  const best = bestOf(finished.map((f) => f.result), score);
  if (best === undefined) {
    // One error in full (each trial's is in the trials table): the same advice repeated per trial made one huge line.
    const first = outcomes.find((o) => o.error !== undefined);
    const others = new Set(outcomes.map((o) => o.error ?? "unknown")).size - 1;
    const reason = first === undefined ? "no error recorded" : `trial ${first.trialId}: ${first.error}${others > 0 ? `; ${others} other error(s)` : ""}`;
    throw new AllTrialsFailedError(`every one of the ${outcomes.length} trials failed (${reason}); narrow the search space (e.g. smaller learning rates)`, outcomes);
  }
  return { settings, space, spaceSource: source, mode, outcomes, best };
}
