/**
 * The framework every updater shares: option handling, the backend, the
 * model (built, wrapped or loaded from state), validation sets kept across
 * updates, one configured training loop, and the state folder (load before the
 * first update, write atomically after each successful one).
 *
 * An algorithm subclasses ModelUpdater and implements `performUpdate` (which
 * phases, on which data) plus the parts of the state that are its own.
 */
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { initBackend, assertBackendSupports, type BackendInfo } from "../backend/backend.js";
import type { Dataset } from "../data/dataset.js";
import type { RowTransforms } from "../data/transforms.js";
import { classesPresent } from "../data/dataset_ops.js";
import { DataError, ModelError, OptionsError, StateError, TrainingError } from "../errors.js";
import { silentLogger, type Logger } from "../logger.js";
import { ContinualModel, DEFAULT_TASK_ID, type RowTasks } from "../model/continual_model.js";
import { loadModelFiles, saveModelFiles } from "../model/model_files.js";
import type { ClassMeans } from "../model/nearest_class_mean.js";
import { deriveSeed } from "../random.js";
import { defaultStateStore } from "../platform.js";
import type { StateLock, StateReader, StateStore, StateWriter } from "../state/store.js";
import { LOGS_FOLDER, readStateLogs, writeStateLogs, type EpochRecord } from "../reporting/state_logs.js";

import { readColumn, writeColumn } from "../state/columns_io.js";
import { CARRIED_FILES } from "../state/format.js";
import { datasetSource, type BatchSource, type DatasetSourceOptions } from "../training/batch_source.js";
import { crossEntropyBatchLoss, crossEntropyLoss, type LossFunction } from "../training/losses.js";

/** Re-exported where it always was, for existing importers. */
export { LOGS_FOLDER };

/** Where a state keeps the validation sets of every update. */
const VALIDATION_FOLDER = "validation";
import { trainModel, type BatchLoss, type TrainResult } from "../training/loop.js";
import { assertFiniteOutputs, DIVERGENCE_FIXES, listNames } from "../training/divergence.js";
import { defaultMetrics } from "../training/metrics.js";
import { evaluateModel, type EvaluationSource } from "../training/evaluate.js";
import type { TrainingCallback } from "../training/callbacks.js";
import { persistableOptions, type ResolvedOptions } from "./options.js";
import { PERSISTED_COMMON_KEYS, type UpdaterOptionsSchema, type UpdaterStateData } from "./state_schema.js";
import { checkUpdaterState } from "./state_check.js";

/** Per-update arguments. */
export interface UpdateOptions {
  /** Validation data of this update; kept and used in every later update too. */
  valDataset?: Dataset | undefined;
  /** Names `valDataset` (e.g. its file) in summaries of this and later updates; kept in the state with it. */
  valSource?: string | undefined;
  /** Task of this chunk; a multi-head model grows a head the first time it sees one. */
  taskId?: string | undefined;
  /** Callbacks for this update only (e.g. a progress bar), after the constructor's. */
  callbacks?: readonly TrainingCallback[] | undefined;
  /**
   * How the training data was read (JSON: e.g. CSV header and label column), stored as `data` in the
   * state manifest so readers of the state can read new files the same way. Kept from the resumed state when absent.
   */
  dataSettings?: Readonly<Record<string, unknown>> | undefined;
  /**
   * The workflow config this update runs with (JSON: the updater's registry name, model, options...), stored as
   * `config` in the state manifest so `relearn update` can continue the state without --config. Unlike
   * dataSettings it describes this update only: an update without one writes a state without one.
   */
  config?: Readonly<Record<string, unknown>> | undefined;
  /**
   * The id of the queue job running this update, stored as `queueJob` in the state manifest: how a retry of the
   * job tells the state its own earlier attempt committed from one another writer put there. Describes this
   * update only, like `config`.
   */
  queueJob?: string | undefined;
  /** How errors name the training and validation data (e.g. their file paths); default "training dataset", "validation dataset". */
  dataNames?: { train?: string | undefined; val?: string | undefined } | undefined;
}

/** What a run of updates will bring, for ModelUpdater.checkPlan: the first update's task id, and the classes in all. */
export interface UpdatePlan {
  taskId: string;
  classes: number;
}

/** One training phase's outcome, for summaries and logs. */
export interface PhaseReport extends TrainResult {
  phase: string;
  seconds: number;
  /** The validation sets this phase validated on: indices into `validationSetInfo()` (empty: no validation). */
  validatedOn: number[];
}

/** A validation set the updater keeps, for summaries (see ModelUpdater.validationSetInfo). */
export interface ValidationSetInfo {
  /** What the update that added it called it (UpdateOptions.valSource, e.g. a file); null when it gave no name. */
  source: string | null;
  taskId: string;
  items: number;
  /** The update (numbered from 1) that added it; null for states written before updates were recorded. */
  update: number | null;
  /** True for the set given with the current (or last) update. */
  current: boolean;
  /**
   * True when the current (or last) update was given this set again, identical (same task, same rows in the same
   * order): it was not added a second time, which would count it twice in val_accuracy (and a tuning score).
   */
  givenAgain: boolean;
}

