/**
 * Per-sample transforms (augmentation, normalisation) and `gatherBatch`, which
 * assembles a training batch from a Dataset. Transforms run on plain
 * Float32Arrays before tensors exist, so they are cheap to test and the same
 * code serves the train, test and buffer pipelines.
 */
import { DataError, OptionsError } from "../errors.js";
import type { Random } from "../random.js";
import { featureSize, type Dataset } from "./dataset.js";
import { checkIndex, copyRows } from "./dataset_ops.js";

/** What a feature transform may look at besides the sample itself. */
export interface TransformContext {
  readonly featureShape: readonly number[];
  /** The only source of randomness a transform may use, so runs are reproducible. */
  readonly random: Random;
}

/**
 * Maps one sample to a new one of the same size (prod(featureShape) values).
 * `sample` may be a view into the dataset: return a new array, never modify it
 * (returning it unchanged is fine).
 */
export type FeatureTransform = (sample: Float32Array, context: TransformContext) => Float32Array;

/** Maps a label to another label (e.g. a remapping of class ids). */
export type TargetTransform = (label: number) => number;

/** Applies `transforms` left to right, checking the size after each one so a faulty step is named. */
export function composeTransforms(...transforms: FeatureTransform[]): FeatureTransform {
  return (sample, context) => {
    let current = sample;
    transforms.forEach((transform, step) => {
      current = transform(current, context);
      checkTransformOutput(current, context.featureShape, `composeTransforms: step ${step}`);
    });
    return current;
  };
}

/** Applies target transforms left to right. */
export function composeTargetTransforms(...transforms: TargetTransform[]): TargetTransform {
  return (label) => transforms.reduce((current, transform) => transform(current), label);
}

/**
 * (x - mean) / std. Scalars apply to every value; arrays are per channel, the
 * channel being the last axis (HWC layout), so they need as many entries as
 * featureShape's last dim.
 */
export function normalize(mean: number | readonly number[], std: number | readonly number[]): FeatureTransform {
  const means = typeof mean === "number" ? [mean] : [...mean];
  const stds = typeof std === "number" ? [std] : [...std];
  if (means.length === 0 || !means.every(Number.isFinite)) {
    throw new OptionsError(`normalize: mean must be finite numbers, got ${JSON.stringify(mean)}`);
  }
  if (stds.length === 0 || !stds.every((s) => Number.isFinite(s) && s > 0)) {
    throw new OptionsError(`normalize: std must be positive finite numbers, got ${JSON.stringify(std)}`);
  }
  const perChannel = means.length > 1 || stds.length > 1;
  return (sample, { featureShape }) => {
    const channels = perChannel ? featureShape[featureShape.length - 1]! : 1;
    for (const [name, values] of [["mean", means], ["std", stds]] as const) {
      if (values.length !== 1 && values.length !== channels) {
        throw new DataError(
          `normalize: ${name} has ${values.length} entries but featureShape [${featureShape.join(", ")}] ` +
            `has ${channels} channels (last axis)`,
        );
      }
    }
    const out = new Float32Array(sample.length);
    for (let i = 0; i < sample.length; i++) {
      const c = i % channels;
      out[i] = (sample[i]! - (means[c] ?? means[0]!)) / (stds[c] ?? stds[0]!);
    }
    return out;
  };
}

/**
 * Mirrors an [height, width, channels] sample left-right with probability p.
 * Always draws one number per sample, so the random stream does not depend on p.
 */
export function randomHorizontalFlip(p = 0.5): FeatureTransform {
  if (!(p >= 0 && p <= 1)) throw new OptionsError(`randomHorizontalFlip: p must be in [0, 1], got ${p}`);
  return (sample, { featureShape, random }) => {
    if (featureShape.length !== 3) {
      throw new DataError(
        `randomHorizontalFlip: needs featureShape [height, width, channels], got [${featureShape.join(", ")}]`,
      );
    }
    if (random.float() >= p) return sample;
    const [height, width, channels] = featureShape as [number, number, number];
    const out = new Float32Array(sample.length);
    const rowSize = width * channels;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const from = y * rowSize + x * channels;
        const to = y * rowSize + (width - 1 - x) * channels;
        out.set(sample.subarray(from, from + channels), to);
      }
    }
    return out;
  };
}

/** The feature and label transforms applied to rows as they are gathered. */
export interface RowTransforms {
  transform?: FeatureTransform | undefined;
  targetTransform?: TargetTransform | undefined;
}

/** Options of `gatherBatch`. */
export interface GatherOptions extends RowTransforms {
  /** Required when `transform` is given. */
  random?: Random | undefined;
  /** Upper bound (exclusive) for transformed labels; defaults to the dataset's numClasses. */
  numClasses?: number | undefined;
}

/** A batch: rows of features and their labels. */
export interface Batch {
  features: Float32Array;
  labels: Int32Array;
}

/**
 * The rows `indices` of `ds`, in that order, with the transforms applied.
 * When `out` is given and big enough its buffers are reused (the result are
 * views of the right length into them), so a training loop allocates its batch
 * buffers once.
 */
export function gatherBatch(
  ds: Dataset,
  indices: ArrayLike<number>,
  options: GatherOptions = {},
  out?: Batch,
): Batch {
  const rowSize = featureSize(ds.featureShape);
  const count = indices.length;
  const features =
    out !== undefined && out.features.length >= count * rowSize
      ? out.features.subarray(0, count * rowSize)
      : new Float32Array(count * rowSize);
  const labels =
    out !== undefined && out.labels.length >= count ? out.labels.subarray(0, count) : new Int32Array(count);

  const { transform, targetTransform, random } = options;
  if (transform === undefined) {
    copyRows(ds, indices, features, labels, "gatherBatch");
  } else {
    if (random === undefined) {
      throw new OptionsError("gatherBatch: a feature transform needs options.random (a seeded Random)");
    }
    const context: TransformContext = { featureShape: ds.featureShape, random };
    for (let k = 0; k < count; k++) {
      const index = checkIndex(ds, indices, k, "gatherBatch");
      const result = transform(ds.features.subarray(index * rowSize, (index + 1) * rowSize), context);
      checkTransformOutput(result, ds.featureShape, `gatherBatch: transform of sample ${index}`);
      features.set(result, k * rowSize);
      labels[k] = ds.labels[index]!;
    }
  }

  if (targetTransform !== undefined) {
    const numClasses = options.numClasses ?? ds.numClasses;
    for (let k = 0; k < count; k++) {
      const label = targetTransform(labels[k]!);
      if (!Number.isInteger(label) || label < 0 || label >= numClasses) {
        throw new DataError(
          `gatherBatch: target transform mapped label ${labels[k]} of sample ${indices[k]} to ${label}, ` +
            `expected an integer in [0, ${numClasses})`,
        );
      }
      labels[k] = label;
    }
  }
  return { features, labels };
}

function checkTransformOutput(result: unknown, featureShape: readonly number[], what: string): void {
  const expected = featureSize(featureShape);
  if (!(result instanceof Float32Array) || result.length !== expected) {
    const got =
      result instanceof Float32Array
        ? `${result.length} values`
        : `a value of type ${(result as { constructor?: { name?: string } } | null)?.constructor?.name ?? typeof result}`;
    throw new DataError(
      `${what} returned ${got}, expected a Float32Array of ${expected} values (featureShape [${featureShape.join(", ")}])`,
    );
  }
}
