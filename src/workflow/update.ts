/**
 * One production update, as `relearn update` runs it: read the config (given, or
 * the one the input state records) and the data, resume from the input state (or
 * start fresh), update, write the output state atomically with the config
 * recorded in it, and return a summary. The library call behind the CLI.
 */
import type { Dataset } from "../data/dataset.js";
import { classHistogram } from "../data/dataset_ops.js";
import type { Logger } from "../logger.js";
import type { TrainingCallback, TrainingLogs } from "../training/callbacks.js";
import type { ReplayBuffer } from "../memory/replay_buffer.js";
import { createUpdater, updaterEntry } from "../updaters/registry.js";
import { ICaRLModelUpdater } from "../updaters/icarl.js";
import { detectSampleDrift, type DriftOptions, type DriftReport } from "../drift/detector.js";
import type { ValidationSetInfo } from "../updaters/model_updater.js";
import type { RelearnConfig } from "./config.js";
import { readDataFileWithInfo, type DataFile, type DataReading, type ReadData, type ReadFormat } from "./data_files.js";
import { mergeClassNames } from "../data/label_map.js";
import type { ModelUpdater } from "../updaters/model_updater.js";
import type { DataFormat } from "./config.js";
import { readStateDataSettings, stateDataSettings, stateDataSettingsSchema, trainingColumns, type StateDataSettings } from "./state_data.js";
import { recordableConfig, resolveUpdateConfig, type ConfigOverrides } from "./state_config.js";

export interface UpdateRequest {
  /**
   * The config to run with, recorded in the output state. Leave it out to continue with the config the input state
   * records (see state_config.ts for the rules: its updater must be the state's when both are there).
   */
  config?: RelearnConfig | undefined;
  /** Settings for this update only, over the config (command-line flags); not recorded in the output state. */
  overrides?: ConfigOverrides | undefined;
  data: DataFile;
  val?: DataFile | undefined;
  /** Resume from this state folder (it must exist); leave it out to start from a fresh model. */
  inputState?: string | undefined;
  outputState: string;
  /** Replace a state already in outputState that is not inputState (refused otherwise). */
  overwriteOutputState?: boolean | undefined;
  taskId?: string | undefined;
  callbacks?: readonly TrainingCallback[] | undefined;
  logger?: Logger | undefined;
  /** The id of the queue job running this update (src/queue/jobs/update.ts), recorded in the output state. */
  queueJob?: string | undefined;
  /** Test the new data's raw features against the memory's before training (`relearn update --drift`); see UpdateSummary.drift. */
  drift?: DriftOptions | undefined;
}

/** The new data against the memory the update starts from: a report, or why there is none. */
/** `kept`: what the items are, the replay memory or iCaRL's exemplars. */
export type MemoryDrift = { memoryItems: number; kept: "memory" | "exemplars"; report: DriftReport } | { skipped: string };

export interface PhaseSummary {
  phase: string;
  epochsRun: number;
  bestEpoch: number | null;
  stoppedEarly: boolean;
  seconds: number;
  /** The last epoch's logged metrics (train_/val_ loss and accuracy). */
  last: TrainingLogs;
  /**
   * The logged metrics of the epoch whose weights the phase kept: the best epoch when a monitored metric restored
   * its weights (options.metric), else the last epoch (then equal to `last`).
   */
  kept: TrainingLogs;
  /** The validation sets the phase validated on: indices into UpdateSummary.validationSets. */
  validatedOn: number[];
}

export interface UpdateSummary {
  updater: string;
  backend: string;
  updatesDone: number;
  outputState: string;
  /**
   * The training file: samples, classes, and how it was read (CSV header row or not, label column); `classNames`:
   * the names of the classes in index order, when the state has them (stored in the state for evaluate and predict).
   */
  data: { file: string; items: number; classHistogram: number[]; read: DataReading; classNames?: string[] };
  validation?: { file: string; items: number; read: DataReading };
  /**
   * Every validation set the state keeps, in the order added: this update's (`current`) and those remembered
   * from earlier updates, which the phases validate on again (see PhaseSummary.validatedOn).
   */
  validationSets: ValidationSetInfo[];
  phases: PhaseSummary[];
  /** The class count before and after this update, when it grew the output layer (growClasses). */
  classesGrown?: { from: number; to: number };
  memory?: { length: number; capacity: number; seen: number; classHistogram: number[] };
  /** An iCaRL update's exemplars (chosen by herding, memorySize split over the classes), which it keeps instead of a replay memory. */
  exemplars?: { length: number; memorySize: number; classHistogram: number[] };
  /** With `drift` in the request: the new data's drift from the memory as it was before this update. */
  drift?: MemoryDrift;
  seconds: number;
}