/** Data checked for finite outputs after an update (see ModelUpdater.outputChecks). */
export interface OutputCheck {
  data: Dataset;
  /** One task id for every row, or each row's own. */
  tasks: string | RowTasks;
  /** Names the data in the error, e.g. "the memory". */
  what: string;
}

interface ValidationSet {
  dataset: Dataset;
  taskId: string;
  source?: string | undefined;
  update?: number | undefined;
}

export abstract class ModelUpdater {
  /** Name of the algorithm; also the `kind` of its state folders. */
  abstract readonly kind: string;
  /**
   * The updater's options schema: the options section of a state it resumes
   * from must fit it. An updater defined outside relearn may leave it out
   * (then the common options are checked and other JSON options let through).
   */
  static readonly optionsSchema: UpdaterOptionsSchema | undefined = undefined;
  protected readonly options: ResolvedOptions;
  protected readonly logger: Logger;
  protected readonly lossFn: LossFunction;
  /** Number of successful updates, including those of the state this updater resumed from. */
  updatesDone = 0;
  /** Reports of the phases of the most recent update. */
  lastUpdatePhases: PhaseReport[] = [];
  /** The class count before and after the most recent update, when it grew the output layer (growClasses). */
  lastClassGrowth: { from: number; to: number } | undefined;
  /** Every epoch of every update so far, including those of the resumed state. */
  metricsHistory: EpochRecord[] = [];
  backendInfo: BackendInfo | undefined;
  private currentModel: ContinualModel | undefined;
  private validationSets: ValidationSet[] = [];
  private currentValidation: ValidationSet | undefined;
  /** Set when the current update's validation set is one already kept (then currentValidation is that one). */
  private validationGivenAgain = false;
  private updateCallbacks: readonly TrainingCallback[] = [];
  private dataSettings: Readonly<Record<string, unknown>> | undefined;
  /** UpdateOptions.config of the last update (or the resumed state's until an update runs), saved as `config`. */
  private recordedConfig: Readonly<Record<string, unknown>> | undefined;
  /** UpdateOptions.queueJob of the last update (or the resumed state's until an update runs), saved as `queueJob`. */
  private queueJob: string | undefined;
  /**
   * States (the store's canonical names) this updater resumed from or wrote, with the manifestSha256 it last saw
   * there: its own history, which it may replace, as long as no one else changed it since.
   */
  private readonly ownStates = new Map<string, string | undefined>();
  private store: StateStore | undefined;
  private prepared = false;
  /** The resumed state's CARRIED_FILES (e.g. the tuning history), written unchanged into every state this updater saves. */
  private readonly carriedFiles = new Map<string, Uint8Array>();

  protected constructor(options: ResolvedOptions) {
    this.options = options;
    this.logger = options.logger ?? silentLogger;
    this.lossFn = options.lossFn ?? crossEntropyLoss;
    if (options.earlyStoppingEnabled && options.metric === undefined) {
      this.logger.warn("earlyStoppingEnabled without a metric: early stopping is ignored");
    }
    if (options.model === undefined && options.inputStateFolder === undefined) {
      throw new OptionsError("a model is required (a ContinualModel, a tfjs LayersModel or a ModelSpec) unless inputStateFolder holds one");
    }
  }

  /** The model being kept up to date (available after the first update or `prepare()`). */
  get model(): ContinualModel {
    if (!this.currentModel) throw new OptionsError("the model is not ready yet: call update() or prepare() first");
    return this.currentModel;
  }

  /**
   * Where the states named by inputStateFolder / outputStateFolder live: the stateStore option, else the host's
   * default (taken when first needed, so an updater that keeps no state never touches IndexedDB or the disk).
   */
  protected get stateStore(): StateStore {
    this.store ??= this.options.stateStore ?? defaultStateStore();
    return this.store;
  }

  /**
   * The data settings the next saved state stores (UpdateOptions.dataSettings): the resumed state's after
   * `prepare()`, until an update gives others; undefined when there are none.
   */
  get storedDataSettings(): Readonly<Record<string, unknown>> | undefined {
    return this.dataSettings;
  }

  /**
   * How this updater's model predicts: undefined (the default) by its logits; class means (iCaRL) by the
   * nearest class mean of its features. Pass it on: predict(updater.model, x, { classMeans: updater.classMeans }).
   */
  get classMeans(): ClassMeans | undefined {
    return undefined;
  }

  /**
   * Frees the model (when there is one) and every tensor the algorithm keeps
   * between updates (CLS-ER's weight averages): call it when done with the
   * updater. It cannot update afterwards; what it keeps in typed arrays (the
   * memory) can still be read.
   */
  dispose(): void {
    this.currentModel?.dispose();
    this.disposeAlgorithmState();
  }

