/**
 * The model's penultimate-layer features (ContinualModel.getFeatures) for
 * every item of a dataset, in order, batched, in inference mode on the
 * deterministic (test) transform: what iCaRL's herding and class means read.
 */
import type { Dataset } from "../data/dataset.js";
import type { FeatureTransform } from "../data/transforms.js";
import type { ContinualModel } from "../model/continual_model.js";
import { Random } from "../random.js";
import { datasetSource } from "./batch_source.js";
import { sequentialBatches, toBatchTensors, disposeBatch } from "./batch_tensors.js";

/** (N, D) features of `model` for every item of `dataset`, row-major; `width` is D (0 rows: width 0). */
export async function extractFeaturesArray(
  model: ContinualModel,
  dataset: Dataset,
  batchSize: number,
  options: { transform?: FeatureTransform | undefined } = {},
): Promise<{ values: Float32Array; width: number }> {
  if (!Number.isInteger(batchSize) || batchSize <= 0) throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
  const source = datasetSource(dataset, { transform: options.transform });
  const random = Random.fromSeed(0); // deterministic transforms ignore it
  const parts: Float32Array[] = [];
  let width = 0;
  for (const indices of sequentialBatches(dataset.length, batchSize)) {
    const batch = toBatchTensors(source.gather(indices, random), dataset.featureShape);
    try {
      const features = model.getFeatures(batch.x);
      try {
        width = features.shape[1];
        parts.push((await features.data()) as Float32Array);
      } finally {
        features.dispose();
      }
    } finally {
      disposeBatch(batch);
    }
  }
  const values = new Float32Array(parts.reduce((n, part) => n + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    values.set(part, offset);
    offset += part.length;
  }
  return { values, width };
}