/** Runs one update described by `request`; nothing is written unless it succeeds. */
export async function updateFromConfig(request: UpdateRequest): Promise<UpdateSummary> {
  const started = performance.now();
  const { run: config, recorded } = await resolveUpdateConfig(request);
  // No class bound: the model's class count is the resumed state's, which the updater knows; it refuses labels beyond
  // it with an error that says how to let the model grow (growClasses), or grows it.
  const model = { featureShape: config.model.inputShape };
  if (config.options.memorySize !== undefined && !updaterEntry(config.updater).usesMemory) {
    // Not an error: configs written before init left it out for these updaters carry one (tester H, H7).
    request.logger?.warn(`updater "${config.updater}" keeps no memory: memorySize ${config.options.memorySize} (the config's options, or --memory-size) is ignored`);
  }
  const updater = createUpdater(config.updater, {
    ...config.options,
    model: config.model,
    inputStateFolder: request.inputState,
    outputStateFolder: request.outputState,
    overwriteOutputState: request.overwriteOutputState ?? false,
    logger: request.logger,
    dataSettingsSchema: stateDataSettingsSchema,
  });
  let train: Dataset;
  let reading: DataReading;
  let validation: ReadData<Dataset> | undefined;
  let drift: MemoryDrift | undefined;
  try {
    // Class names the input state keeps decide how labels read; a fresh start may build them from the data.
    // Nothing is written before the data has been read and checked: bad data writes nothing.
    const { format, stored } = await trainingFormat(updater, request.inputState, config.data, config.options.growClasses === true);
    ({ samples: train, reading } = await readDataFileWithInfo(request.data, format, model));
    const columns = trainingColumns(reading.format === "csv" ? reading : null, stored);
    // Validation labels go through the training file's classes: a class only there has no training data. Its
    // columns are the training file's too: a header is read by their names, a file without one has the label where it was.
    const valFormat: ReadFormat = {
      ...config.data,
      ...(reading.classNames === undefined ? {} : { classNames: reading.classNames }),
      ...(columns.featureNames === undefined ? {} : { featureNames: columns.featureNames }),
      ...(columns.labelColumnRead === undefined ? {} : { labelColumnFallback: columns.labelColumnRead }),
    };
    validation = request.val ? await readDataFileWithInfo(request.val, valFormat, model) : undefined;
    if (request.drift !== undefined) drift = await memoryDrift(updater, config.updater, train, request.drift);
    await updater.update(train, {
      valDataset: validation?.samples,
      valSource: request.val?.path,
      taskId: request.taskId,
      callbacks: request.callbacks,
      dataSettings: stateDataSettings(
        { ...config.data, ...(reading.classNames === undefined ? {} : { classNames: reading.classNames }) },
        reading.header,
        reading.delimiter ?? null,
        columns,
      ),
      dataNames: { train: request.data.path, val: request.val?.path },
      config: recordableConfig(recorded),
      queueJob: request.queueJob,
    });
  } finally {
    // The model lives on in the output state; in memory it (and any tensor the updater keeps) is ours to free, also when the update failed.
    updater.dispose();
  }
  const memory = (updater as unknown as { memory?: ReplayBuffer }).memory;
  const exemplars = updater instanceof ICaRLModelUpdater ? updater.exemplars : undefined;
  return {
    updater: config.updater,
    backend: updater.backendInfo?.name ?? "unknown",
    updatesDone: updater.updatesDone,
    outputState: request.outputState,
    data: {
      file: request.data.path, items: train.length, classHistogram: classHistogram(train), read: reading,
      ...(reading.classNames === undefined ? {} : { classNames: reading.classNames }),
    },
    ...(validation && request.val ? { validation: { file: request.val.path, items: validation.samples.length, read: validation.reading } } : {}),
    validationSets: updater.validationSetInfo(),
    phases: updater.lastUpdatePhases.map((p) => ({
      phase: p.phase,
      epochsRun: p.epochsRun,
      bestEpoch: p.bestEpoch,
      stoppedEarly: p.stoppedEarly,
      seconds: p.seconds,
      last: p.history.at(-1) ?? {},
      kept: (p.bestEpoch === null ? undefined : p.history[p.bestEpoch]) ?? p.history.at(-1) ?? {},
      validatedOn: p.validatedOn,
    })),
    ...(updater.lastClassGrowth ? { classesGrown: updater.lastClassGrowth } : {}),
    ...(memory ? { memory: { length: memory.length, capacity: memory.capacity, seen: memory.seen, classHistogram: memory.classHistogram() } } : {}),
    ...(exemplars && updater instanceof ICaRLModelUpdater ? { exemplars: { length: exemplars.length, memorySize: updater.memorySize, classHistogram: classHistogram(exemplars) } } : {}),
    ...(drift ? { drift } : {}),
    seconds: (performance.now() - started) / 1000,
  };
}

