/**
 * relearn's core, the same in Node, a page and a Web Worker: everything
 * host-neutral, grouped by concern. Not an entry point of its own: index.ts
 * (Node) and browser.ts (browsers) re-export it with their host's parts.
 * Nothing here may reach a `node:` module in a browser build
 * (test/package/browser_bundle.test.ts checks).
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
export { ICaRLModelUpdater, type ICaRLOptions } from "./updaters/icarl.js";
export { icarlLoss } from "./updaters/icarl_loss.js";
export { herdingSelection } from "./memory/herding.js";
export { computeClassMeans, nearestClassMeanScores, type ClassMeans } from "./model/nearest_class_mean.js";
export { LearningWithoutForgettingModelUpdater, lwfDistillationLoss, type LearningWithoutForgettingOptions } from "./updaters/learning_without_forgetting.js";
export {
  ElasticWeightConsolidationModelUpdater,
  ewcPenalty,
  type ElasticWeightConsolidationOptions,
  type EwcPair,
  type EwcTerm,
  type StoredEwcTerm,
} from "./updaters/elastic_weight_consolidation.js";
export { empiricalFisher } from "./training/empirical_fisher.js";
export {
  ClsExperienceReplayModelUpdater,
  clsExperienceReplayLoss,
  type ClsExperienceReplayOptions,
} from "./updaters/cls_experience_replay.js";
export { ClsEmaModels, consistencyTargets, type ClsEmaSettings } from "./updaters/cls_ema_models.js";
export { emaDecayAt, emaUpdate } from "./updaters/ema_weights.js";
export { ErAceModelUpdater, asymmetricCrossEntropyLoss, type ErAceOptions } from "./updaters/er_ace.js";
export { PodExperienceReplayModelUpdater, podExperienceReplayLoss, type PodExperienceReplayOptions } from "./updaters/pod_experience_replay.js";
export {
  SuperExperienceReplayModelUpdater,
  superExperienceReplayLoss,
  type SuperExperienceReplayOptions,
} from "./updaters/super_experience_replay.js";
export { shrinkAndPerturb, type ShrinkPerturbSettings } from "./updaters/shrink_perturb.js";
export { POD_DISTILLATION_TYPES, podDistance, podLoss, type PodDistillationType, type PodLayout } from "./updaters/pooled_output_distillation.js";
export { DEFAULT_OPTIMIZER, type ModelUpdaterOptions, type ResolvedOptions } from "./updaters/options.js";
export { UPDATERS, UPDATER_NAMES, createUpdater, type UpdaterName } from "./updaters/registry.js";

// Benchmarks and their reports.
export { runBenchmark, planRuns, type BenchmarkConfig, type RunProgress } from "./benchmark/run_benchmark.js";
export type { BenchmarkResults, RunResult } from "./reporting/results.js";
export { summarizeResults, formatComparisonTable, summaryToMarkdown } from "./reporting/summary.js";

// Models: JSON specs built with a seed, user LayersModels, multi-head by task id, save/load.
export { ContinualModel, DEFAULT_TASK_ID, buildModel, type RowTasks } from "./model/continual_model.js";
export { mlp, cnn, parseModelSpec, modelSpecSchema, type ModelSpec, type MlpSpec, type CnnSpec } from "./model/spec.js";

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
export { parseCsv, parseUnlabelledCsv, parseCsvWithInfo, parseUnlabelledCsvWithInfo, parsePredictionCsvWithInfo, type CsvOptions, type CsvHeader, type CsvHeaderRule, type CsvInfo } from "./data/csv.js";
export { extendLabelMap, mergeClassNames, checkClassNames } from "./data/label_map.js";
export { detectDelimiter, DELIMITERS, type DelimiterRule } from "./data/csv_dialect.js";
export { detectDataKind, looksLikeIdx, type DataKind } from "./data/file_kind.js";
export { makeGaussianBlobs, type GaussianBlobsOptions } from "./data/synthetic.js";
export { FASHION_MNIST_CLASSES } from "./data/fashion_mnist_classes.js";
export * from "./data/scenarios.js";

// Memory: replay buffers (reservoir, class-balanced) with metadata columns.
export { ReplayBuffer } from "./memory/replay_buffer.js";
export type { SlotPolicyName } from "./memory/slot_policy.js";

// Training: the loop's parts, usable on their own.
export { crossEntropyLoss, doubleDistillationLoss, type LossFunction } from "./training/losses.js";
export { extractLogits, extractLogitsArray } from "./training/logits.js";
export { evaluateDataset, evaluateModel } from "./training/evaluate.js";
export { predict, type Predictions, type PredictOptions } from "./training/predict.js";
export { trainModel, type TrainOptions, type TrainResult, type BatchLoss } from "./training/loop.js";
export { TrainingOptimizer, optimizerSpecSchema, type OptimizerSpec, type OptimizerOption } from "./training/optimizers.js";
export { learningRateAt, type LearningRateSchedule } from "./training/schedules.js";
export type { TrainingCallback, TrainingEvent, TrainingLogs } from "./training/callbacks.js";
export { datasetSource, type BatchSource } from "./training/batch_source.js";

// Metrics: plain numbers.
export * from "./metrics/accuracy.js";
export * from "./metrics/continual.js";

// Logs: a state's per-epoch records and TensorBoard event files read back.
export { type EpochRecord } from "./reporting/state_logs.js";
export { readEventFile, type EventRecord } from "./reporting/tensorboard_records.js";

// States and where they live (StateStore: folders in Node, IndexedDB in browsers).
export type { StateStore, StateReader, StateWriter, StoredState, StateLock, WriteStateOptions } from "./state/store.js";
export { defaultStateStore, HOST } from "./platform.js";
export { exportState, importState, type ImportStateOptions } from "./state/state_export.js";
export { saveModelFiles, loadModelFiles } from "./model/model_files.js";
export { exportModel, EXPORT_METADATA_KEY, type ExportMetadata, type ExportModelOptions } from "./model/export_model.js";
export { STATE_FORMAT_VERSION } from "./state/format.js";
// Any updater's state, checked against that updater's schema (what inspect, evaluate and predict read).
export { readUpdaterState } from "./updaters/state_kinds.js";
export { type UpdaterStateData } from "./updaters/state_schema.js";

// Drift detection: is new data distributed like a reference (MMD or per-feature KS, raw or penultimate features)?
export * from "./drift/public.js";

// Errors, randomness, logging.
export { RelearnError, OptionsError, DataError, ModelError, MemoryError, StateError, StateBusyError, BackendError, TrainingError } from "./errors.js";
export { Random, deriveSeed } from "./random.js";
export { silentLogger, type Logger } from "./logger.js";
