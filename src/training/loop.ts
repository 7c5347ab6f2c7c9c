/**
 * One training pass of a model: epochs of shuffled batches, a fresh
 * optimizer, an optional learning-rate schedule, gradient clipping, masking of
 * classes absent from the data, validation, early stopping and best-epoch
 * restore. It knows nothing of which loss it minimises (the caller passes a
 * per-sample BatchLoss) nor of which phase of which algorithm it serves.
 *
 * No tensor is read back during an epoch: losses and metrics are summed on the
 * device and read once at epoch end. A non-finite loss, metric or final
 * weight is a TrainingError (divergence.ts).
 */
import * as tf from "@tensorflow/tfjs-core";
import "../backend/gradients.js";
import type { ContinualModel } from "../model/continual_model.js";
import { Random, deriveSeed } from "../random.js";
import { silentLogger, type Logger } from "../logger.js";
import type { BatchSource } from "./batch_source.js";
import { toBatchTensors, disposeBatch, type BatchTensors } from "./batch_tensors.js";
import { runHook, type TrainingCallback, type TrainingEvent, type TrainingLogs, type TrainingControl } from "./callbacks.js";
import { MetricMonitor, type MonitorMode } from "./early_stopping.js";
import { evaluateModel, type EvaluationSource } from "./evaluate.js";
import type { LossFunction } from "./losses.js";
import { DeviceSums, correctCount, defaultMetrics, type BatchMetric } from "./metrics.js";
import { TrainingOptimizer, type OptimizerOption } from "./optimizers.js";
import { learningRateAt, type LearningRateSchedule, type ScheduleInterval } from "./schedules.js";
import { clipGradients, type GradientClipping } from "./gradient_clipping.js";
import { assertFiniteLogs, assertFiniteWeights } from "./divergence.js";
import { backendRunsDenseChainStep, defaultStepLogs, denseChainStep, denseChainStepEnabled } from "./dense_chain_step.js";
import { stepLossFor, type StepLoss } from "./step_losses.js";
import type { DenseChainStep } from "../model/dense_chain.js";

/**
 * Per-sample training loss of a batch: logits (B, C) -> (B,). `activations`
 * are the outputs of the body layers named in TrainOptions.activations, in
 * that order, from the same forward pass (empty when none are named).
 */
export type BatchLoss = (logits: tf.Tensor2D, batch: BatchTensors, activations: readonly tf.Tensor[]) => tf.Tensor1D;

export interface MonitorOptions {
  /** A logged metric name, e.g. "val_loss" or "val_accuracy". */
  metric: string;
  mode: MonitorMode;
  earlyStopping: boolean;
  patience: number;
  /** Put the best epoch's weights back at the end. */
  restoreBest: boolean;
}

export interface TrainOptions {
  model: ContinualModel;
  taskId: string;
  /** A name for callbacks and logs, e.g. "expert". */
  phase: string;
  data: BatchSource;
  loss: BatchLoss;
  batchSize: number;
  epochs: number;
  /** Optimizer steps per epoch; default one pass, ceil(length / batchSize). */
  stepsPerEpoch?: number | undefined;
  optimizer: OptimizerOption;
  learningRateSchedule?: LearningRateSchedule | undefined;
  scheduleInterval?: ScheduleInterval | undefined;
  gradientClipping?: GradientClipping | undefined;
  /**
   * Task ids of further heads the loss reads through (LwF distils old tasks'
   * heads of a multi-head model): their trainable weights train too.
   */
  extraHeads?: readonly string[] | undefined;
  /** Body layers (ContinualModel.bodyLayerNames) whose outputs the loss reads as its `activations`. */
  activations?: readonly string[] | undefined;
  /** When set, logits of every other class are pushed to -1e9 before the loss (training only). */
  allowedClasses?: readonly number[] | undefined;
  metrics?: Readonly<Record<string, BatchMetric>> | undefined;
  validation?: { sources: readonly EvaluationSource[]; loss: LossFunction } | undefined;
  monitor?: MonitorOptions | undefined;
  callbacks?: readonly TrainingCallback[] | undefined;
  logger?: Logger | undefined;
  /** Seeds shuffling, transforms and dropout masks. */
  seed: number;
}

