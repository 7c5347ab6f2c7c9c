/**
 * The radial basis function (Gaussian) kernel of the MMD drift test, on tfjs:
 * k(x, y) = exp(-||x - y||^2 / (2 l^2)), with the length scale l set by the
 * median heuristic when not given (Gretton et al., "A kernel two-sample
 * test", JMLR 2012, section 8). Renate's `renate.shift.kernels.RBFKernel` is
 * the behavioural anchor; see `medianDistance` for where the heuristic differs.
 */
import * as tf from "@tensorflow/tfjs-core";

/**
 * Squared Euclidean distances between the rows of `x` (n x d): an n x n
 * tensor, exactly 0 on the diagonal and never negative (the Gram-matrix
 * formula ||a||^2 + ||b||^2 - 2 a.b can round below 0 in float32). The
 * caller owns the result.
 */
export function pairwiseSquaredDistances(x: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const n = x.shape[0];
    const norms = tf.sum(tf.square(x), 1, true); // n x 1
    const gram = tf.matMul(x, x, false, true);
    const squared = tf.relu(tf.sub(tf.add(norms, tf.transpose(norms)), tf.mul(gram, 2)));
    // The diagonal is a point's distance to itself: 0 exactly, so k(x, x) = 1 exactly.
    return tf.mul(squared, tf.sub(1, tf.eye(n))) as tf.Tensor2D;
  });
}

/**
 * The median heuristic's length scale from an n x n matrix of squared
 * distances (row-major, as `dataSync` gives it): the median of the
 * n(n-1)/2 distances between distinct points (i < j; the mean of the two
 * middle values for an even count). Zero distances (duplicate rows) are
 * left out when at least one distance is positive, so data with many
 * repeated rows still gets a usable scale; if every distance is 0 the
 * kernel is constant whatever the scale, and 1 is returned.
 *
 * Renate takes torch.median over the whole n x n matrix, diagonal zeros and
 * both triangles included (the lower middle value): a slightly smaller
 * scale, and 0 (a NaN kernel) as soon as half the entries are 0.
 */
export function medianDistance(squared: Float32Array | Float64Array, n: number): number {
  const pairs = new Float64Array((n * (n - 1)) / 2);
  let count = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const value = squared[i * n + j]!;
      if (value > 0) pairs[count++] = value;
    }
  }
  if (count === 0) return 1;
  const sorted = pairs.subarray(0, count).sort();
  const middle = count >> 1;
  // Square roots after sorting (monotone): the median distance, or the mean of the two middle distances.
  return count % 2 === 1 ? Math.sqrt(sorted[middle]!) : (Math.sqrt(sorted[middle - 1]!) + Math.sqrt(sorted[middle]!)) / 2;
}

/** exp(-d^2 / (2 l^2)) element-wise on squared distances; the caller owns the result. */
export function rbfFromSquaredDistances(squared: tf.Tensor2D, lengthScale: number): tf.Tensor2D {
  if (!(lengthScale > 0) || !Number.isFinite(lengthScale)) {
    throw new RangeError(`RBF kernel: lengthScale must be a positive finite number, got ${lengthScale}`);
  }
  return tf.tidy(() => tf.exp(tf.mul(squared, -0.5 / (lengthScale * lengthScale))) as tf.Tensor2D);
}
