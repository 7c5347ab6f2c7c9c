/**
 * A Dataset is plain typed arrays: row-major features (n x prod(featureShape))
 * and integer labels in [0, numClasses). No tfjs here: tensors are made at the
 * batch boundary by the training loop, so data code is fast to test and
 * trivially serialisable.
 */
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
