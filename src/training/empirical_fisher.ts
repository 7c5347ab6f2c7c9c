/**
 * The empirical Fisher information EWC weighs its penalty with, as Avalanche
 * computes it (avalanche/training/plugins/ewc.py, EWCPlugin.compute_importances,
 * which Renate's EWC runs): the data in order, cut into batches of
 * `batchSize` (the last one smaller), the model in inference mode; for each
 * batch the gradient of the batch's MEAN loss with respect to each trainable
 * weight, squared elementwise; averaged over the batches. So it squares batch
 * gradients, not per-sample ones (Kirkpatrick et al. 2017 define the Fisher
 * per sample); kept so that Renate's ewc_lambda means the same here.
 */
import * as tf from "@tensorflow/tfjs-core";
import "../backend/gradients.js";
import type { ContinualModel } from "../model/continual_model.js";
import { Random } from "../random.js";
import type { BatchSource } from "./batch_source.js";
import { disposeBatch, sequentialBatches, toBatchTensors } from "./batch_tensors.js";
import type { LossFunction } from "./losses.js";

/** A tensor per named weight (names as ContinualModel.namedTrainableVariables gives them). */
export interface NamedTensor {
  name: string;
  value: tf.Tensor;
}

/**
 * Mean over the batches of `data` of the squared gradient of the batch-mean
 * `lossFn`, for each trainable weight of task `taskId`'s forward pass (the
 * body and that head), in namedTrainableVariables order; shapes as the
 * weights. `maskBias` (1, C), when given, is added to the logits first (the
 * training's maskUnusedClasses). `seed` seeds the transforms. The caller
 * owns the returned tensors. Empty data: zeros.
 */
export async function empiricalFisher(
  model: ContinualModel,
  data: BatchSource,
  options: { taskId: string; batchSize: number; lossFn: LossFunction; seed: number; maskBias?: tf.Tensor2D | undefined },
): Promise<NamedTensor[]> {
  const named = model.namedTrainableVariables(options.taskId);
  const variables = named.map(({ variable }) => variable);
  let sums = named.map(({ variable }) => tf.zerosLike(variable) as tf.Tensor);
  const random = Random.fromSeed(options.seed);
  let batches = 0;
  try {
    for (const indices of sequentialBatches(data.length, options.batchSize)) {
      const batch = toBatchTensors(data.gather(indices, random), data.featureShape, data.targetWidth);
      try {
        const { value, grads } = tf.variableGrads(() => {
          const raw = model.getLogits(batch.x, options.taskId, false);
          const logits = options.maskBias ? (tf.add(raw, options.maskBias) as tf.Tensor2D) : raw;
          return tf.mean(options.lossFn(logits, batch.labels)) as tf.Scalar;
        }, variables);
        const previous = sums;
        // A weight the loss does not reach (no gradient) adds nothing, as in Avalanche.
        sums = tf.tidy(() => named.map(({ variable }, i) => (grads[variable.name] ? tf.add(previous[i]!, tf.square(grads[variable.name]!)) : previous[i]!.clone())));
        tf.dispose(previous);
        tf.dispose([value, ...Object.values(grads)]);
      } finally {
        disposeBatch(batch);
      }
      batches++;
      // Let a browser page breathe between batches.
      await Promise.resolve();
    }
    const count = Math.max(batches, 1);
    const means = tf.tidy(() => sums.map((sum) => tf.div(sum, count)));
    return named.map(({ name }, i) => ({ name, value: means[i]! }));
  } finally {
    tf.dispose(sums);
  }
}
