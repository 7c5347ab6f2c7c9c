/**
 * A continual-learning benchmark: for every updater x memory size x seed,
 * build a fresh model, run the scenario's updates in order and, after each
 * update, measure accuracy on EVERY task's test set (the accuracy matrix),
 * the flips between consecutive models, and the wall time of each phase.
 */
import type { ScenarioUpdate } from "../data/scenarios/common.js";
import { concatArrays } from "../concat_arrays.js";
import { buildModel, type ContinualModel } from "../model/continual_model.js";
import type { ModelSpec } from "../model/spec.js";
import { accuracy, negativeFlipRate } from "../metrics/accuracy.js";
import type { BenchmarkResults, RunResult } from "../reporting/results.js";
import type { ClassMeans } from "../model/nearest_class_mean.js";
import { predict } from "../training/predict.js";
import type { TrainingCallback } from "../training/callbacks.js";
import type { OptimizerSpec } from "../training/optimizers.js";
import { initBackend, type BackendName } from "../backend/backend.js";
import { OptionsError } from "../errors.js";
import { variantEntry } from "./updater_variant.js";
import type { ModelUpdaterOptions } from "../updaters/options.js";
import type { ModelUpdater } from "../updaters/model_updater.js";

export interface BenchmarkConfig {
  dataset: string;
  /** Class names indexed by label, when the data set has them: the report names tasks by their classes. */
  classNames?: readonly string[];
  scenario: string;
  /** The scenario's updates for a seed (class order and chunking are seeded). */
  makeUpdates: (seed: number) => ScenarioUpdate[];
  updaters: readonly string[];
  /** Memory sizes for updaters with a memory; the others run once per seed. */
  memorySizes: readonly number[];
  seeds: readonly number[];
  model: ModelSpec;
  epochs: number;
  batchSize: number;
  optimizer: OptimizerSpec;
  backend: BackendName;
  /** Extra options per updater name (e.g. `{ rd: { consolidationEpochs: 50 } }`), merged last. */
  updaterOptions?: Readonly<Record<string, Partial<ModelUpdaterOptions> & Record<string, unknown>>>;
}

/** Where a benchmark stands, for progress displays. */
export interface RunProgress {
  /** Position of the run in the plan, from 0 (print `run + 1` of `runs`). */
  run: number;
  runs: number;
  updater: string;
  memorySize: number | null;
  seed: number;
  /** Position of the update in the run, from 0: the accuracy-matrix row it fills (print `update + 1`, "update 1"). */
  update: number;
  updates: number;
}

export interface BenchmarkHooks {
  /** Training callbacks for one update of one run (e.g. a progress bar). */
  callbacksFor?: (progress: RunProgress) => TrainingCallback[];
  /** Called after each update with the row of the accuracy matrix just measured. */
  onUpdate?: (progress: RunProgress, accuracies: number[], seconds: number) => void;
}

/** One cell of a benchmark grid: what one run trains. */
export interface RunPlan {
  updater: string;
  memorySize: number | null;
  seed: number;
}

/** The runs a config asks for, in order: updater, then memory size, then seed. */
export function planRuns(config: Pick<BenchmarkConfig, "updaters" | "memorySizes" | "seeds">): RunPlan[] {
  const plans: RunPlan[] = [];
  for (const updater of config.updaters) {
    const sizes = variantEntry(updater).usesMemory ? config.memorySizes : [null];
    for (const memorySize of sizes) for (const seed of config.seeds) plans.push({ updater, memorySize, seed });
  }
  return plans;
}

/** The options a cell's updater is created with (its model aside): the grid's settings, then the updater's own. */
function cellOptions(config: BenchmarkConfig, plan: RunPlan): Omit<ModelUpdaterOptions, "model"> & { memorySize?: number | undefined } {
  return {
    backend: config.backend,
    seed: plan.seed,
    maxEpochs: config.epochs,
    batchSize: config.batchSize,
    optimizer: config.optimizer,
    memorySize: plan.memorySize ?? undefined,
    ...(config.updaterOptions?.[plan.updater] ?? {}),
  };
}