export interface TrainResult {
  epochsRun: number;
  history: TrainingLogs[];
  bestEpoch: number | null;
  stoppedEarly: boolean;
}

const MASK_VALUE = -1e9;

/** Trains `options.model` in place. */
export async function trainModel(options: TrainOptions): Promise<TrainResult> {
  const { model, taskId, data, batchSize, epochs, phase } = options;
  const logger = options.logger ?? silentLogger;
  const callbacks = options.callbacks ?? [];
  const metrics = options.metrics ?? defaultMetrics;
  if (!Number.isInteger(batchSize) || batchSize <= 0) throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
  if (!Number.isInteger(epochs) || epochs < 0) throw new RangeError(`epochs must be a non-negative integer, got ${epochs}`);
  const stepsPerEpoch = options.stepsPerEpoch ?? Math.ceil(data.length / batchSize);
  const result: TrainResult = { epochsRun: 0, history: [], bestEpoch: null, stoppedEarly: false };
  if (data.length === 0 || epochs === 0 || stepsPerEpoch === 0) return result;

  const trainedHeads = [taskId, ...(options.extraHeads ?? [])];
  const variables = model.trainableVariables(trainedHeads);
  const optimizer = new TrainingOptimizer(options.optimizer);
  const schedule = options.learningRateSchedule;
  const interval = options.scheduleInterval ?? "epoch";
  const maskBias = options.allowedClasses ? makeMaskBias(options.allowedClasses, model.numClasses) : null;
  const wholeStep = wholeStepChain(options, variables);
  const monitor = resolveMonitor(options, logger);
  const control: TrainingControl = { stopTraining: false };
  let bestWeights: tf.Tensor[] | null = null;
  let learningRate = optimizer.baseLearningRate;
  let globalStep = 0;
  const event = (epoch: number, step: number, logs: TrainingLogs): TrainingEvent => ({
    phase, taskId, epoch, epochs, step, stepsPerEpoch, learningRate, logs, control,
  });
  const setLearningRate = (t: number) => {
    if (!schedule) return;
    learningRate = learningRateAt(schedule, optimizer.baseLearningRate, t);
    optimizer.setLearningRate(learningRate);
  };

  try {
    await runHook(callbacks, "onTrainBegin", event(-1, 0, {}));
    for (let epoch = 0; epoch < epochs && !control.stopTraining; epoch++) {
      if (interval === "epoch") setLearningRate(epoch);
      await runHook(callbacks, "onEpochBegin", event(epoch, 0, {}));
      const random = Random.fromSeed(deriveSeed(options.seed, phase, "epoch", epoch));
      const order = random.permutation(data.length);
      const sums = new DeviceSums();
      try {
        for (let step = 0; step < stepsPerEpoch; step++) {
          if (interval === "step") setLearningRate(globalStep);
          // Each epoch walks a fresh permutation; with more steps than one pass, it wraps around.
          const start = (step * batchSize) % data.length;
          const indices = order.subarray(start, Math.min(data.length, start + batchSize));
          model.setDropoutSeed(deriveSeed(options.seed, phase, "dropout", globalStep));
          const batch = toBatchTensors(data.gather(indices, random), data.featureShape, data.targetWidth);
          try {
            // A source may append rows of its own (replay memory): sums are means over every row trained on.
            const rows = batch.labels.shape[0];
            // Rows of several tasks train the body and each of their heads.
            const stepVariables = batch.tasks ? model.trainableVariables([...trainedHeads, ...batch.tasks.taskIds]) : variables;
            sums.add(
              trainStep(model, taskId, stepVariables, batch, options.loss, options.activations ?? [], metrics, maskBias, optimizer, options.gradientClipping, usesWholeStep(model, batch) ? wholeStep : null),
              rows,
            );
          } finally {
            disposeBatch(batch);
          }
          if (data.afterStep) await data.afterStep(indices);
          globalStep++;
          await runHook(callbacks, "onBatchEnd", event(epoch, step, {}));
          if (control.stopTraining) break;
        }
        const logs: TrainingLogs = await sums.read("train_");
        if (options.validation && options.validation.sources.length > 0) {
          Object.assign(
            logs,
            await evaluateModel(model, options.validation.sources, { loss: options.validation.loss, metrics, batchSize, prefix: "val_" }),
          );
        }
        // A NaN or infinite loss or metric fails the phase now: later epochs could not bring the weights back.
        assertFiniteLogs(logs, { phase, taskId, epoch, epochs, learningRate }, options.validation?.sources.map((source) => source.taskId));
        result.history.push(logs);
        result.epochsRun = epoch + 1;
        if (monitor) {
          const value = logs[monitor.metric];
          if (value === undefined) throw new RangeError(`monitored metric "${monitor.metric}" is not logged; logged: ${Object.keys(logs).join(", ")}`);
          if (monitor.observe(epoch, value) && options.monitor?.restoreBest) {
            if (bestWeights) tf.dispose(bestWeights);
            bestWeights = model.snapshotWeights();
          }
          if (options.monitor?.earlyStopping && monitor.patienceExhausted) {
            control.stopTraining = true;
            result.stoppedEarly = true;
          }
        }
        await runHook(callbacks, "onEpochEnd", event(epoch, stepsPerEpoch - 1, logs));
      } finally {
        sums.dispose();
      }
    }
    if (monitor && monitor.bestEpoch >= 0) {
      result.bestEpoch = monitor.bestEpoch;
      if (bestWeights && monitor.bestEpoch !== result.epochsRun - 1) model.restoreWeights(bestWeights);
    }
    // The last step may have broken weights the last logged loss did not see (one reduction per weight).
    await assertFiniteWeights(model, { phase, taskId, epoch: result.epochsRun - 1, epochs, learningRate });
    await runHook(callbacks, "onTrainEnd", event(result.epochsRun - 1, 0, result.history.at(-1) ?? {}));
    return result;
  } finally {
    if (bestWeights) tf.dispose(bestWeights);
    maskBias?.dispose();
    optimizer.dispose();
  }
}

