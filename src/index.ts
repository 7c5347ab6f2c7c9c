/**
 * relearn: continual learning for TypeScript on TensorFlow.js.
 * The Node entry point (package.json "exports" gives browsers browser.ts):
 * the core (core.ts) plus what needs Node: files, folders, the workflow
 * behind the CLI, TensorBoard writers, the file-system state store.
 */
export * from "./core.js";

// States as folders: the file-system store (the default in Node) and its parts.
export { fileSystemStore } from "./state/fs_store.js";
export { readStateFolder } from "./state/read_state.js";
export { lockStateFolder, LockHeldElsewhereError, type LockOptions } from "./state/lock.js";

// Reports written as files.
export { writeResultsFolder } from "./reporting/files.js";

// Models as folders.
export { saveModel, loadModel, fileSystemIO, exportModelToFolder } from "./model/io.js";

// Data files read from paths.
export { loadIdx, loadIdxImages, type LoadIdxOptions } from "./data/idx_file.js";
export { loadCsv, loadUnlabelledCsv, loadCsvWithInfo, loadUnlabelledCsvWithInfo } from "./data/csv_file.js";
export { loadFashionMnist, type FashionMnist, type FashionMnistOptions } from "./data/fashion_mnist.js";

// The production workflow: config files and state folders, one call per CLI command.
export { readConfig, writeConfig, parseConfig, defaultConfig, configJsonSchema, relearnConfigSchema, type RelearnConfig, type DataFormat } from "./workflow/config.js";
export { updateFromConfig, type UpdateRequest, type UpdateSummary, type MemoryDrift } from "./workflow/update.js";
export type { ConfigOverrides } from "./workflow/state_config.js";
export { evaluateState, type Evaluation } from "./workflow/evaluate_state.js";
export { predictState, predictionsToCsv, predictionsToJsonl } from "./workflow/predict_state.js";
export { driftFromFiles, type DriftRequest, type DriftFilesReport } from "./workflow/drift_files.js";
export { inspectState, type StateInspection } from "./workflow/inspect_state.js";
export { readDataFile, readDataFileWithInfo, type DataFile, type DataReading } from "./workflow/data_files.js";

// Tuning: search spaces, schedulers (ask/tell), trials as JSON spec -> outcome, `relearn tune` and `update --tune`.
export {
  SEARCH_SPACE_PRESETS, searchSpaceSchema, toSearchSpace, sampleSpace, gridValues, applyParams,
  type SearchSpace, type SearchSpaceInput, type Domain, type Params, type ParamValue,
} from "./tuning/search_space.js";
export { tuningSettingsSchema, type TuningSettings, type TuningSettingsInput } from "./tuning/settings.js";
export { randomSearch, gridSearch, gridPoints, type Scheduler, type TrialRequest, type Ask } from "./tuning/scheduler.js";
export { AshaScheduler, ashaRungs, type AshaOptions } from "./tuning/asha.js";
export { runSearch, bestOf } from "./tuning/search.js";
export { runTrial, trialSpecSchema, type TrialSpec, type TrialOutcome } from "./tuning/trial.js";
export { localExecutor, type TrialExecutor } from "./tuning/executor.js";
export { runTuning, type TuneRequest, type TuneResult, type TuneProgress } from "./tuning/tune.js";
export { tunedUpdate, type TunedUpdateRequest, type TunedUpdateSummary } from "./tuning/tune_update.js";
export { formatTrialsCsv, parseTrialsCsv, TUNING_HISTORY_FILE } from "./tuning/trials_table.js";

// Logs written as files: TensorBoard event files (without tfjs-node) and per-epoch logs.
export { TensorBoardWriter } from "./reporting/tensorboard.js";
export { trainingLogCallbacks, type TrainingLog } from "./reporting/training_log.js";
