/**
 * The outputs of named body layers for every item of a dataset, in dataset
 * order, batched, without gradients, in inference mode on test-transformed
 * items (like extractLogits): what POD-ER stores with each memory item.
 */
import * as tf from "@tensorflow/tfjs-core";
import type { Dataset } from "../data/dataset.js";
import type { ContinualModel } from "../model/continual_model.js";
import { batchedRows, type ExtractLogitsOptions } from "./logits.js";

/**
 * Row i of the result holds item i's outputs of `layers`, each flattened
 * (row-major, the layer's own axis order) and laid end to end in the order
 * named: N x width values, width the sum of the layers' output sizes (0
 * for an empty dataset). `taskId` picks the head the forward pass runs
 * through (the body's outputs do not depend on it). A ModelError for a
 * name the body lacks.
 */
export async function extractActivationsArray(
  model: ContinualModel,
  dataset: Dataset,
  batchSize: number,
  taskId: string,
  layers: readonly string[],
  options: ExtractLogitsOptions = {},
): Promise<{ values: Float32Array; width: number }> {
  const rows = batchedRows(dataset, batchSize, { transform: options.transform }, 0, (x) => {
    const { logits, activations } = model.getLogitsAndActivations(x, taskId, false, layers);
    logits.dispose();
    return tf.concat(activations.map((a) => tf.reshape(a, [x.shape[0]!, -1])), 1) as tf.Tensor2D;
  });
  try {
    return { values: (await rows.data()) as Float32Array, width: rows.shape[1] };
  } finally {
    rows.dispose();
  }
}
