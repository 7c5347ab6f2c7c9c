/**
 * Nearest-class-mean (NCM) classification, iCaRL's prediction rule (Rebuffi
 * et al., CVPR 2017, Algorithm 1): an item's class is the class whose mean
 * exemplar feature is nearest to the item's feature, both L2-normalised,
 *   y* = argmin_y || phi(x)/|phi(x)| - mu_y ||,
 * mu_y = normalised mean of the normalised features of class y's exemplars
 * (Avalanche's _ICaRLPlugin.compute_class_means and NCMClassifier; Renate's
 * ICaRLClassificationStrategy). Scores are negative Euclidean distances.
 *
 * Differences, on purpose:
 * - Avalanche averages each mean with the means of horizontally flipped
 *   exemplars (4-D image inputs only). relearn has no flip (a transform is
 *   the user's, and may not be a flip), so means are of the exemplars as stored.
 * - Avalanche and Renate keep a ZERO mean for a class without exemplars and
 *   score it like any other: at distance 1 from every normalised feature it
 *   beats a seen class farther than 1 (cosine below 0.5), so a class never
 *   trained on can be predicted. Here only classes with a mean are scored;
 *   the others can never be predicted.
 * - A zero feature vector stays zero instead of 0/0 = NaN (herding.ts).
 */
import * as tf from "@tensorflow/tfjs-core";
import { ModelError } from "../errors.js";
import { l2NormalizeRows } from "../memory/herding.js";

/** Class means of an NCM classifier. */
export interface ClassMeans {
  /** Feature width D (the model's penultimate layer). */
  readonly width: number;
  /** The classes that have a mean, ascending. */
  readonly classes: readonly number[];
  /** classes.length x width, row-major, each row of unit norm (or zero). Row i is the mean of classes[i]. */
  readonly values: Float32Array;
}

/**
 * Class means of `features` (`labels.length` x `width`, row-major) grouped by
 * `labels`: the normalised mean of the normalised rows of each class present,
 * computed in float64. Classes ascending.
 */
export function computeClassMeans(features: ArrayLike<number>, labels: ArrayLike<number>, width: number): ClassMeans {
  const rows = labels.length;
  const unit = l2NormalizeRows(features, rows, width);
  const sums = new Map<number, { sum: Float64Array; count: number }>();
  for (let r = 0; r < rows; r++) {
    const label = labels[r]!;
    let entry = sums.get(label);
    if (entry === undefined) sums.set(label, (entry = { sum: new Float64Array(width), count: 0 }));
    entry.count++;
    for (let j = 0; j < width; j++) entry.sum[j]! += unit[r * width + j]!;
  }
  const classes = [...sums.keys()].sort((a, b) => a - b);
  const means = new Float64Array(classes.length * width);
  classes.forEach((c, i) => {
    const { sum, count } = sums.get(c)!;
    for (let j = 0; j < width; j++) means[i * width + j] = sum[j]! / count;
  });
  return { width, classes, values: Float32Array.from(l2NormalizeRows(means, classes.length, width)) };
}

/**
 * NCM scores (B, K): minus the Euclidean distance from each row of
 * `features` (B, D), L2-normalised, to each class mean; column k is class
 * `means.classes[k]`. A ModelError when D is not the means' width. The
 * caller disposes the result.
 */
export function nearestClassMeanScores(features: tf.Tensor2D, means: ClassMeans): tf.Tensor2D {
  if (features.shape[1] !== means.width) {
    throw new ModelError(`the model's features have ${features.shape[1]} values but the class means ${means.width}: they come from another model`);
  }
  if (means.classes.length === 0) throw new ModelError("no class means yet: nearest-class-mean prediction needs at least one class with exemplars");
  return tf.tidy(() => {
    const norms = tf.sqrt(tf.sum(tf.square(features), 1, true));
    // A zero row stays zero (divide by 1 instead of 0).
    const unit = tf.div(features, tf.where(tf.greater(norms, 0), norms, tf.onesLike(norms)));
    const mu = tf.tensor2d(means.values, [means.classes.length, means.width]);
    const squared = tf.add(
      tf.sub(tf.sum(tf.square(unit), 1, true), tf.mul(2, tf.matMul(unit, mu, false, true))),
      tf.reshape(tf.sum(tf.square(mu), 1), [1, -1]),
    );
    return tf.neg(tf.sqrt(tf.relu(squared))) as tf.Tensor2D;
  });
}
