/**
 * The outputs of named body layers for every item of a dataset, in dataset
 * order, batched, without gradients, in inference mode on test-transformed
 * items (like extractLogits): what POD-ER stores with each memory item.
 */
import * as tf from "@tensorflow/tfjs-core";
import type { Dataset } from "../data/dataset.js";
import type { ContinualModel } from "../model/continual_model.js";
import { Random } from "../random.js";
import { datasetSource } from "./batch_source.js";
import { disposeBatch, sequentialBatches, toBatchTensors } from "./batch_tensors.js";
import type { ExtractLogitsOptions } from "./logits.js";

/**
 * Row i of the result holds item i's outputs of `layers`, each flattened
 * (row-major, the layer's own axis order) and laid end to end in the order
 * named: N x width values, width the sum of the layers' output sizes.
 * `taskId` picks the head the forward pass runs through (the body's
 * outputs do not depend on it). A ModelError for a name the body lacks.
 */
export async function extractActivationsArray(
  model: ContinualModel,
  dataset: Dataset,
  batchSize: number,
  taskId: string,
  layers: readonly string[],
  options: ExtractLogitsOptions = {},
): Promise<{ values: Float32Array; width: number }> {
  if (!Number.isInteger(batchSize) || batchSize <= 0) throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
  const source = datasetSource(dataset, { transform: options.transform });
  const random = Random.fromSeed(0); // deterministic transforms ignore it
  let values = new Float32Array(0);
  let width = 0;
  let row = 0;
  for (const indices of sequentialBatches(dataset.length, batchSize)) {
    const batch = toBatchTensors(source.gather(indices, random), dataset.featureShape);
    let rows: tf.Tensor2D | undefined;
    try {
      rows = tf.tidy(() => {
        const { activations } = model.getLogitsAndActivations(batch.x, taskId, false, layers);
        return tf.concat(activations.map((a) => tf.reshape(a, [indices.length, -1])), 1) as tf.Tensor2D;
      });
      if (width === 0) {
        width = rows.shape[1];
        values = new Float32Array(dataset.length * width);
      }
      values.set((await rows.data()) as Float32Array, row * width);
      row += indices.length;
    } finally {
      rows?.dispose();
      disposeBatch(batch);
    }
  }
  return { values, width };
}
