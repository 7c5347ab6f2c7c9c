/**
 * Per-sample classification metrics on plain arrays of class indices.
 *
 * Bad input (length mismatch, no samples, a class index that is not an
 * integer in [0, numClasses)) throws a RangeError naming the argument and the
 * position at fault: metrics are computed on data relearn produced itself, so
 * a mismatch is a bug worth stopping for, not a value to average away.
 */

/** Class indices: an Int32Array from a model's argmax, or a plain array. */
export type ClassIndices = ArrayLike<number>;

/** Fraction of samples whose prediction equals the label, in [0, 1]. */
export function accuracy(predictions: ClassIndices, labels: ClassIndices): number {
  checkSameLength({ predictions, labels });
  let correct = 0;
  for (let i = 0; i < labels.length; i++) if (predictions[i] === labels[i]) correct++;
  return correct / labels.length;
}

/**
 * Accuracy of each class c = fraction of the samples labelled c that were
 * predicted c. A class with no sample in `labels` gets NaN, not 0: 0 would read
 * as "every sample of this class was wrong", and NaN keeps an average over
 * classes from silently counting it (filter with Number.isNaN to skip it).
 */
export function perClassAccuracy(predictions: ClassIndices, labels: ClassIndices, numClasses: number): number[] {
  const matrix = confusionMatrix(predictions, labels, numClasses);
  return matrix.map((row, c) => {
    const total = row.reduce((sum, count) => sum + count, 0);
    return total === 0 ? Number.NaN : row[c]! / total;
  });
}

/**
 * Confusion matrix: `matrix[label][prediction]` counts the samples of true
 * class `label` predicted as `prediction`. It sums to the number of samples
 * and its trace is the number of correct predictions.
 */
export function confusionMatrix(predictions: ClassIndices, labels: ClassIndices, numClasses: number): number[][] {
  checkNumClasses(numClasses);
  checkSameLength({ predictions, labels });
  checkClassIndices("predictions", predictions, numClasses);
  checkClassIndices("labels", labels, numClasses);
  const matrix = Array.from({ length: numClasses }, () => new Array<number>(numClasses).fill(0));
  for (let i = 0; i < labels.length; i++) matrix[labels[i]!]![predictions[i]!]!++;
  return matrix;
}

/**
 * Negative flip rate: the fraction of ALL samples that the previous model got
 * right and the next model gets wrong (the regressions an update introduced),
 * in [0, 1].
 */
export function negativeFlipRate(
  previousPredictions: ClassIndices,
  nextPredictions: ClassIndices,
  labels: ClassIndices,
): number {
  checkSameLength({ previousPredictions, nextPredictions, labels });
  let flips = 0;
  for (let i = 0; i < labels.length; i++) {
    if (previousPredictions[i] === labels[i] && nextPredictions[i] !== labels[i]) flips++;
  }
  return flips / labels.length;
}

function checkSameLength(arrays: Record<string, ClassIndices>): void {
  const entries = Object.entries(arrays);
  const [firstName, first] = entries[0]!;
  for (const [name, array] of entries.slice(1)) {
    if (array.length !== first.length) {
      throw new RangeError(`${name} has ${array.length} entries but ${firstName} has ${first.length}`);
    }
  }
  if (first.length === 0) throw new RangeError(`${entries.map(([n]) => n).join(" and ")} are empty: a rate over zero samples is undefined`);
}

function checkNumClasses(numClasses: number): void {
  if (!Number.isInteger(numClasses) || numClasses < 1) {
    throw new RangeError(`numClasses must be a positive integer, got ${numClasses}`);
  }
}

function checkClassIndices(name: string, values: ClassIndices, numClasses: number): void {
  for (let i = 0; i < values.length; i++) {
    const value = values[i]!;
    if (!Number.isInteger(value) || value < 0 || value >= numClasses) {
      throw new RangeError(`${name}[${i}] = ${value} is not a class index in [0, ${numClasses - 1}]`);
    }
  }
}