function trainStep(
  model: ContinualModel,
  taskId: string,
  variables: tf.Variable[],
  batch: BatchTensors,
  loss: BatchLoss,
  taps: readonly string[],
  metrics: Readonly<Record<string, BatchMetric>>,
  maskBias: tf.Tensor2D | null,
  optimizer: TrainingOptimizer,
  clipping: GradientClipping | undefined,
  wholeStep: WholeStep | null,
): Record<string, tf.Scalar> {
  let logitsForMetrics: tf.Tensor2D | null = null;
  const whole = wholeStep === null ? null : denseChainStep(wholeStep.steps, wholeStep.loss, batch, maskBias);
  if (whole !== null) logitsForMetrics = whole.logits;
  // Keyed in the order of `variables`, as tf.variableGrads keys them (gradient clipping by norm sums in this order).
  const fast = whole === null ? null : { value: whole.value, grads: Object.fromEntries(variables.map((v) => [v.name, whole.grads[v.name]!])) };
  const { value, grads } = fast ?? tf.variableGrads(() => {
    const tasks = batch.tasks ?? taskId;
    const { logits: raw, activations } =
      taps.length === 0 ? { logits: model.getLogits(batch.x, tasks, true), activations: [] } : model.getLogitsAndActivations(batch.x, tasks, true, taps);
    const logits = maskBias ? (tf.add(raw, maskBias) as tf.Tensor2D) : raw;
    logitsForMetrics = tf.keep(logits);
    return tf.mean(loss(logits, batch, activations)) as tf.Scalar;
  }, variables);
  try {
    const clipped = clipping ? clipGradients(grads, clipping) : grads;
    optimizer.step(clipped, variables);
    if (clipped !== grads) tf.dispose(Object.values(clipped));
    // The default logs of a whole step without the engine (the same kernels, the same values).
    if (whole !== null && onlyDefaultMetrics(metrics)) return defaultStepLogs(whole, batch.labels);
    return tf.tidy(() => {
      const out: Record<string, tf.Scalar> = { loss: tf.mul(value, batch.labels.shape[0]) as tf.Scalar };
      for (const [name, metric] of Object.entries(metrics)) out[name] = metric(logitsForMetrics!, batch.labels);
      return out;
    });
  } finally {
    value.dispose();
    tf.dispose(Object.values(grads));
    if (logitsForMetrics) (logitsForMetrics as tf.Tensor).dispose();
  }
}

