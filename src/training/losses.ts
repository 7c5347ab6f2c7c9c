/**
 * Per-sample losses. Every loss here maps (logits (B, C), target) to a (B,)
 * tensor, one value per row; the training loop reduces with a plain mean over
 * the batch. Keeping the per-row form lets callers weight or mask rows.
 */
import * as tf from "@tensorflow/tfjs-core";
import "../backend/gradients.js";

/** A per-sample loss: logits (B, C) and integer labels (B,) -> losses (B,). */
export type LossFunction = (logits: tf.Tensor2D, labels: tf.Tensor1D) => tf.Tensor1D;

/**
 * Softmax cross-entropy with integer labels, per sample (PyTorch's
 * `cross_entropy(reduction="none")`). Computed through logSoftmax, which is
 * stable for large logits.
 */
export function crossEntropyLoss(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => {
    const numClasses = logits.shape[1];
    const oneHot = tf.oneHot(tf.cast(labels, "int32"), numClasses);
    return tf.neg(tf.sum(tf.mul(oneHot, tf.logSoftmax(logits)), 1)) as tf.Tensor1D;
  });
}

/**
 * crossEntropyLoss on a batch's labels, as the training loop's per-batch
 * loss (a BatchLoss). The loop recognises this very function as plain
 * cross-entropy, so a plain MLP may train through its whole-step path
 * (dense_chain_step.ts); any other function, even one computing the same,
 * keeps the general path. step_losses.ts holds the list of such losses.
 */
export function crossEntropyBatchLoss(logits: tf.Tensor2D, batch: { readonly labels: tf.Tensor1D }): tf.Tensor1D {
  return crossEntropyLoss(logits, batch.labels);
}

/**
 * Double distillation loss of Deep Model Consolidation as Renate computes it
 * (SPEC section 1): only the TARGET row is centred (its mean over classes is
 * subtracted); no std scaling, temperature or softmax. Per row:
 * 0.5 * mean_c (z[b,c] - (t[b,c] - mean_k t[b,k]))^2.
 * Centring makes the loss blind to a constant added to a teacher row, which is
 * what lets teachers with different logit offsets share one student.
 */
export function doubleDistillationLoss(predictedLogits: tf.Tensor2D, targetLogits: tf.Tensor2D): tf.Tensor1D {
  assertDistillationShapes(predictedLogits.shape, targetLogits.shape);
  return tf.tidy(() => {
    const centredTarget = tf.sub(targetLogits, tf.mean(targetLogits, 1, true));
    return tf.mul(tf.mean(tf.squaredDifference(predictedLogits, centredTarget), 1), 0.5) as tf.Tensor1D;
  });
}

/** Throws the RangeError doubleDistillationLoss gives for inputs that are not two (B, C) tensors of one shape. */
export function assertDistillationShapes(predicted: readonly number[], target: readonly number[]): void {
  if (predicted.length !== 2 || target.length !== 2) {
    throw new RangeError(`doubleDistillationLoss expects two (B, C) tensors, got shapes [${predicted}] and [${target}]`);
  }
  if (!tf.util.arraysEqual(predicted as number[], target as number[])) {
    throw new RangeError(`doubleDistillationLoss: predicted logits [${predicted}] and target logits [${target}] differ in shape`);
  }
}

/**
 * doubleDistillationLoss towards a batch's targets (RD's stored logits), as
 * the training loop's per-batch loss (a BatchLoss). Like
 * crossEntropyBatchLoss, the loop recognises this very function
 * (step_losses.ts), so a plain MLP may distil through its whole-step path.
 */
export function doubleDistillationBatchLoss(logits: tf.Tensor2D, batch: { readonly targets?: tf.Tensor2D | undefined }): tf.Tensor1D {
  if (batch.targets === undefined) throw new RangeError("doubleDistillationBatchLoss: the batch has no targets (stored logits)");
  return doubleDistillationLoss(logits, batch.targets);
}

/**
 * Per-row mean squared error between logits and target logits (B, C) ->
 * (B,), as PyTorch's mse_loss averages it: over the classes, or over
 * `scoredClasses` only when given (so logits masked out of training never
 * meet their targets). DER++'s logit term and CLS-ER's consistency term.
 */
export function logitMeanSquaredError(logits: tf.Tensor2D, targets: tf.Tensor2D, scoredClasses?: readonly number[]): tf.Tensor1D {
  if (!tf.util.arraysEqual(logits.shape, targets.shape)) {
    throw new RangeError(`logitMeanSquaredError: logits [${logits.shape}] and targets [${targets.shape}] differ in shape`);
  }
  return tf.tidy(() => {
    const classes = logits.shape[1];
    let squared = tf.squaredDifference(logits, targets);
    let scored = classes;
    if (scoredClasses !== undefined) {
      const mask = new Float32Array(classes);
      for (const c of scoredClasses) mask[c] = 1;
      squared = tf.mul(squared, tf.tensor2d(mask, [1, classes]));
      scored = Math.max(scoredClasses.length, 1);
    }
    return tf.div(tf.sum(squared, 1), scored) as tf.Tensor1D;
  });
}
