/**
 * relearn: continual learning for TypeScript on TensorFlow.js.
 * The one public entry point; exports are grouped by concern.
 */

// Updaters: one class per algorithm, sharing the ModelUpdater framework.
export { ModelUpdater, type UpdateOptions, type PhaseReport } from "./updaters/model_updater.js";
export {
  RepeatedDistillationModelUpdater,
  consolidationSchedule,
  budgetConsolidationEpochs,
  CONSOLIDATION_SAMPLE_BUDGET,
  type RepeatedDistillationOptions,
} from "./updaters/repeated_distillation.js";
export { FineTuningModelUpdater } from "./updaters/fine_tuning.js";
export { JointModelUpdater } from "./updaters/joint.js";
export { ExperienceReplayModelUpdater, type ExperienceReplayOptions } from "./updaters/experience_replay.js";
export { OfflineExperienceReplayModelUpdater } from "./updaters/offline_experience_replay.js";
export { GDumbModelUpdater } from "./updaters/gdumb.js";
export { DarkExperienceReplayModelUpdater, darkExperienceReplayLoss } from "./updaters/dark_experience_replay.js";
export { DEFAULT_OPTIMIZER, type ModelUpdaterOptions, type ResolvedOptions } from "./updaters/options.js";
export { UPDATERS, UPDATER_NAMES, createUpdater, type UpdaterName } from "./updaters/registry.js";

// Benchmarks and their reports.
export { runBenchmark, planRuns, type BenchmarkConfig, type RunProgress } from "./benchmark/run_benchmark.js";
export type { BenchmarkResults, RunResult } from "./reporting/results.js";
export { summarizeResults, formatComparisonTable, summaryToMarkdown } from "./reporting/summary.js";
export { writeResultsFolder } from "./reporting/files.js";

// Models: JSON specs built with a seed, user LayersModels, multi-head by task id, save/load.
export { ContinualModel, DEFAULT_TASK_ID, buildModel, type RowTasks } from "./model/continual_model.js";
export { mlp, cnn, parseModelSpec, modelSpecSchema, type ModelSpec, type MlpSpec, type CnnSpec } from "./model/spec.js";
export { saveModel, loadModel, fileSystemIO } from "./model/io.js";

// Backend selection.
export { initBackend, currentBackend, assertBackendSupports, type BackendName, type BackendInfo, type InitBackendOptions } from "./backend/backend.js";

// Data: typed-array datasets, transforms, readers.
export { type Dataset, type UnlabelledSamples, createDataset, featureSize } from "./data/dataset.js";
export { subsetDataset, concatDatasets, classHistogram, classesPresent, filterByClasses } from "./data/dataset_ops.js";
export {
  composeTransforms,
  composeTargetTransforms,
  normalize,
  randomHorizontalFlip,
  gatherBatch,
  type FeatureTransform,
  type TargetTransform,
  type TransformContext,
} from "./data/transforms.js";
export { parseIdx, encodeIdx } from "./data/idx.js";
export { loadIdx, loadIdxImages, type LoadIdxOptions } from "./data/idx_file.js";
export { parseCsv, parseUnlabelledCsv, parseCsvWithInfo, parseUnlabelledCsvWithInfo, type CsvOptions, type CsvHeader, type CsvHeaderRule, type CsvInfo } from "./data/csv.js";
export { loadCsv, loadUnlabelledCsv, loadCsvWithInfo, loadUnlabelledCsvWithInfo } from "./data/csv_file.js";
export { makeGaussianBlobs, type GaussianBlobsOptions } from "./data/synthetic.js";
export { loadFashionMnist, FASHION_MNIST_CLASSES, type FashionMnist, type FashionMnistOptions } from "./data/fashion_mnist.js";
export * from "./data/scenarios.js";

// Memory: replay buffers (reservoir, class-balanced) with metadata columns.
export { ReplayBuffer } from "./memory/replay_buffer.js";
export type { SlotPolicyName } from "./memory/slot_policy.js";

// Training: the loop's parts, usable on their own.
export { crossEntropyLoss, doubleDistillationLoss, type LossFunction } from "./training/losses.js";
export { extractLogits, extractLogitsArray } from "./training/logits.js";
export { evaluateDataset, evaluateModel } from "./training/evaluate.js";
export { predict, type Predictions } from "./training/predict.js";
export { trainModel, type TrainOptions, type TrainResult, type BatchLoss } from "./training/loop.js";
export { TrainingOptimizer, optimizerSpecSchema, type OptimizerSpec, type OptimizerOption } from "./training/optimizers.js";
export { learningRateAt, type LearningRateSchedule } from "./training/schedules.js";
export type { TrainingCallback, TrainingEvent, TrainingLogs } from "./training/callbacks.js";
export { datasetSource, type BatchSource } from "./training/batch_source.js";

// Metrics: plain numbers.
export * from "./metrics/accuracy.js";
export * from "./metrics/continual.js";

// The production workflow: config files and state folders, one call per CLI command.
export { readConfig, writeConfig, parseConfig, defaultConfig, configJsonSchema, relearnConfigSchema, type RelearnConfig, type DataFormat } from "./workflow/config.js";
export { updateFromConfig, type UpdateRequest, type UpdateSummary } from "./workflow/update.js";
export { evaluateState, type Evaluation } from "./workflow/evaluate_state.js";
export { predictState, predictionsToCsv, predictionsToJsonl } from "./workflow/predict_state.js";
export { inspectState, type StateInspection } from "./workflow/inspect_state.js";
export { readDataFile, readDataFileWithInfo, type DataFile, type DataReading } from "./workflow/data_files.js";

// Logs: TensorBoard event files (written without tfjs-node) and per-epoch logs.
export { TensorBoardWriter, readEventFile } from "./reporting/tensorboard.js";
export { trainingLogCallbacks, type TrainingLog } from "./reporting/training_log.js";
export { type EpochRecord } from "./reporting/state_logs.js";

// State folders.
export { readStateFolder } from "./state/read_state.js";
export { lockStateFolder } from "./state/lock.js";
export { STATE_FORMAT_VERSION } from "./state/format.js";
// Any updater's state, checked against that updater's schema (what inspect, evaluate and predict read).
export { readUpdaterState } from "./updaters/state_kinds.js";
export { type UpdaterStateData } from "./updaters/state_schema.js";

// Errors, randomness, logging.
export { RelearnError, OptionsError, DataError, ModelError, MemoryError, StateError, BackendError, TrainingError } from "./errors.js";
export { Random, deriveSeed } from "./random.js";
export { silentLogger, type Logger } from "./logger.js";