  /** Frees the tensors the algorithm keeps between updates (see dispose). Default: nothing. */
  protected disposeAlgorithmState(): void {}

  /** True once the model exists (built, wrapped or loaded from state). */
  get hasModel(): boolean {
    return this.currentModel !== undefined;
  }

  /**
   * Every validation set kept so far, in the order they were added: the ones from earlier updates (remembered
   * in the state) are validated on again in later updates, so summaries should name them.
   */
  validationSetInfo(): ValidationSetInfo[] {
    return this.validationSets.map((set) => ({
      source: set.source ?? null,
      taskId: set.taskId,
      items: set.dataset.length,
      update: set.update ?? null,
      current: set === this.currentValidation,
      givenAgain: set === this.currentValidation && this.validationGivenAgain,
    }));
  }

  /** Validation sets of a scope: all seen so far, or only this update's. */
  private validationSetsOf(scope: "all" | "current"): ValidationSet[] {
    return scope === "all" ? this.validationSets : this.currentValidation ? [this.currentValidation] : [];
  }

  /** Validation sets as evaluation sources: all seen so far, or only this update's. */
  protected validationSources(scope: "all" | "current"): EvaluationSource[] {
    return this.validationSetsOf(scope).map(({ dataset, taskId }) => ({
      data: datasetSource(dataset, { transform: this.options.testTransform, targetTransform: this.options.testTargetTransform }),
      taskId,
    }));
  }

  /**
   * Starts the backend, builds or wraps the model and loads the input state.
   * update() calls it; call it yourself to inspect a resumed model first.
   */
  async prepare(): Promise<void> {
    if (this.prepared) return;
    const backend = this.options.backend;
    assertBackendSupports({ backend, devices: this.options.devices, precision: this.options.precision });
    this.backendInfo = await initBackend(backend);
    const threads = this.backendInfo.threads === undefined ? "" : `, ${this.backendInfo.threads} thread(s)`;
    this.logger.info(`relearn: backend ${this.backendInfo.name}${threads} (${this.backendInfo.reason})`);
    this.currentModel = this.resolveModel();
    const input = this.options.inputStateFolder;
    if (input !== undefined) {
      const state = await this.stateStore.read(input, { kind: this.kind });
      if (state === null) {
        // A typo in the path must not train from scratch and replace a model: fresh starts are asked for by leaving it out.
        throw new StateError(
          `the input state folder ${input} does not exist; check the path, or leave out inputStateFolder ` +
            `(--input-state) to start from a fresh model`,
        );
      }
      if (state.recoveredFrom !== undefined) {
        this.logger.warn(`${state.dir} was missing after an interrupted write; recovered the last committed state from ${state.recoveredFrom}`);
      }
      const schema = (this.constructor as typeof ModelUpdater).optionsSchema;
      const data = await checkUpdaterState(state, schema, { dataSettingsSchema: this.options.dataSettingsSchema, logger: this.logger });
      await this.loadState(state.files, data);
      this.ownStates.set(await this.stateStore.resolve(state.dir), state.manifest.manifestSha256);
    }
    this.prepared = true;
  }

  /** Updates the model with a new chunk of data; returns the model. */
  async update(trainDataset: Dataset, updateOptions: UpdateOptions = {}): Promise<ContinualModel> {
    await this.prepare();
    const taskId = updateOptions.taskId ?? DEFAULT_TASK_ID;
    const trainName = updateOptions.dataNames?.train ?? "training dataset";
    const valName = updateOptions.dataNames?.val ?? "validation dataset";
    this.checkDataset(trainDataset, trainName);
    if (trainDataset.length === 0) throw new DataError(`${trainName} is empty: nothing to update with`);
    if (updateOptions.valDataset) this.checkDataset(updateOptions.valDataset, valName);
    const classes = Math.max(trainDataset.numClasses, updateOptions.valDataset?.numClasses ?? 0);
    this.currentValidation = undefined;
    this.validationGivenAgain = false;
    if (updateOptions.valDataset) {
      // The same set given again (e.g. a standing validation file passed to every update) is validated on as this
      // update's, but kept once: a second copy would weigh it twice in every later val_accuracy.
      const kept = this.validationSets.find((set) => set.taskId === taskId && sameRows(set.dataset, updateOptions.valDataset!));
      this.validationGivenAgain = kept !== undefined;
      this.currentValidation = kept ?? { dataset: updateOptions.valDataset, taskId, source: updateOptions.valSource, update: this.updatesDone + 1 };
      if (kept === undefined) this.validationSets.push(this.currentValidation);
    }
    // The output's real path (a symlinked output is followed), checked before the lock and training, so a bad
    // output folder fails at once, not after an hour.
    const store = this.stateStore;
    const output = this.options.outputStateFolder === undefined ? undefined : await store.resolve(this.options.outputStateFolder);
    if (output !== undefined) await store.checkWritable(output, this.options.inputStateFolder);
    // Taken before training, so a second update writing the same output fails at once, not after an hour.
    const lock = output === undefined ? undefined : await store.lock(output);
    try {
      if (output !== undefined) await this.refuseSilentOverwrite(output);
      this.lastClassGrowth = undefined;
      this.growModel(classes, updateOptions.valDataset ? [trainDataset, updateOptions.valDataset] : [trainDataset]);
      this.model.ensureHead(taskId);
      this.lastUpdatePhases = [];
      this.updateCallbacks = updateOptions.callbacks ?? [];
      const historyLength = this.metricsHistory.length;
      try {
        await this.assertFiniteModel("before");
        await this.performUpdate(trainDataset, taskId);
        await this.assertTrainedModelFinite(trainDataset, taskId);
        this.commitUpdate();
      } catch (error) {
        this.metricsHistory.length = historyLength; // a failed update leaves no epochs behind
        this.abandonUpdate();
        throw error;
      } finally {
        this.updateCallbacks = [];
      }
      this.updatesDone++;
      if (updateOptions.dataSettings !== undefined) this.dataSettings = updateOptions.dataSettings;
      this.recordedConfig = updateOptions.config;
      this.queueJob = updateOptions.queueJob;
      if (output !== undefined) await this.saveState(output, lock);
    } finally {
      await lock?.release();
    }
    return this.model;
  }