/** Whether `metrics` are the default ones (accuracy by correctCount), which defaultStepLogs computes. */
function onlyDefaultMetrics(metrics: Readonly<Record<string, BatchMetric>>): boolean {
  const names = Object.keys(metrics);
  return names.length === 1 && names[0] === "accuracy" && metrics.accuracy === correctCount;
}

/**
 * Whether a batch may take the whole-step path: rows of one head (no row
 * tasks, or a single-head model, which ignores them: RD's consolidation
 * batches carry the memory's tasks), of the model's input shape (else the
 * general path reports it).
 */
function usesWholeStep(model: ContinualModel, batch: BatchTensors): boolean {
  return (batch.tasks === undefined || !model.multiHead) && tf.util.arraysEqual(batch.x.shape.slice(1), model.inputShape);
}

/** What the whole-step path runs: the model's dense chain and the loss's hand-written gradient. */
export interface WholeStep {
  steps: readonly DenseChainStep[];
  loss: StepLoss;
}

/**
 * The steps and loss of the whole-step path (dense_chain_step.ts) when this
 * training run can take it: a plain dense chain of the model (ContinualModel.
 * denseTrainingChain) whose weights are exactly the trained variables, a
 * loss the path differentiates by hand (step_losses.ts: crossEntropyBatchLoss,
 * doubleDistillationBatchLoss), no activations read by the loss and no extra
 * heads, on a backend the path runs on. Otherwise null: every step takes the
 * general path (tf.variableGrads). Batches whose rows carry tasks of a
 * multi-head model take the general path too (trainStep's caller).
 */
export function wholeStepChain(options: TrainOptions, variables: readonly tf.Variable[]): WholeStep | null {
  if (!denseChainStepEnabled() || !backendRunsDenseChainStep()) return null;
  const loss = stepLossFor(options.loss);
  if (loss === null) return null;
  if ((options.activations ?? []).length > 0 || (options.extraHeads ?? []).length > 0) return null;
  const steps = options.model.denseTrainingChain(options.taskId);
  if (steps === null) return null;
  const weights = steps.flatMap((step) => (step.kind === "dense" ? [step.kernel.read(), ...(step.bias ? [step.bias.read()] : [])] : []));
  const trained = new Set(variables);
  return weights.length === trained.size && weights.every((weight) => trained.has(weight)) ? { steps, loss } : null;
}

/** (1, C) row: 0 for allowed classes, -1e9 for the rest. */
export function makeMaskBias(allowedClasses: readonly number[], numClasses: number): tf.Tensor2D {
  const row = new Float32Array(numClasses).fill(MASK_VALUE);
  for (const c of allowedClasses) {
    if (!Number.isInteger(c) || c < 0 || c >= numClasses) throw new RangeError(`allowed class ${c} is outside [0, ${numClasses})`);
    row[c] = 0;
  }
  return tf.tensor2d(row, [1, numClasses]);
}

function resolveMonitor(options: TrainOptions, logger: Logger): MetricMonitor | null {
  const spec = options.monitor;
  if (!spec) return null;
  const hasValidation = (options.validation?.sources.length ?? 0) > 0;
  if (spec.metric.startsWith("val_") && !hasValidation) {
    if (spec.earlyStopping) logger.warn(`${options.phase}: early stopping on "${spec.metric}" needs a validation set; it is ignored`);
    return null;
  }
  return new MetricMonitor(spec.metric, spec.mode, spec.patience);
}
