/**
 * Drift detection: is a new batch of data distributed like a reference batch
 * (covariate shift)? Two tests, as Renate's `renate.shift` offers them:
 * "mmd" (kernel MMD with a permutation p-value, mmd.ts) and "ks" (a
 * Kolmogorov-Smirnov test per feature with a Bonferroni correction,
 * Rabanser et al., "Failing Loudly", NeurIPS 2019). Either runs on the raw
 * features or on a model's penultimate-layer features. The score is
 * 1 - pValue: high means drift. Host-neutral; tensors are made and freed here.
 */
import * as tf from "@tensorflow/tfjs-core";
import { featureSize, type UnlabelledSamples } from "../data/dataset.js";
import { DataError, OptionsError } from "../errors.js";
import type { ContinualModel } from "../model/continual_model.js";
import { Random } from "../random.js";
import { ksTwoSample, type KsMethod } from "./kolmogorov_smirnov.js";
import { mmdTest, type MmdEstimator } from "./mmd.js";

export const DRIFT_DETECTORS = ["mmd", "ks"] as const;
export type DriftDetectorName = (typeof DRIFT_DETECTORS)[number];

export interface DriftOptions {
  /** Default "mmd". */
  detector?: DriftDetectorName;
  /** MMD: permutations, at least 1 (default 1000). */
  numPermutations?: number;
  /** MMD: seed of the permutations and of the subsampling (default 0). */
  seed?: number;
  /** MMD: RBF length scale (default: median heuristic). */
  lengthScale?: number;
  /** MMD: default "unbiased" (see MmdEstimator). */
  estimator?: MmdEstimator;
  /**
   * MMD: at most this many rows of each sample (default 1000), drawn
   * without replacement with `seed`; the Gram matrix has (n0 + n1)^2 entries.
   */
  maxSamples?: number;
  /** KS: default "auto". */
  ksMethod?: KsMethod;
}

export interface DriftReport {
  detector: DriftDetectorName;
  /** 1 - pValue, in [0, 1]: high means the data drifted from the reference. */
  score: number;
  /** In (0, 1] for MMD; for KS it underflows to 0 when the evidence is overwhelming (below ~1e-300). */
  pValue: number;
  /** MMD: the MMD^2 estimate; KS: the largest per-feature D. */
  statistic: number;
  /** Rows compared (after MMD's subsampling) and features per row. */
  referenceRows: number;
  dataRows: number;
  features: number;
  /** MMD only. */
  lengthScale?: number;
  numPermutations?: number;
  /** KS only: the feature with the smallest p-value (0-based) and that p-value before the correction. */
  mostShiftedFeature?: number;
  featurePValue?: number;
}

/**
 * Tests `data` (n1 x d) against `reference` (n0 x d). The tensors stay the
 * caller's. Throws an OptionsError for bad options and a DataError for
 * non-finite values, too few rows (MMD 2, KS 1 per sample) or different widths.
 */
export async function detectDrift(reference: tf.Tensor2D, data: tf.Tensor2D, options: DriftOptions = {}): Promise<DriftReport> {
  const detector = options.detector ?? "mmd";
  if (!DRIFT_DETECTORS.includes(detector)) throw new OptionsError(`drift detector must be one of ${DRIFT_DETECTORS.join(", ")}, got "${String(detector)}"`);
  if (reference.shape[1] !== data.shape[1]) {
    throw new DataError(`drift: the reference has ${reference.shape[1]} features per row and the data ${data.shape[1]}; they must match`);
  }
  const minimum = detector === "mmd" ? 2 : 1;
  if (reference.shape[0] < minimum || data.shape[0] < minimum) {
    throw new DataError(`drift (${detector}): each sample needs at least ${minimum} rows, got ${reference.shape[0]} (reference) and ${data.shape[0]} (data)`);
  }
  await assertFinite(reference, "reference");
  await assertFinite(data, "data");
  return detector === "mmd" ? mmdDrift(reference, data, options) : ksDrift(reference, data, options.ksMethod ?? "auto");
}

async function mmdDrift(reference: tf.Tensor2D, data: tf.Tensor2D, options: DriftOptions): Promise<DriftReport> {
  const { seed = 0, maxSamples = 1000 } = options;
  if (!Number.isInteger(maxSamples) || maxSamples < 2) throw new OptionsError(`drift: maxSamples must be a whole number >= 2, got ${maxSamples}`);
  // mmdTest takes 0 (the statistic alone); a drift score needs a p-value.
  if (options.numPermutations === 0) throw new OptionsError("drift: numPermutations must be at least 1 for a p-value (use mmdTest for the statistic alone)");
  const random = Random.fromSeed(seed);
  const x0 = subsample(reference, maxSamples, random);
  const x1 = subsample(data, maxSamples, random);
  try {
    const result = await mmdTest(x0, x1, {
      seed,
      ...(options.numPermutations === undefined ? {} : { numPermutations: options.numPermutations }),
      ...(options.lengthScale === undefined ? {} : { lengthScale: options.lengthScale }),
      ...(options.estimator === undefined ? {} : { estimator: options.estimator }),
    });
    return {
      detector: "mmd",
      score: 1 - result.pValue,
      pValue: result.pValue,
      statistic: result.statistic,
      referenceRows: x0.shape[0],
      dataRows: x1.shape[0],
      features: x0.shape[1],
      lengthScale: result.lengthScale,
      numPermutations: result.numPermutations,
    };
  } catch (error) {
    throw error instanceof RangeError ? new OptionsError(`drift: ${error.message}`) : error;
  } finally {
    if (x0 !== reference) x0.dispose();
    if (x1 !== data) x1.dispose();
  }
}