  /**
   * NaN or infinite weights: before an update, a model given broken (or left
   * broken by a failed update) is a ModelError; after it, a TrainingError, so
   * nothing is saved. One reduction per weight, once each.
   */
  private async assertFiniteModel(when: "before" | "after"): Promise<void> {
    const bad = await this.model.nonFiniteWeights();
    if (bad.length === 0) return;
    const update = `update ${this.updatesDone + 1}`;
    if (when === "before") {
      throw new ModelError(
        `the model holds NaN or infinite weights (${listNames(bad)}) before ${update}: it cannot be trained. ` +
          `Give a model with finite weights, or resume from the last state saved (a failed update leaves its model broken)`,
      );
    }
    const phases = this.lastUpdatePhases.map((p) => p.phase).join(", ");
    throw new TrainingError(`training diverged: after ${update} (phases: ${phases}) weights ${listNames(bad)} are NaN or infinite. ${DIVERGENCE_FIXES}`);
  }

  /**
   * After training: finite weights, and finite outputs on every outputCheck (else a TrainingError, so nothing is
   * saved). update() runs it after performUpdate; an algorithm that reads the trained model's outputs within
   * performUpdate (iCaRL's herding) runs it first, so a diverged model fails the same way.
   */
  protected async assertTrainedModelFinite(trainDataset: Dataset, taskId: string): Promise<void> {
    await this.assertFiniteModel("after");
    for (const check of this.outputChecks(trainDataset, taskId)) {
      await assertFiniteOutputs(this.model, check.data, { ...check, transform: this.options.testTransform, update: `update ${this.updatesDone + 1}` });
    }
  }

  /**
   * Data the trained model must give finite outputs on before it is saved
   * (a bounded sample of each is run, see assertFiniteOutputs): the chunk,
   * through its task's head; replay updaters add their memory.
   */
  protected outputChecks(trainDataset: Dataset, taskId: string): OutputCheck[] {
    return [{ data: trainDataset, tasks: taskId, what: "this update's training data" }];
  }

  /**
   * Called once the model performUpdate trained passed the checks (finite
   * weights and outputs), before the update counts and its state is saved:
   * an algorithm that keeps more than the model (CLS-ER's weight averages)
   * makes this update's values its own here, and one that predicts with
   * another model than it trains puts that model's weights in place.
   * Default: nothing.
   */
  protected commitUpdate(): void {}

  /**
   * Called when the update failed (in performUpdate or a check after it),
   * before the error reaches the caller: undo what performUpdate kept aside
   * for commitUpdate. Default: nothing.
   */
  protected abandonUpdate(): void {}

  /** The algorithm: train whatever it trains on `trainDataset` (already validated). */
  protected abstract performUpdate(trainDataset: Dataset, taskId: string): Promise<void>;

  /**
   * Checks, before any training, what an update of this plan would refuse half-way: call it after `prepare()`, with
   * the task id of the first update (its head must exist) and the number of classes the updates will bring in all.
   * The base checks nothing; POD-ER and Super-ER check their layers' outputs against the pooling, iCaRL its memory
   * against the classes. A benchmark grid calls it for every cell before the first trains, so a bad setting fails
   * in seconds, not after hours of finished cells. Throws the OptionsError the update would throw.
   */
  async checkPlan(_plan: UpdatePlan): Promise<void> {}

  /** Algorithm-specific state: JSON for the manifest, files written through `files`. */
  protected abstract saveAlgorithmState(files: StateWriter): Promise<Record<string, unknown>>;
  /** Restores what saveAlgorithmState wrote. */
  protected abstract loadAlgorithmState(files: StateReader, data: Record<string, unknown>): Promise<void>;
  /** Option values specific to the algorithm, persisted in the manifest. */
  protected abstract algorithmOptions(): Record<string, unknown>;

