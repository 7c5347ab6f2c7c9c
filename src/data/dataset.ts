/**
 * A Dataset is plain typed arrays: row-major features (n x prod(featureShape))
 * and integer labels in [0, numClasses). No tfjs here: tensors are made at the
 * batch boundary by the training loop, so data code is fast to test and
 * trivially serialisable.
 */
import { DataError } from "../errors.js";

/** Samples as typed arrays; build one with `createDataset`, which checks the invariants below. */
export interface Dataset {
  /** n * prod(featureShape) values, sample after sample. */
  readonly features: Float32Array;
  /** n labels, each an integer in [0, numClasses). */
  readonly labels: Int32Array;
  /** Shape of one sample, e.g. [784] or [28, 28, 1]. */
  readonly featureShape: readonly number[];
  readonly numClasses: number;
  readonly length: number;
}

/** Samples without labels: what a model predicts on (a Dataset minus its labels). */
export type UnlabelledSamples = Pick<Dataset, "features" | "featureShape" | "length">;

/** Number of values in one sample of the given shape (the product of its dims). */
export function featureSize(shape: readonly number[]): number {
  let size = 1;
  for (const dim of shape) size *= dim;
  return size;
}

/** What `createDataset` accepts: plain arrays are copied into typed arrays. */
export interface DatasetInit {
  features: Float32Array | ArrayLike<number>;
  labels: Int32Array | ArrayLike<number>;
  featureShape: readonly number[];
  numClasses: number;
}

/**
 * Builds a Dataset after checking every invariant the rest of relearn relies
 * on, so a bad file fails here with a message naming `source` and the sample,
 * not later as a NaN loss. Typed arrays of the right type are used as they
 * are (not copied); other array-likes are copied.
 */
export function createDataset(init: DatasetInit, source = "dataset"): Dataset {
  const { featureShape, numClasses } = init;
  if (
    !Array.isArray(featureShape) ||
    featureShape.length === 0 ||
    !featureShape.every((dim) => Number.isInteger(dim) && dim > 0)
  ) {
    throw new DataError(
      `${source}: featureShape must be a non-empty list of positive integers, got ${JSON.stringify(featureShape)}`,
    );
  }
  if (!Number.isInteger(numClasses) || numClasses <= 0) {
    throw new DataError(`${source}: numClasses must be a positive integer, got ${numClasses}`);
  }
  const length = init.labels.length;
  const rowSize = featureSize(featureShape);
  if (init.features.length !== length * rowSize) {
    throw new DataError(
      `${source}: ${length} labels with featureShape [${featureShape.join(", ")}] need ` +
        `${length * rowSize} feature values (${length} x ${rowSize}), got ${init.features.length}`,
    );
  }

  // Labels are checked on the caller's values, before an Int32Array would silently truncate 1.5 to 1.
  const rawLabels = init.labels;
  for (let i = 0; i < length; i++) {
    const label = rawLabels[i]!;
    if (!Number.isInteger(label) || label < 0 || label >= numClasses) {
      throw new DataError(
        `${source}: sample ${i} has label ${label}, expected an integer in [0, ${numClasses})`,
      );
    }
  }
  const features = init.features instanceof Float32Array ? init.features : Float32Array.from(init.features);
  // Checked after the float32 conversion: a finite double like 1e39 becomes Infinity there.
  for (let i = 0; i < features.length; i++) {
    if (!Number.isFinite(features[i]!)) {
      const sample = Math.floor(i / rowSize);
      throw new DataError(
        `${source}: sample ${sample} has a non-finite feature (${features[i]}) at position ${i - sample * rowSize}`,
      );
    }
  }
  const labels = rawLabels instanceof Int32Array ? rawLabels : Int32Array.from(rawLabels);
  return { features, labels, featureShape: Object.freeze([...featureShape]), numClasses, length };
}
