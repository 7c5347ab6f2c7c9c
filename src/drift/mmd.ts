/**
 * The kernel maximum mean discrepancy (MMD) two-sample test with a
 * permutation p-value (Gretton et al., "A kernel two-sample test", JMLR
 * 2012), vectorised on tfjs: the kernel Gram matrix of the pooled sample is
 * computed once, and a batch of permutations is one matrix product with a
 * 0/1 assignment matrix. Behavioural anchor: Renate's
 * `renate.shift.mmd_helpers.mmd` and `MMDCovariateShiftDetector`.
 */
import * as tf from "@tensorflow/tfjs-core";
import { Random } from "../random.js";
import { medianDistance, pairwiseSquaredDistances, rbfFromSquaredDistances } from "./rbf_kernel.js";

/**
 * Which MMD^2 estimate is reported (K_ij = k(z_i, z_j) over the pooled
 * sample, sums over i, j in the named samples):
 * - "unbiased": Gretton et al. Eq. 3, the i = j terms left out of the
 *   within-sample sums (expected value 0 when nothing drifted);
 * - "biased": Gretton et al. Eq. 5, every term kept, divided by n0^2, n1^2;
 * - "renate": what Renate computes, i = j terms kept but divided by
 *   n(n-1) (2.1512 on Renate's test case); for the RBF kernel, where
 *   k(x, x) = 1, it is "unbiased" + 1/(n0-1) + 1/(n1-1), a constant, so its
 *   permutation p-value is the same as "unbiased"'s.
 */
export type MmdEstimator = "unbiased" | "biased" | "renate";

export interface MmdOptions {
  /** RBF length scale, in feature units; default: the median heuristic (`medianDistance`) on the pooled sample. */
  lengthScale?: number;
  /** Permutations of the test (default 1000, as Renate); 0 gives the statistic only (pValue NaN). */
  numPermutations?: number;
  /** Seed of the permutations (default 0): the same seed gives the same p-value. */
  seed?: number;
  /** Default "unbiased". */
  estimator?: MmdEstimator;
}

export interface MmdResult {
  /** The MMD^2 estimate of `estimator`. */
  statistic: number;
  /**
   * (1 + #{permutations with statistic >= observed}) / (1 + numPermutations):
   * never 0 (Phipson and Smyth 2010; Renate counts strictly greater ones over
   * numPermutations, which can give 0). Permuted statistics within 1e-5 of
   * the observed one count as ties (float32 rounding of the sums).
   */
  pValue: number;
  lengthScale: number;
  numPermutations: number;
  estimator: MmdEstimator;
}

const TIE_TOLERANCE = 1e-5;
// Assignment rows per matrix product: bounds the B x n temporaries at ~4M floats (16 MB).
const BATCH_VALUES = 4_000_000;

/**
 * MMD test of `x0` (n0 x d) against `x1` (n1 x d), n0, n1 >= 2. The inputs
 * stay the caller's; every tensor made here is disposed. Cost: an
 * (n0 + n1)^2 Gram matrix and numPermutations x (n0 + n1)^2 multiply-adds.
 * Throws a RangeError on fewer than 2 rows, different widths or bad options.
 */
export async function mmdTest(x0: tf.Tensor2D, x1: tf.Tensor2D, options: MmdOptions = {}): Promise<MmdResult> {
  const { numPermutations = 1000, seed = 0, estimator = "unbiased" } = options;
  const [n0, d0] = x0.shape;
  const [n1, d1] = x1.shape;
  if (n0 < 2 || n1 < 2) throw new RangeError(`MMD test: each sample needs at least 2 rows, got ${n0} and ${n1}`);
  if (d0 !== d1) throw new RangeError(`MMD test: samples have ${d0} and ${d1} features; they must have the same`);
  if (!Number.isInteger(numPermutations) || numPermutations < 0) {
    throw new RangeError(`MMD test: numPermutations must be a whole number >= 0, got ${numPermutations}`);
  }
  const n = n0 + n1;
  const squared = tf.tidy(() => pairwiseSquaredDistances(tf.concat([x0, x1], 0)));
  let gram: tf.Tensor2D;
  let lengthScale: number;
  try {
    lengthScale = options.lengthScale ?? medianDistance(await squared.data<"float32">(), n);
    gram = rbfFromSquaredDistances(squared, lengthScale);
  } finally {
    squared.dispose();
  }
  try {
    // Row 0 is the observed split (x1's rows are the last n1), the rest are seeded permutations of it.
    const random = Random.fromSeed(seed);
    const observed = new Float32Array(n).fill(1, n0);
    const statistics: number[] = [];
    const total = 1 + numPermutations;
    const batch = Math.max(1, Math.floor(BATCH_VALUES / n));
    for (let start = 0; start < total; start += batch) {
      const rows = Math.min(batch, total - start);
      const assignments = new Float32Array(rows * n);
      for (let r = 0; r < rows; r++) {
        if (start + r === 0) assignments.set(observed, 0);
        else {
          const order = random.permutation(n);
          for (let k = 0; k < n1; k++) assignments[r * n + order[k]!] = 1;
        }
      }
      const values = tf.tidy(() => statisticsOf(gram, tf.tensor2d(assignments, [rows, n]), n0, n1, estimator));
      statistics.push(...(await values.data()));
      values.dispose();
    }
    const statistic = statistics[0]!;
    let atLeast = 0;
    for (let b = 1; b < total; b++) if (statistics[b]! >= statistic - TIE_TOLERANCE) atLeast++;
    const pValue = numPermutations === 0 ? Number.NaN : (1 + atLeast) / (1 + numPermutations);
    return { statistic, pValue, lengthScale, numPermutations, estimator };
  } finally {
    gram.dispose();
  }
}

/**
 * The MMD^2 estimate for each row of `z` (B x n, 1 marks the rows of sample
 * 1) from the block sums of the Gram matrix `k` (n x n, symmetric):
 * S11 = z K z', S01 = z K 1 - S11, S00 = sum(K) - 2 S01 - S11, and the
 * diagonal's share of each block for the unbiased estimate.
 */
function statisticsOf(k: tf.Tensor2D, z: tf.Tensor2D, n0: number, n1: number, estimator: MmdEstimator): tf.Tensor1D {
  const zk = tf.matMul(z, k); // B x n
  const s11 = tf.sum(tf.mul(zk, z), 1);
  const s01 = tf.sub(tf.sum(zk, 1), s11);
  const s00 = tf.sub(tf.sub(tf.sum(k), tf.mul(s01, 2)), s11);
  const cross = tf.mul(s01, 2 / (n0 * n1));
  if (estimator === "biased") return tf.sub(tf.add(tf.div(s00, n0 * n0), tf.div(s11, n1 * n1)), cross) as tf.Tensor1D;
  let within0: tf.Tensor = s00;
  let within1: tf.Tensor = s11;
  if (estimator === "unbiased") {
    const diagonal = tf.reshape(tf.sum(tf.mul(tf.eye(k.shape[0]), k), 1), [-1, 1]); // n x 1
    const diagonal1 = tf.reshape(tf.matMul(z, diagonal), [-1]);
    within1 = tf.sub(s11, diagonal1);
    within0 = tf.sub(s00, tf.sub(tf.sum(diagonal), diagonal1));
  }
  return tf.sub(tf.add(tf.div(within0, n0 * (n0 - 1)), tf.div(within1, n1 * (n1 - 1))), cross) as tf.Tensor1D;
}