  /** Seed of one phase of the current update. */
  protected phaseSeed(phase: string): number {
    return deriveSeed(this.options.seed, "update", this.updatesDone, phase);
  }

  /** Runs the training loop with this updater's optimizer, schedule, clipping, validation and callbacks. */
  protected async train(args: {
    phase: string;
    model: ContinualModel;
    taskId: string;
    data: BatchSource;
    loss: BatchLoss;
    /** Body layers whose outputs the loss reads (TrainOptions.activations). */
    activations?: readonly string[] | undefined;
    batchSize: number;
    epochs: number;
    stepsPerEpoch?: number | undefined;
    allowedClasses?: readonly number[] | undefined;
    /** Heads the loss also reads through, trained too (see TrainOptions.extraHeads). */
    extraHeads?: readonly string[] | undefined;
    /** Validate on every validation set seen so far (default) or on this update's only. */
    validationScope?: "all" | "current";
  }): Promise<PhaseReport> {
    const started = performance.now();
    const o = this.options;
    const metric = o.metric;
    const { validationScope, ...loopArgs } = args;
    const result = await trainModel({
      ...loopArgs,
      optimizer: o.optimizer,
      learningRateSchedule: o.learningRateScheduler,
      scheduleInterval: o.learningRateSchedulerInterval,
      gradientClipping: o.gradientClipVal === undefined ? undefined : { value: o.gradientClipVal, algorithm: o.gradientClipAlgorithm },
      metrics: { ...defaultMetrics, ...(o.loggedMetrics ?? {}) },
      validation: { sources: this.validationSources(validationScope ?? "all"), loss: this.lossFn },
      monitor:
        metric === undefined
          ? undefined
          : { metric, mode: o.mode, earlyStopping: o.earlyStoppingEnabled, patience: o.earlyStoppingPatience, restoreBest: true },
      callbacks: [...o.callbacks, ...this.updateCallbacks, this.epochRecorder],
      logger: this.logger,
      seed: this.phaseSeed(args.phase),
    });
    const validatedOn = this.validationSetsOf(validationScope ?? "all").map((set) => this.validationSets.indexOf(set));
    const report = { phase: args.phase, seconds: (performance.now() - started) / 1000, validatedOn, ...result };
    this.lastUpdatePhases.push(report);
    return report;
  }

  /**
   * Validates `model`, a model other than the one trained (CLS-ER's stable average, which the update keeps), on every
   * validation set, as a phase of its own with no epochs. Summaries and tuning read the last phase's val_ metrics,
   * so they then score the model the update keeps, not the one it trained (tester H, H1). No validation sets: nothing.
   */
  protected async validateAsPhase(phase: string, model: ContinualModel): Promise<void> {
    const metrics = { ...defaultMetrics, ...(this.options.loggedMetrics ?? {}) };
    await this.validateAsPhaseWith(phase, () => evaluateModel(model, this.validationSources("all"), { loss: this.lossFn, metrics, batchSize: this.options.batchSize, prefix: "val_" }));
  }

  /**
   * As validateAsPhase, with the scoring given: `evaluate` returns the phase's `val_` logs over the validation sets
   * (each a dataset and its task id), e.g. iCaRL's nearest-class-mean accuracy, which no logits give.
   */
  protected async validateAsPhaseWith(phase: string, evaluate: (sets: readonly { dataset: Dataset; taskId: string }[]) => Promise<Record<string, number>>): Promise<void> {
    const sets = this.validationSetsOf("all");
    if (sets.length === 0) return;
    const started = performance.now();
    const logs = await evaluate(sets);
    const validatedOn = sets.map((set) => this.validationSets.indexOf(set));
    this.lastUpdatePhases.push({ phase, seconds: (performance.now() - started) / 1000, validatedOn, epochsRun: 0, history: [logs], bestEpoch: null, stoppedEarly: false });
  }

  /** Keeps every epoch's metrics and learning rate for the state's logs. */
  private readonly epochRecorder: TrainingCallback = {
    onEpochEnd: (e) => {
      // Numbered from 1 like every update a person reads about (docs/design.md): the first update is update 1.
      this.metricsHistory.push({ update: this.updatesDone + 1, phase: e.phase, epoch: e.epoch, learningRate: e.learningRate, logs: { ...e.logs } });
    },
  };

  /** The transforms for chunk items being trained on. */
  protected get trainTransforms(): RowTransforms {
    return { transform: this.options.trainTransform, targetTransform: this.options.trainTargetTransform };
  }

  /** The transforms for memory items: the buffer ones, defaulting to the train ones (Renate's rule). */
  protected get bufferTransforms(): RowTransforms {
    const o = this.options;
    return { transform: o.bufferTransform ?? o.trainTransform, targetTransform: o.bufferTargetTransform ?? o.trainTargetTransform };
  }