/** `x` itself when it has at most `max` rows, else `max` rows drawn without replacement (a new tensor). */
function subsample(x: tf.Tensor2D, max: number, random: Random): tf.Tensor2D {
  const n = x.shape[0];
  if (n <= max) return x;
  const rows = random.permutation(n).subarray(0, max).sort();
  return tf.tidy(() => tf.gather(x, tf.tensor1d(rows, "int32")));
}

async function ksDrift(reference: tf.Tensor2D, data: tf.Tensor2D, method: KsMethod): Promise<DriftReport> {
  const sorted0 = await sortedColumns(reference);
  const sorted1 = await sortedColumns(data);
  const [n0, d] = reference.shape;
  const n1 = data.shape[0];
  let statistic = 0;
  let smallest = { feature: 0, pValue: 1 };
  for (let f = 0; f < d; f++) {
    const test = ksTwoSample(sorted0.subarray(f * n0, (f + 1) * n0), sorted1.subarray(f * n1, (f + 1) * n1), method);
    statistic = Math.max(statistic, test.statistic);
    if (test.pValue < smallest.pValue) smallest = { feature: f, pValue: test.pValue };
  }
  // Bonferroni: the smallest of d p-values, times d (capped at 1), controls the chance of any false alarm.
  const pValue = Math.min(1, smallest.pValue * d);
  return {
    detector: "ks",
    score: 1 - pValue,
    pValue,
    statistic,
    referenceRows: n0,
    dataRows: n1,
    features: d,
    mostShiftedFeature: smallest.feature,
    featurePValue: smallest.pValue,
  };
}

/** Each column of `x` (n x d) sorted ascending, column after column (d x n, row-major), sorted on tfjs. */
async function sortedColumns(x: tf.Tensor2D): Promise<Float32Array> {
  const sorted = tf.tidy(() => tf.neg(tf.topk(tf.neg(tf.transpose(x)), x.shape[0]).values));
  try {
    return (await sorted.data()) as Float32Array;
  } finally {
    sorted.dispose();
  }
}

async function assertFinite(x: tf.Tensor2D, name: string): Promise<void> {
  const bad = tf.tidy(() => tf.logicalNot(tf.all(tf.isFinite(x))));
  const anyBad = (await bad.data())[0] === 1;
  bad.dispose();
  if (anyBad) throw new DataError(`drift: the ${name} has NaN or infinite values; drift tests need finite numbers`);
}

/**
 * Samples as a tensor for `detectDrift`: their raw features (n x prod(featureShape)),
 * or, with `model`, the model's penultimate-layer features (n x width,
 * `ContinualModel.getFeatures`), computed in batches of 256 rows. The caller owns the result.
 */
export function driftFeatures(samples: UnlabelledSamples, model?: ContinualModel): tf.Tensor2D {
  const width = featureSize(samples.featureShape);
  if (model === undefined) return tf.tensor2d(samples.features, [samples.length, width]);
  const parts: tf.Tensor2D[] = [];
  try {
    for (let start = 0; start < samples.length; start += 256) {
      const rows = Math.min(256, samples.length - start);
      parts.push(
        tf.tidy(() => model.getFeatures(tf.tensor(samples.features.subarray(start * width, (start + rows) * width), [rows, ...samples.featureShape]))),
      );
    }
    return tf.tidy(() => tf.concat(parts, 0));
  } finally {
    for (const part of parts) part.dispose();
  }
}

/** `detectDrift` on two sets of samples (raw features, or `model`'s penultimate layer); frees every tensor it makes. */
export async function detectSampleDrift(
  reference: UnlabelledSamples,
  data: UnlabelledSamples,
  options: DriftOptions & { model?: ContinualModel } = {},
): Promise<DriftReport> {
  if (featureSize(reference.featureShape) !== featureSize(data.featureShape)) {
    throw new DataError(`drift: reference rows have ${featureSize(reference.featureShape)} values and data rows ${featureSize(data.featureShape)}; they must match`);
  }
  const x0 = driftFeatures(reference, options.model);
  try {
    const x1 = driftFeatures(data, options.model);
    try {
      return await detectDrift(x0, x1, options);
    } finally {
      x1.dispose();
    }
  } finally {
    x0.dispose();
  }
}
