/**
 * iCaRL's training loss (Rebuffi et al., CVPR 2017, Algorithm 3; Avalanche's
 * ICaRLLossPlugin): binary cross-entropy of the sigmoid of every output
 * against a target row that is the one-hot label, except on the classes of
 * earlier updates, whose targets are the sigmoid of the PREVIOUS model's
 * outputs on the same input (distillation). Exemplars of an old class thus
 * learn the old model's opinion, not their label, as in the paper.
 * Per row: mean over the C outputs of
 *   softplus(z) - t * z  =  -(t log sigmoid(z) + (1 - t) log(1 - sigmoid(z))),
 * the stable logits form (PyTorch's BCELoss on sigmoid outputs clamps the log
 * at -100 instead); its batch mean is Avalanche's BCELoss(mean).
 */
import * as tf from "@tensorflow/tfjs-core";

/**
 * Per-row iCaRL loss (B,) of `logits` (B, C) with integer `labels` (B,);
 * `oldLogits` (B, C') with C' <= C are the previous model's logits on the
 * same rows (null on the first update), read on the `oldClasses` columns
 * only (each < C'). RangeError on mismatched shapes or an old class out of range.
 */
export function icarlLoss(
  logits: tf.Tensor2D,
  labels: tf.Tensor1D,
  oldLogits: tf.Tensor2D | null,
  oldClasses: readonly number[],
): tf.Tensor1D {
  const [rows, classes] = logits.shape;
  if (labels.shape[0] !== rows) throw new RangeError(`icarlLoss: ${labels.shape[0]} labels for ${rows} rows of logits`);
  if (oldLogits !== null && (oldLogits.shape[0] !== rows || oldLogits.shape[1] > classes)) {
    throw new RangeError(`icarlLoss: old logits [${oldLogits.shape}] do not fit logits [${logits.shape}]`);
  }
  const width = oldLogits?.shape[1] ?? 0;
  const bad = oldClasses.find((c) => !Number.isInteger(c) || c < 0 || c >= width);
  if (oldClasses.length > 0 && (oldLogits === null || bad !== undefined)) {
    throw new RangeError(`icarlLoss: old classes [${oldClasses.join(", ")}] need old logits with a column for each (got ${oldLogits === null ? "none" : width})`);
  }
  return tf.tidy(() => {
    let targets: tf.Tensor2D = tf.cast(tf.oneHot(tf.cast(labels, "int32"), classes), "float32") as tf.Tensor2D;
    if (oldLogits !== null && oldClasses.length > 0) {
      const mask = new Float32Array(classes);
      for (const c of oldClasses) mask[c] = 1;
      const old = tf.tensor2d(mask, [1, classes]);
      // The old model's probabilities, padded with zeros to C columns (only old-class columns are read).
      const padded = width === classes ? oldLogits : tf.pad(oldLogits, [[0, 0], [0, classes - width]]);
      const distilled = tf.sigmoid(padded);
      targets = tf.add(tf.mul(targets, tf.sub(1, old)), tf.mul(distilled, old)) as tf.Tensor2D;
    }
    return tf.mean(tf.sub(tf.softplus(logits), tf.mul(targets, logits)), 1) as tf.Tensor1D;
  });
}