  /**
   * Plain supervised training of the current model on `data` (fine-tuning,
   * joint, GDumb): the label loss, the options' batch size and epochs, and
   * with maskUnusedClasses the classes present in `data`. Items are of task
   * `taskId` unless `source.tasks` gives each its own. A regulariser (LwF,
   * EWC) passes its own `loss` (label loss plus its term), classes it needs
   * unmasked besides those present (`keepUnmasked`) and heads it reads
   * through (`extraHeads`).
   */
  protected trainOnLabels(
    phase: string,
    taskId: string,
    data: Dataset,
    source: DatasetSourceOptions,
    custom: { loss?: BatchLoss; keepUnmasked?: readonly number[]; extraHeads?: readonly string[] } = {},
  ): Promise<PhaseReport> {
    const o = this.options;
    const allowed = o.maskUnusedClasses ? [...new Set([...classesPresent(data), ...(custom.keepUnmasked ?? [])])].sort((a, b) => a - b) : undefined;
    return this.train({
      phase,
      model: this.model,
      taskId,
      data: datasetSource(data, source),
      loss: custom.loss ?? this.labelLoss,
      batchSize: o.batchSize,
      epochs: o.maxEpochs,
      allowedClasses: allowed,
      extraHeads: custom.extraHeads,
    });
  }

  /** Cross-entropy (or the user's loss) on the batch labels, as a BatchLoss. */
  protected get labelLoss(): BatchLoss {
    // The shared function, so the training loop knows it is plain cross-entropy (its whole-step path).
    if (this.lossFn === crossEntropyLoss) return crossEntropyBatchLoss;
    return (logits, batch) => this.lossFn(logits, batch.labels);
  }

  /**
   * Refuses to replace a state at `output` that is not one this updater
   * resumed from or wrote itself, unless overwriteOutputState: a missing
   * --input-state (or a wrong output path) must not silently destroy a state.
   */
  private async refuseSilentOverwrite(output: string): Promise<void> {
    const input = this.options.inputStateFolder;
    if (this.options.overwriteOutputState || this.ownStates.has(output)) return;
    if (await this.stateStore.holdsState(output)) {
      throw new StateError(
        `the output state folder ${output} already holds a state, and this update would replace it with one that ` +
          `${input === undefined ? "starts from a fresh model" : `continues ${input}`}. To continue ${output}, give it as ` +
          `the input state too (--input-state ${output}); to replace it, set overwriteOutputState ` +
          `(--overwrite-output-state); or choose another output folder`,
      );
    }
  }

  /**
   * Writes the complete state under `name` in the updater's store,
   * atomically. With `lock` (the output's, taken by update()), the write is
   * abandoned if the lock was lost to another process before the new state
   * is committed. A state this updater resumed from or wrote that someone
   * else replaced since is never overwritten (StateError): that would lose
   * their update.
   */
  async saveState(name: string, lock?: StateLock): Promise<void> {
    const model = this.model;
    const store = this.stateStore;
    const target = await store.resolve(name);
    const expectedPrevious = this.ownStates.has(target) ? (this.ownStates.get(target) ?? undefined) : undefined;
    const manifest = await store.write(target, {
      kind: this.kind,
      ...(lock === undefined ? {} : { beforeCommit: () => lock.verify() }),
      ...(expectedPrevious === undefined ? {} : { expectedPrevious }),
      write: async (files) => {
        await saveModelFiles(model, files, "model");
        const validation = await this.saveValidationSets(files);
        await writeStateLogs(files, this.metricsHistory);
        for (const [path, bytes] of this.carriedFiles) await files.writeFile(path, bytes);
        const algorithm = await this.saveAlgorithmState(files);
        return {
          updatesDone: this.updatesDone,
          model: { spec: model.spec ?? null, multiHead: model.multiHead, taskIds: model.taskIds(), inputShape: model.inputShape, numClasses: model.numClasses },
          options: { ...persistableOptions(this.options, PERSISTED_COMMON_KEYS), ...this.algorithmOptions() },
          validation,
          algorithm,
          ...(this.dataSettings === undefined ? {} : { data: this.dataSettings }),
          ...(this.recordedConfig === undefined ? {} : { config: this.recordedConfig }),
          ...(this.queueJob === undefined ? {} : { queueJob: this.queueJob }),
        };
      },
    });
    this.ownStates.set(target, manifest.manifestSha256);
  }