/**
 * Drift of `train` from the updater's memory as loaded from the input state (prepare() loads it): the replay memory,
 * or iCaRL's exemplars, which it keeps instead (tester H, H8).
 */
async function memoryDrift(updater: ReturnType<typeof createUpdater>, name: string, train: Dataset, options: DriftOptions): Promise<MemoryDrift> {
  await updater.prepare();
  const kept = keptItems(updater);
  if (kept === undefined) return { skipped: `updater ${name} keeps no memory to compare with` };
  const length = kept.items?.length ?? 0;
  const minimum = (options.detector ?? "mmd") === "mmd" ? 2 : 1;
  if (length < minimum) return { skipped: `the ${kept.what} hold${kept.what === "memory" ? "s" : ""} ${length} item(s) (the first update starts with none)` };
  if (train.length < minimum) return { skipped: `the new data has ${train.length} row(s); the ${options.detector ?? "mmd"} test needs ${minimum}` };
  return { memoryItems: length, kept: kept.what, report: await detectSampleDrift(kept.items!, train, options) };
}

/** The items an updater keeps from earlier data (undefined for none: lwf, ewc...); none yet before its first update. */
function keptItems(updater: ReturnType<typeof createUpdater>): { items: Dataset | undefined; what: "memory" | "exemplars" } | undefined {
  if (updater instanceof ICaRLModelUpdater) return { items: updater.exemplars, what: "exemplars" };
  const memory = (updater as unknown as { memory?: ReplayBuffer }).memory;
  return memory === undefined ? undefined : { items: memory.asDataset(), what: "memory" };
}

/**
 * How the training file of an update is read: the config's data settings, with the class names of the input state
 * (and any the config adds after them). Without an input state and without names in the config, label names in the
 * file become the state's classes, sorted. A name not in the list is a DataError, or with `grow` (growClasses) it is
 * added after the others (extendLabelMap) and the updater grows the output layer for it. A state trained on class
 * indices never gets names from data alone: sorted names would collide with its indices.
 * The input state's training columns apply too: a file with a header is read by the recorded feature names (another
 * order is put right, other names are an error), and one without a header has its label where the state's had it.
 */
async function trainingFormat(
  updater: ModelUpdater,
  inputState: string | undefined,
  data: DataFormat,
  grow: boolean,
): Promise<{ format: ReadFormat; stored: StateDataSettings | undefined }> {
  if (inputState === undefined) return { format: { ...data, newClassNames: data.classNames === undefined || grow ? "add" : "error" }, stored: undefined };
  await updater.prepare();
  const stored = readStateDataSettings({ data: updater.storedDataSettings }, inputState);
  const classNames = mergeClassNames(stored?.classNames, data.classNames, { stored: `the input state ${inputState}`, given: "the config's \"data.classNames\"" });
  const format: ReadFormat = {
    ...data,
    ...(classNames === undefined ? {} : { classNames, newClassNames: grow ? "add" : "error" }),
    modelOutputs: updater.model.numClasses,
    ...(stored?.featureNames === undefined ? {} : { featureNames: stored.featureNames }),
    ...(stored?.labelColumnRead === undefined ? {} : { labelColumnFallback: stored.labelColumnRead }),
  };
  return { format, stored };
}