/**
 * Everything about the grid's cells that can be checked without training, for every cell before the first one
 * trains: each updater (at each of its memory sizes) is created from its options on the grid's model, so its own
 * options schema refuses an unknown or mistyped option; an updater that needs a single-head model is refused for a
 * task-incremental scenario; and `ModelUpdater.checkPlan` checks the rest against the built model and the
 * scenario (POD's layers and pooling, iCaRL's memory against the classes). Otherwise a bad setting of the last
 * updater would surface only after every cell before it trained, and a local grid would lose them all. Throws an
 * OptionsError naming the updater (and memory size).
 */
export async function checkBenchmarkCells(config: BenchmarkConfig): Promise<void> {
  const seen = new Set<string>();
  let backendStarted = false;
  // The scenario of the first seed: its heads and classes (the seed changes which classes, not how many).
  let scenario: { multiHead: boolean; taskId: string; classes: number } | undefined;
  const scenarioOf = () => {
    if (scenario === undefined) {
      const updates = config.makeUpdates(config.seeds[0] ?? 0);
      const classes = new Set<number>();
      for (const u of updates) for (const label of u.train.labels) classes.add(label);
      scenario = { multiHead: updates.some((u) => u.taskId !== updates[0]!.taskId), taskId: updates[0]!.taskId, classes: classes.size };
    }
    return scenario;
  };
  for (const plan of planRuns(config)) {
    const key = `${plan.updater} ${plan.memorySize}`;
    if (seen.has(key)) continue; // the seed changes no option's validity
    seen.add(key);
    const entry = variantEntry(plan.updater);
    const where = `updater "${plan.updater}"${plan.memorySize === null ? "" : ` (memory ${plan.memorySize})`}`;
    const { multiHead, taskId, classes } = scenarioOf();
    if (entry.singleHeadOnly === true && multiHead) {
      throw new OptionsError(`${where} needs a single-head model; the ${config.scenario} scenario gives one head per task: use another updater or scenario`);
    }
    if (!backendStarted) await initBackend(config.backend); // before building a model, so its weights are born on it
    backendStarted = true;
    let model: ContinualModel | undefined;
    let updater: ModelUpdater | undefined;
    try {
      model = buildModel({ ...config.model, multiHead }, { seed: plan.seed });
      model.ensureHead(taskId);
      updater = entry.create({ model, ...cellOptions(config, plan) });
      await updater.prepare();
      await updater.checkPlan({ taskId, classes });
    } catch (error) {
      if (!(error instanceof OptionsError)) throw error;
      throw new OptionsError(`${where}: ${error.message}`, { cause: error });
    } finally {
      updater?.dispose();
      model?.dispose();
    }
  }
}

/** What one cell produced: its run, and the backend it really ran on (e.g. "wasm" for "auto"). */
export interface CellResult {
  run: RunResult;
  backend: string;
}

/**
 * Runs ONE cell of the grid: a fresh model for `plan`, the scenario's updates in order, the accuracy matrix after
 * each. The unit of work that `runBenchmark` loops over and that a queue worker runs on its own, so a grid gives
 * the same numbers (bit for bit; only the wall times differ) whether it runs here or spread over workers: a cell
 * depends on nothing but `config` and `plan` (every random draw is seeded by `plan.seed`). `position` only labels
 * progress. Starts `config.backend` if it is not the active one.
 */