  private async loadState(files: StateReader, data: UpdaterStateData): Promise<void> {
    const dir = files.location;
    const saved = await loadModelFiles(files, "model");
    let grownTo: number | undefined;
    try {
      if (this.currentModel) {
        grownTo = this.matchClassCounts(saved, this.currentModel, dir);
        // The model given wins: its freeze flags, not the state's, decide what trains from now on.
        const recorded = saved.frozenWeightNames().sort();
        for (const taskId of saved.taskIds()) this.currentModel.ensureHead(taskId);
        try {
          this.currentModel.shareTrainabilityWith(saved);
        } catch {
          // Another architecture: copyWeightsInto names the difference.
        }
        const now = saved.frozenWeightNames().sort();
        if (recorded.length !== now.length || recorded.some((name, i) => name !== now[i])) {
          this.logger.warn(
            `the model given freezes other weights than ${dir}/model recorded (${recorded.length} frozen there, ${now.length} in the model given); ` +
              `the model given decides what trains`,
          );
        }
        copyWeightsInto(saved, this.currentModel, dir);
      }
      else this.currentModel = saved;
    } finally {
      if (this.currentModel !== saved) saved.dispose();
    }
    this.updatesDone = data.updatesDone;
    if (data.data !== undefined) this.dataSettings = data.data;
    this.recordedConfig = data.config;
    this.queueJob = data.queueJob;
    this.metricsHistory = await readStateLogs(files);
    for (const path of CARRIED_FILES) if (files.has(path)) this.carriedFiles.set(path, await files.readFile(path));
    this.validationSets = await this.loadValidationSets(files, data.validation);
    await this.loadAlgorithmState(files, data.algorithm);
    if (grownTo !== undefined) this.onClassesGrown(grownTo);
  }

  /**
   * A resumed state's model and the model given may differ in class count
   * only through growClasses: a state that grew is resumed with the model
   * given (built from a config that still says the old count) grown to the
   * state's count; a model given with MORE classes than the state (its config
   * raised) grows the state's model when growClasses is on, and returns that
   * count so the memory is widened too. Anything else is a StateError that
   * says what to change.
   */
  private matchClassCounts(saved: ContinualModel, given: ContinualModel, dir: string): number | undefined {
    if (saved.numClasses === given.numClasses) return undefined;
    if (saved.numClasses > given.numClasses && given.spec !== undefined) {
      given.growClasses(saved.numClasses);
      return undefined;
    }
    if (saved.numClasses < given.numClasses && this.options.growClasses) {
      saved.growClasses(given.numClasses);
      return given.numClasses;
    }
    throw new StateError(
      `${dir}/model has ${saved.numClasses} outputs but the model given to the updater has ${given.numClasses} ` +
        `(a config's "model.classes"). To grow the state's model to ${given.numClasses} classes, set the updater option ` +
        `growClasses: true (config "options.growClasses", CLI --grow-classes); or give a model with ${saved.numClasses} classes`,
    );
  }

  private async saveValidationSets(files: StateWriter): Promise<unknown[]> {
    const out: unknown[] = [];
    for (const [i, { dataset, taskId, source, update }] of this.validationSets.entries()) {
      out.push({
        taskId,
        ...(source === undefined ? {} : { source }),
        ...(update === undefined ? {} : { update }),
        featureShape: dataset.featureShape,
        numClasses: dataset.numClasses,
        features: await writeColumn(files, VALIDATION_FOLDER, `${i}.features`, dataset.features),
        labels: await writeColumn(files, VALIDATION_FOLDER, `${i}.labels`, dataset.labels),
      });
    }
    return out;
  }

  private async loadValidationSets(files: StateReader, entries: UpdaterStateData["validation"]): Promise<ValidationSet[]> {
    const sets: ValidationSet[] = [];
    for (const entry of entries) {
      const features = await readColumn(files, VALIDATION_FOLDER, entry.features);
      const labels = await readColumn(files, VALIDATION_FOLDER, entry.labels);
      if (!(features instanceof Float32Array) || !(labels instanceof Int32Array)) {
        throw new StateError(`${files.location}/${VALIDATION_FOLDER}: validation set of task ${entry.taskId} has the wrong column types`);
      }
      sets.push({
        taskId: entry.taskId,
        source: entry.source,
        update: entry.update,
        dataset: { features, labels, featureShape: entry.featureShape, numClasses: entry.numClasses, length: labels.length },
      });
    }
    return sets;
  }

  private resolveModel(): ContinualModel | undefined {
    const model = this.options.model;
    if (model === undefined) return undefined;
    if (model instanceof ContinualModel) return model;
    if (model instanceof tfl.LayersModel) return ContinualModel.fromLayersModel(model, { seed: this.options.seed });
    return ContinualModel.build(model, { seed: this.options.seed });
  }

  /**
   * Rejects data the model cannot take, before any training starts. More
   * classes than the model has outputs is fine with growClasses (update()
   * then grows the model) and a DataError saying how to allow it otherwise.
   */
  private checkDataset(dataset: Dataset, what: string): void {
    const model = this.model;
    const expected = model.inputShape;
    if (!tf.util.arraysEqual([...dataset.featureShape], [...expected])) {
      throw new DataError(`${what}: samples have shape [${dataset.featureShape}] but the model takes [${expected}]`);
    }
    if (dataset.numClasses > model.numClasses && !this.options.growClasses) {
      const outputs = model.numClasses;
      const unknown = classesPresent(dataset).filter((c) => c >= outputs);
      const firstRow = dataset.labels.findIndex((label) => label >= outputs) + 1;
      const has =
        unknown.length > 0
          ? `has class${unknown.length > 1 ? "es" : ""} ${unknown.join(", ")} (first in data row ${firstRow}), but the model has ` +
            `${outputs} outputs (classes 0..${outputs - 1}): new classes appeared`
          : `declares ${dataset.numClasses} classes, but the model has ${outputs} outputs (classes 0..${outputs - 1})`;
      throw new DataError(
        `${what} ${has}. ` +
          `To let the output layer grow to ${dataset.numClasses} classes (old classes' weights kept), set the updater option ` +
          `growClasses: true (config "options.growClasses", CLI --grow-classes); or, if the label is a mistake, fix the data`,
      );
    }
  }

