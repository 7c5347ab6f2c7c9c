/**
 * The model's penultimate-layer features (ContinualModel.getFeatures) for
 * every item of a dataset, in order, batched, in inference mode on the
 * deterministic (test) transform: what iCaRL's herding and class means read.
 */
import type { Dataset } from "../data/dataset.js";
import type { FeatureTransform } from "../data/transforms.js";
import type { ContinualModel } from "../model/continual_model.js";
import { batchedRows } from "./logits.js";

/** (N, D) features of `model` for every item of `dataset`, row-major; `width` is D (0 for no items). */
export async function extractFeaturesArray(
  model: ContinualModel,
  dataset: Dataset,
  batchSize: number,
  options: { transform?: FeatureTransform | undefined } = {},
): Promise<{ values: Float32Array; width: number }> {
  const features = batchedRows(dataset, batchSize, options, 0, (x) => model.getFeatures(x));
  try {
    return { values: (await features.data()) as Float32Array, width: features.shape[1] };
  } finally {
    features.dispose();
  }
}
