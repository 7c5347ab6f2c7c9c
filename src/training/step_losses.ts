/**
 * Losses the whole-step training path (dense_chain_step.ts) can
 * differentiate by hand: each is a BatchLoss of losses.ts (what the general
 * path runs under the gradient tape) paired with the kernels that compute the
 * batch's mean loss and its gradient with respect to the logits. The step
 * itself (forward and backward through the layers) is the same for every
 * loss; only this part differs.
 *
 * Each gradient is built the way tfjs's tape builds it for
 * tf.mean(batchLoss(logits, batch)) (the training loop's value): the same
 * registered kernels with the same inputs, in the same order, where a
 * kernel changes a value; so the weights after a step are the same bit for
 * bit (test/training/dense_chain_step.test.ts). Kernels that only move data
 * (Reshape, float-to-float Cast, products with ones) are left out, and a
 * uniform upstream gradient is a scalar rather than a filled tensor (the
 * same values under broadcasting).
 *
 * The training loop recognises a loss by the identity of its BatchLoss
 * function (`stepLossFor`): a different function, even one computing the
 * same formula, keeps the general path.
 */
import * as tf from "@tensorflow/tfjs-core";
import type { BatchTensors } from "./batch_tensors.js";
import type { KernelCalls } from "./kernel_calls.js";
import { assertDistillationShapes, crossEntropyBatchLoss, doubleDistillationBatchLoss } from "./losses.js";
import type { BatchLoss } from "./loop.js";

/** A loss the whole step can take: the general path's function and its hand-written mean and gradient. */
export interface StepLoss {
  /** The BatchLoss this is (what the training loop is given). */
  readonly batchLoss: BatchLoss;
  /**
   * The mean loss over the batch's rows (a scalar) and its gradient with
   * respect to `logits` (rows x classes), by kernel calls on `k` (every
   * output a temporary of `k`). `scalars` holds scalars the kernels take
   * as inputs; the step disposes them afterwards.
   */
  meanAndGradient(k: KernelCalls, logits: tf.TensorInfo, batch: BatchTensors, scalars: tf.Tensor[]): { mean: tf.TensorInfo; dLogits: tf.TensorInfo };
}

/** A float32 scalar the kernels can read (disposed by the step with the other scalars). */
function scalar(value: number, scalars: tf.Tensor[]): tf.Scalar {
  const s = tf.scalar(value);
  scalars.push(s);
  return s;
}

/** Softmax cross-entropy on the batch's labels (crossEntropyBatchLoss). */
export const crossEntropyStepLoss: StepLoss = {
  batchLoss: crossEntropyBatchLoss,
  meanAndGradient(k, logits, batch, scalars) {
    const rows = logits.shape[0]!;
    const classes = logits.shape[1]!;
    // crossEntropyLoss: -sum(oneHot * logSoftmax(logits), 1), then tf.mean.
    const oneHot = k.run(tf.Cast, { x: k.run(tf.OneHot, { indices: batch.labels }, { dtype: "int32", depth: classes, onValue: 1, offValue: 0 }) }, { dtype: "float32" });
    const axis = 1;
    const shifted = k.run(tf.Sub, { a: logits, b: k.run(tf.Max, { x: logits }, { reductionIndices: axis, keepDims: true }) });
    const logSum = k.run(tf.Log, { x: k.run(tf.Sum, { x: k.run(tf.Exp, { x: shifted }) }, { axis, keepDims: true }) });
    const logSoftmax = k.run(tf.Sub, { a: shifted, b: logSum });
    const rowLoss = k.run(tf.Neg, { x: k.run(tf.Sum, { x: k.run(tf.Multiply, { a: oneHot, b: logSoftmax }) }, { axis, keepDims: false }) });
    const mean = k.run(tf.Mean, { x: rowLoss }, { axis: null, keepDims: false });

    // d mean / d logSoftmax = -(1 / rows) at each row's label, 0 elsewhere (the tape's Mean, Neg, Sum and Multiply
    // gradients: Mean's 1 / rows is one float32 division, which fround(1 / rows) is).
    const dLogSoftmax = k.run(tf.Multiply, { a: oneHot, b: scalar(-Math.fround(1 / rows), scalars) });
    // logSoftmax's gradient: dy - sum(dy) * exp(logSoftmax).
    const rowSums = k.run(tf.Sum, { x: dLogSoftmax }, { axis, keepDims: true });
    const dLogits = k.run(tf.Sub, { a: dLogSoftmax, b: k.run(tf.Multiply, { a: rowSums, b: k.run(tf.Exp, { x: logSoftmax }) }) });
    return { mean, dLogits };
  },
};

/**
 * Deep Model Consolidation's double distillation loss towards the batch's
 * targets (doubleDistillationBatchLoss: RD's consolidation):
 * 0.5 * mean_c (z - (t - mean_k t))^2 per row, then the batch mean.
 */
export const doubleDistillationStepLoss: StepLoss = {
  batchLoss: doubleDistillationBatchLoss,
  meanAndGradient(k, logits, batch, scalars) {
    const targets = batch.targets;
    if (targets === undefined) throw new RangeError("doubleDistillationBatchLoss: the batch has no targets (stored logits)");
    assertDistillationShapes(logits.shape, targets.shape);
    const [rows, classes] = [logits.shape[0]!, logits.shape[1]!];
    // Forward, as doubleDistillationLoss's ops: centre the targets, squared difference, mean over classes, times 0.5.
    const centred = k.run(tf.Sub, { a: targets, b: k.run(tf.Mean, { x: targets }, { axis: 1, keepDims: true }) });
    const rowMean = k.run(tf.Mean, { x: k.run(tf.SquaredDifference, { a: logits, b: centred }) }, { axis: 1, keepDims: false });
    const rowLoss = k.run(tf.Multiply, { a: rowMean, b: scalar(0.5, scalars) });
    const mean = k.run(tf.Mean, { x: rowLoss }, { axis: null, keepDims: false });

    // Backward, as the tape: the batch Mean's 1 / rows (one float32 division), times 0.5 (exact), the class Mean's
    // division by classes (float32), then SquaredDifference's gradient dy * (2 * (z - c)). The factor 2 is moved
    // onto dy: 2 * (z - c) and 2 * dy are exact, so dy * (2 (z - c)) and (2 dy) * (z - c) are the same real
    // product, rounded once (they differ only where 2 (z - c) overflows, i.e. |z - c| > 1.7e38).
    const dy = Math.fround(Math.fround(1 / rows) * 0.5 / classes);
    const dLogits = k.run(tf.Multiply, { a: scalar(2 * dy, scalars), b: k.run(tf.Sub, { a: logits, b: centred }) });
    return { mean, dLogits };
  },
};

const STEP_LOSSES: ReadonlyMap<BatchLoss, StepLoss> = new Map(
  [crossEntropyStepLoss, doubleDistillationStepLoss].map((loss) => [loss.batchLoss, loss]),
);

/** The whole step's form of `loss`, or null when the loss is none of these very functions (general path). */
export function stepLossFor(loss: BatchLoss): StepLoss | null {
  return STEP_LOSSES.get(loss) ?? null;
}