export async function runBenchmarkCell(
  config: BenchmarkConfig,
  plan: RunPlan,
  hooks: BenchmarkHooks = {},
  position: { run: number; runs: number } = { run: 0, runs: 1 },
): Promise<CellResult> {
  const started = await initBackend(config.backend); // before building the model, so its weights are born on it
  let backend = started.name as string;
  const updates = config.makeUpdates(plan.seed);
  const multiHead = updates.some((u) => u.taskId !== updates[0]!.taskId);
  const model = buildModel({ ...config.model, multiHead }, { seed: plan.seed });
  let updater: ModelUpdater | undefined;
  try {
    updater = variantEntry(plan.updater).create({ model, ...cellOptions(config, plan) });
    await updater.prepare();
    backend = updater.backendInfo?.name ?? backend;
    for (const u of updates) model.ensureHead(u.taskId);
    // Before the first update no updater has class means: the untrained model's logits.
    const before = await predictAll(model, updates);
    const given = config.updaterOptions?.[plan.updater] ?? {};
    const run: RunResult = {
      updater: plan.updater,
      memorySize: plan.memorySize,
      seed: plan.seed,
      // What a variant is (er@lr-high: its options), so the results folder says what each row ran with.
      ...(Object.keys(given).length === 0 ? {} : { updaterOptions: JSON.parse(JSON.stringify(given)) as Record<string, unknown> }),
      accuracyMatrix: [],
      testSizes: updates.map((u) => u.test.length),
      initAccuracy: before.map((p, i) => accuracy(p, updates[i]!.test.labels)),
      negativeFlipRates: [],
      updateSeconds: [],
      phaseSeconds: {},
    };
    if (updates.every((u) => u.classes !== undefined)) run.taskClasses = updates.map((u) => [...u.classes!]);
    let previous = before;
    for (const [t, update] of updates.entries()) {
      const progress: RunProgress = { ...position, ...plan, update: t, updates: updates.length };
      const callbacks = hooks.callbacksFor?.(progress) ?? [];
      const started = performance.now();
      await updater.update(update.train, { taskId: update.taskId, callbacks });
      const seconds = (performance.now() - started) / 1000;
      run.updateSeconds.push(seconds);
      for (const phase of updater.lastUpdatePhases) (run.phaseSeconds![phase.phase] ??= []).push(phase.seconds);
      // iCaRL predicts by nearest class mean (updater.classMeans); every other updater by the logits.
      const current = await predictAll(model, updates, updater.classMeans);
      const row = current.map((p, i) => accuracy(p, updates[i]!.test.labels));
      run.accuracyMatrix.push(row);
      if (t > 0) run.negativeFlipRates.push(negativeFlipRate(concatArrays(previous, new Int32Array(0)), concatArrays(current, new Int32Array(0)), concatArrays(updates.map((u) => u.test.labels), new Int32Array(0))));
      previous = current;
      hooks.onUpdate?.(progress, row, seconds);
    }
    return { run, backend };
  } finally {
    // The updater's own tensors too (CLS-ER's weight averages), not just the model.
    updater?.dispose();
    model.dispose();
  }
}

export async function runBenchmark(config: BenchmarkConfig, hooks: BenchmarkHooks = {}): Promise<BenchmarkResults> {
  await checkBenchmarkCells(config);
  const plans = planRuns(config);
  const cells: CellResult[] = [];
  for (const [index, plan] of plans.entries()) cells.push(await runBenchmarkCell(config, plan, hooks, { run: index, runs: plans.length }));
  return benchmarkResults(config, cells);
}

/**
 * The grid's results from its cells' results, in plan order: what `runBenchmark` returns, and what a queued grid
 * gathers from its workers. `backend` is the one the cells ran on (comma-separated if they differ); with no cells,
 * the requested one.
 */
export function benchmarkResults(
  config: Pick<BenchmarkConfig, "dataset" | "classNames" | "scenario" | "model" | "backend" | "epochs" | "batchSize" | "optimizer">,
  cells: readonly CellResult[],
): BenchmarkResults {
  const runs = cells.map((cell) => cell.run);
  const backends = [...new Set(cells.map((cell) => cell.backend))];
  return {
    dataset: config.dataset,
    scenario: config.scenario,
    tasks: runs[0]?.accuracyMatrix.length ?? 0,
    model: config.model,
    backend: backends.length === 0 ? config.backend : backends.join(", "),
    epochs: config.epochs,
    batchSize: config.batchSize,
    ...(config.optimizer === undefined ? {} : { optimizer: config.optimizer }),
    ...(config.classNames === undefined ? {} : { classNames: [...config.classNames] }),
    runs,
  };
}

async function predictAll(model: Parameters<typeof predict>[0], updates: readonly ScenarioUpdate[], classMeans?: ClassMeans): Promise<Int32Array[]> {
  const out: Int32Array[] = [];
  for (const u of updates) out.push((await predict(model, u.test, { taskId: u.taskId, classMeans })).classes);
  return out;
}
