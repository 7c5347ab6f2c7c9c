/**
 * Loss and metrics of a model over one or more labelled sources, in inference
 * mode, each source with its own task id (a multi-head model answers each task
 * with that task's head). Values are means over all rows of all sources.
 */
import * as tf from "@tensorflow/tfjs-core";
import type { Dataset } from "../data/dataset.js";
import type { FeatureTransform } from "../data/transforms.js";
import { DEFAULT_TASK_ID, type ContinualModel } from "../model/continual_model.js";
import { Random } from "../random.js";
import { datasetSource, type BatchSource } from "./batch_source.js";
import { sequentialBatches, toBatchTensors, disposeBatch } from "./batch_tensors.js";
import { crossEntropyLoss, type LossFunction } from "./losses.js";
import { DeviceSums, defaultMetrics, type BatchMetric } from "./metrics.js";

export interface EvaluationSource {
  readonly data: BatchSource;
  readonly taskId: string;
}

/** Returns `{ <prefix>loss, <prefix><metric>... }` over all sources. */
export async function evaluateModel(
  model: ContinualModel,
  sources: readonly EvaluationSource[],
  options: { loss: LossFunction; metrics: Readonly<Record<string, BatchMetric>>; batchSize: number; prefix?: string },
): Promise<Record<string, number>> {
  const sums = new DeviceSums();
  const random = Random.fromSeed(0);
  try {
    for (const { data, taskId } of sources) {
      for (const indices of sequentialBatches(data.length, options.batchSize)) {
        const batch = toBatchTensors(data.gather(indices, random), data.featureShape);
        try {
          const values = tf.tidy(() => {
            const logits = model.getLogits(batch.x, taskId, false);
            const out: Record<string, tf.Scalar> = { loss: tf.sum(options.loss(logits, batch.labels)) };
            for (const [name, metric] of Object.entries(options.metrics)) out[name] = metric(logits, batch.labels);
            return out;
          });
          sums.add(values, indices.length);
        } finally {
          disposeBatch(batch);
        }
      }
    }
    return await sums.read(options.prefix ?? "");
  } finally {
    sums.dispose();
  }
}

/** Cross-entropy loss and accuracy of `model` on one dataset (inference mode). */
export async function evaluateDataset(
  model: ContinualModel,
  dataset: Dataset,
  options: { taskId?: string; batchSize?: number; transform?: FeatureTransform | undefined } = {},
): Promise<{ loss: number; accuracy: number }> {
  const logs = await evaluateModel(model, [{ data: datasetSource(dataset, { transform: options.transform }), taskId: options.taskId ?? DEFAULT_TASK_ID }], {
    loss: crossEntropyLoss,
    metrics: defaultMetrics,
    batchSize: options.batchSize ?? 256,
  });
  return { loss: logs["loss"]!, accuracy: logs["accuracy"]! };
}
