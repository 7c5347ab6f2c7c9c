/**
 * Selecting, joining and counting samples of a Dataset. Every result is a new
 * Dataset with its own arrays, so mutating one never changes another.
 */
import { DataError } from "../errors.js";
import { featureSize, type Dataset } from "./dataset.js";

/**
 * Copies the rows `indices` (in that order) into `features`/`labels`, which
 * must have room for them. One `set(subarray)` per row: this is the hot path
 * of every batch, so no per-value loop.
 */
export function copyRows(
  ds: Dataset,
  indices: ArrayLike<number>,
  features: Float32Array,
  labels: Int32Array,
  source = "copyRows",
): void {
  const rowSize = featureSize(ds.featureShape);
  const count = indices.length;
  if (features.length < count * rowSize || labels.length < count) {
    throw new DataError(
      `${source}: output buffers too small for ${count} rows of ${rowSize} values ` +
        `(features ${features.length}, labels ${labels.length})`,
    );
  }
  for (let k = 0; k < count; k++) {
    const index = checkIndex(ds, indices, k, source);
    features.set(ds.features.subarray(index * rowSize, (index + 1) * rowSize), k * rowSize);
    labels[k] = ds.labels[index]!;
  }
}

/**
 * Reads `indices[position]` and checks it is a row of `ds`. Needed because
 * `subarray` clamps out-of-range bounds and would copy a short row silently.
 */
export function checkIndex(ds: Dataset, indices: ArrayLike<number>, position: number, source: string): number {
  const index = indices[position]!;
  if (!Number.isInteger(index) || index < 0 || index >= ds.length) {
    throw new DataError(
      `${source}: index ${index} at position ${position} is not a sample of a dataset of length ${ds.length}`,
    );
  }
  return index;
}

/** A new Dataset with the rows `indices`, in that order (repeats allowed). */
export function subsetDataset(ds: Dataset, indices: ArrayLike<number>): Dataset {
  const rowSize = featureSize(ds.featureShape);
  const features = new Float32Array(indices.length * rowSize);
  const labels = new Int32Array(indices.length);
  copyRows(ds, indices, features, labels, "subsetDataset");
  return { features, labels, featureShape: ds.featureShape, numClasses: ds.numClasses, length: labels.length };
}

/**
 * All samples of `list`, one dataset after the other. The feature shapes must
 * agree; numClasses is the largest of the inputs, so datasets of successive
 * tasks that introduce new classes can be joined.
 */
export function concatDatasets(list: readonly Dataset[]): Dataset {
  const first = list[0];
  if (first === undefined) throw new DataError("concatDatasets: needs at least one dataset, got none");
  const shape = first.featureShape;
  let length = 0;
  let numClasses = 0;
  list.forEach((ds, i) => {
    if (ds.featureShape.length !== shape.length || ds.featureShape.some((dim, d) => dim !== shape[d])) {
      throw new DataError(
        `concatDatasets: dataset ${i} has featureShape [${ds.featureShape.join(", ")}], ` +
          `dataset 0 has [${shape.join(", ")}]`,
      );
    }
    length += ds.length;
    numClasses = Math.max(numClasses, ds.numClasses);
  });
  const features = new Float32Array(length * featureSize(shape));
  const labels = new Int32Array(length);
  let row = 0;
  for (const ds of list) {
    features.set(ds.features, row * featureSize(shape));
    labels.set(ds.labels, row);
    row += ds.length;
  }
  return { features, labels, featureShape: shape, numClasses, length };
}

/** Number of samples of each class, indexed by class (length numClasses). */
export function classHistogram(ds: Dataset): number[] {
  const counts = new Array<number>(ds.numClasses).fill(0);
  for (const label of ds.labels) counts[label]!++;
  return counts;
}

/** The classes with at least one sample, in increasing order. */
export function classesPresent(ds: Dataset): number[] {
  return classHistogram(ds).flatMap((count, label) => (count > 0 ? [label] : []));
}

/**
 * The samples whose label is one of `classes`, in their original order.
 * Labels keep their values and numClasses is unchanged: a task's slice still
 * lives in the label space of the whole problem.
 */
export function filterByClasses(ds: Dataset, classes: Iterable<number>): Dataset {
  const keep = new Uint8Array(ds.numClasses);
  for (const label of classes) {
    if (!Number.isInteger(label) || label < 0 || label >= ds.numClasses) {
      throw new DataError(
        `filterByClasses: class ${label} is not in [0, ${ds.numClasses}) of a dataset with ${ds.numClasses} classes`,
      );
    }
    keep[label] = 1;
  }
  const indices: number[] = [];
  for (let i = 0; i < ds.length; i++) if (keep[ds.labels[i]!] === 1) indices.push(i);
  return subsetDataset(ds, indices);
}
