/**
 * One production update, as `relearn update` runs it: read the config and the
 * data, resume from the input state (or start fresh), update, write the output
 * state atomically, and return a summary. The library call behind the CLI.
 */
import type { Dataset } from "../data/dataset.js";
import { classHistogram } from "../data/dataset_ops.js";
import type { Logger } from "../logger.js";
import type { TrainingCallback, TrainingLogs } from "../training/callbacks.js";
import type { ReplayBuffer } from "../memory/replay_buffer.js";
import { createUpdater } from "../updaters/registry.js";
import type { ValidationSetInfo } from "../updaters/model_updater.js";
import type { RelearnConfig } from "./config.js";
import { readDataFileWithInfo, type DataFile, type DataReading } from "./data_files.js";
import { stateDataSettings, stateDataSettingsSchema } from "./state_data.js";

export interface UpdateRequest {
  config: RelearnConfig;
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
}

export interface PhaseSummary {
  phase: string;
  epochsRun: number;
  bestEpoch: number | null;
  stoppedEarly: boolean;
  seconds: number;
  /** The last epoch's logged metrics (train_/val_ loss and accuracy). */
  last: TrainingLogs;
  /** The validation sets the phase validated on: indices into UpdateSummary.validationSets. */
  validatedOn: number[];
}

export interface UpdateSummary {
  updater: string;
  backend: string;
  updatesDone: number;
  outputState: string;
  /** The training file: samples, classes, and how it was read (CSV header row or not, label column). */
  data: { file: string; items: number; classHistogram: number[]; read: DataReading };
  validation?: { file: string; items: number; read: DataReading };
  /**
   * Every validation set the state keeps, in the order added: this update's (`current`) and those remembered
   * from earlier updates, which the phases validate on again (see PhaseSummary.validatedOn).
   */
  validationSets: ValidationSetInfo[];
  phases: PhaseSummary[];
  memory?: { length: number; capacity: number; seen: number; classHistogram: number[] };
  seconds: number;
}

/** Runs one update described by `request`; nothing is written unless it succeeds. */
export async function updateFromConfig(request: UpdateRequest): Promise<UpdateSummary> {
  const started = performance.now();
  const { config } = request;
  const model = { featureShape: config.model.inputShape, numClasses: config.model.classes };
  // Read and check all data before touching any state: bad data writes nothing.
  const { samples: train, reading } = await readDataFileWithInfo(request.data, config.data, model);
  const validation = request.val ? await readDataFileWithInfo(request.val, config.data, model) : undefined;
  const val: Dataset | undefined = validation?.samples;
  const updater = createUpdater(config.updater, {
    ...config.options,
    model: config.model,
    inputStateFolder: request.inputState,
    outputStateFolder: request.outputState,
    overwriteOutputState: request.overwriteOutputState ?? false,
    logger: request.logger,
    dataSettingsSchema: stateDataSettingsSchema,
  });
  try {
    await updater.update(train, {
      valDataset: val,
      valSource: request.val?.path,
      taskId: request.taskId,
      callbacks: request.callbacks,
      dataSettings: stateDataSettings(config.data, reading.header),
    });
  } finally {
    // The model lives on in the output state; in memory it is ours to free (also when the update failed).
    if (updater.hasModel) updater.model.dispose();
  }
  const memory = (updater as unknown as { memory?: ReplayBuffer }).memory;
  return {
    updater: config.updater,
    backend: updater.backendInfo?.name ?? "unknown",
    updatesDone: updater.updatesDone,
    outputState: request.outputState,
    data: { file: request.data.path, items: train.length, classHistogram: classHistogram(train), read: reading },
    ...(validation && request.val ? { validation: { file: request.val.path, items: validation.samples.length, read: validation.reading } } : {}),
    validationSets: updater.validationSetInfo(),
    phases: updater.lastUpdatePhases.map((p) => ({
      phase: p.phase,
      epochsRun: p.epochsRun,
      bestEpoch: p.bestEpoch,
      stoppedEarly: p.stoppedEarly,
      seconds: p.seconds,
      last: p.history.at(-1) ?? {},
      validatedOn: p.validatedOn,
    })),
    ...(memory ? { memory: { length: memory.length, capacity: memory.capacity, seen: memory.seen, classHistogram: memory.classHistogram() } } : {}),
    seconds: (performance.now() - started) / 1000,
  };
}
