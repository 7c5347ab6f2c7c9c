/**
 * extractLogits (SPEC section 1): the model's logits for every item of a
 * dataset, in dataset order, batched, without gradients. Unlike Renate, the
 * model runs in inference mode (dropout off, batch-norm on moving statistics)
 * and items go through the deterministic (test) transform.
 */
import * as tf from "@tensorflow/tfjs-core";
import type { Dataset } from "../data/dataset.js";
import type { FeatureTransform } from "../data/transforms.js";
import { DEFAULT_TASK_ID, type ContinualModel } from "../model/continual_model.js";
import { Random } from "../random.js";
import type { RowTasks } from "../task_id.js";
import { datasetSource } from "./batch_source.js";
import { sequentialBatches, toBatchTensors, disposeBatch } from "./batch_tensors.js";

export interface ExtractLogitsOptions {
  /** Deterministic transform applied to each item (the dataset's test transform). */
  transform?: FeatureTransform | undefined;
}

/**
 * (N, C) logits of `model` for every item, in order; the caller disposes the
 * tensor. `tasks` is the task id of every item, or each item's own task
 * (RowTasks, one index per item: each item through its own task's head).
 */
export function extractLogits(
  model: ContinualModel,
  dataset: Dataset,
  batchSize: number,
  tasks: string | RowTasks = DEFAULT_TASK_ID,
  options: ExtractLogitsOptions = {},
): tf.Tensor2D {
  const taskId = typeof tasks === "string" ? tasks : undefined;
  const rowTasks = typeof tasks === "string" ? undefined : tasks;
  return batchedRows(dataset, batchSize, { transform: options.transform, tasks: rowTasks }, model.numClasses, (x, batchTasks) =>
    model.getLogits(x, batchTasks ?? taskId, false),
  );
}

/**
 * `forward` on every batch of `dataset`, in order, without gradients (the items through the deterministic
 * `transform`; `tasks`: each item's task, handed to `forward` per batch), its (B, W) outputs concatenated: (N, W).
 * An empty dataset gives (0, `emptyWidth`). The caller disposes the result. What extractLogits, feature
 * extraction and nearest-class-mean prediction share.
 */
export function batchedRows(
  dataset: Dataset,
  batchSize: number,
  options: { transform?: FeatureTransform | undefined; tasks?: RowTasks | undefined },
  emptyWidth: number,
  forward: (x: tf.Tensor, tasks: RowTasks | undefined) => tf.Tensor2D,
): tf.Tensor2D {
  if (!Number.isInteger(batchSize) || batchSize <= 0) throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
  const source = datasetSource(dataset, options);
  const random = Random.fromSeed(0); // deterministic transforms ignore it
  const parts: tf.Tensor2D[] = [];
  try {
    for (const indices of sequentialBatches(dataset.length, batchSize)) {
      const batch = toBatchTensors(source.gather(indices, random), dataset.featureShape);
      try {
        parts.push(tf.tidy(() => forward(batch.x, batch.tasks)));
      } finally {
        disposeBatch(batch);
      }
    }
    if (parts.length === 0) return tf.zeros([0, emptyWidth]) as tf.Tensor2D;
    return parts.length === 1 ? parts[0]!.clone() : tf.concat2d(parts, 0);
  } finally {
    tf.dispose(parts);
  }
}

/** extractLogits read back into a Float32Array (row-major, N x C). */
export async function extractLogitsArray(
  model: ContinualModel,
  dataset: Dataset,
  batchSize: number,
  tasks: string | RowTasks = DEFAULT_TASK_ID,
  options: ExtractLogitsOptions = {},
): Promise<{ values: Float32Array; width: number }> {
  const logits = extractLogits(model, dataset, batchSize, tasks, options);
  try {
    return { values: (await logits.data()) as Float32Array, width: logits.shape[1] };
  } finally {
    logits.dispose();
  }
}

/**
 * Indices of the rows of (N, C) `logits` holding a NaN or an infinity: no
 * class can be picked from them. One read of N booleans.
 */
export async function nonFiniteRows(logits: tf.Tensor2D): Promise<number[]> {
  const flags = tf.tidy(() => tf.any(tf.logicalNot(tf.isFinite(logits)), 1));
  try {
    const values = await flags.data();
    const rows: number[] = [];
    values.forEach((flag, row) => {
      if (flag) rows.push(row);
    });
    return rows;
  } finally {
    flags.dispose();
  }
}

/** "rows 0, 3, 7 and 12 more" (row numbers as given, 0-based like the predictions' index). */
export function describeRows(rows: readonly number[], max = 5): string {
  const shown = rows.slice(0, max).join(", ");
  return `row${rows.length === 1 ? "" : "s"} ${shown}${rows.length > max ? ` and ${rows.length - max} more` : ""}`;
}