  /**
   * Grows the model to `classes` outputs when it has fewer (checkDataset
   * allowed it: growClasses is on), then lets the algorithm widen what it
   * stores per class (onClassesGrown).
   */
  private growModel(classes: number, data: readonly Dataset[]): void {
    const before = this.model.numClasses;
    if (classes <= before) return;
    // Every class up to the largest label gets an output; new ones without a sample here hint at a mistyped label.
    const present = new Set(data.flatMap((dataset) => classesPresent(dataset)));
    const empty = Array.from({ length: classes - before }, (_, i) => before + i).filter((c) => !present.has(c));
    if (empty.length > MAX_EMPTY_NEW_CLASSES) {
      // A label like 100000 in a 10-class file is a typo, not 99,990 new classes: growing would allocate an output
      // layer of that width (hundreds of MiB to GiB of weights) and train classes no data can ever teach.
      const largest = Math.max(...data.map((dataset) => dataset.labels.reduce((m, l) => Math.max(m, l), 0)));
      throw new DataError(
        `growing the output layer from ${before} to ${classes} classes (largest label ${largest}) would add ${empty.length} classes ` +
          `without a single sample in this update's data (more than ${MAX_EMPTY_NEW_CLASSES}): labels are class indices 0..K-1, ` +
          `so this is most likely a mistyped label; fix the data, or give the classes names (data.classNames)`,
      );
    }
    if (empty.length > 0) {
      const shown = empty.length > 5 ? `${empty.slice(0, 5).join(", ")}, ... (${empty.length} classes)` : empty.join(", ");
      this.logger.warn(`growing to ${classes} classes adds classes without a sample in this update's data: ${shown}; check the labels for a typo`);
    }
    this.model.growClasses(classes);
    this.onClassesGrown(classes);
    this.lastClassGrowth = { from: before, to: classes };
    this.logger.info(`relearn: the output layer grew from ${before} to ${classes} classes (growClasses)`);
  }

  /**
   * Called after the model grew to `classes` outputs (in update(), or when a
   * resumed state's model is grown to the model given): widen whatever the
   * algorithm stores per class, e.g. stored logits. Default: nothing.
   */
  protected onClassesGrown(classes: number): void {
    void classes;
  }
}

/**
 * The most classes without a sample one growth may add (growClasses). A few are normal (labels 0..9, then a chunk with
 * 12 but not yet 10 or 11); thousands mean a mistyped label.
 */
export const MAX_EMPTY_NEW_CLASSES = 1000;

/** Puts the weights of `source` into `target` (same architecture), adding heads as needed. */
function copyWeightsInto(source: ContinualModel, target: ContinualModel, dir: string): void {
  for (const taskId of source.taskIds()) target.ensureHead(taskId);
  const weights = source.snapshotWeights();
  try {
    const targetShapes = target.snapshotWeights();
    try {
      const mismatch =
        weights.length !== targetShapes.length ||
        weights.some((w, i) => !tf.util.arraysEqual(w.shape, targetShapes[i]!.shape));
      if (mismatch) {
        throw new StateError(
          `${dir}/model: the saved model's architecture differs from the model given to the updater ` +
            `(${weights.length} weight tensors [${weights.map((w) => w.shape.join("x")).join(", ")}] vs ` +
            `${targetShapes.length} [${targetShapes.map((w) => w.shape.join("x")).join(", ")}])`,
        );
      }
    } finally {
      tf.dispose(targetShapes);
    }
    target.restoreWeights(weights);
  } finally {
    tf.dispose(weights);
  }
}

/** True when `a` and `b` hold the same rows in the same order: sample shape, feature bits and labels. */
function sameRows(a: Dataset, b: Dataset): boolean {
  if (a.length !== b.length || a.featureShape.length !== b.featureShape.length) return false;
  if (!a.featureShape.every((dim, i) => dim === b.featureShape[i])) return false;
  // Bits, not values: NaN never equals itself, and -0 and 0 are different inputs. (No Buffer: this runs in browsers too.)
  const words = (array: Float32Array | Int32Array) => new Uint32Array(array.buffer, array.byteOffset, array.length);
  const same = (x: Uint32Array, y: Uint32Array) => x.length === y.length && x.every((word, i) => word === y[i]);
  return same(words(a.labels), words(b.labels)) && same(words(a.features), words(b.features));
}
