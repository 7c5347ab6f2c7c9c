/**
 * The batch boundary: typed-array rows become tensors here and nowhere else.
 */
import * as tf from "@tensorflow/tfjs-core";
import type { RowTasks } from "../task_id.js";
import type { Batch } from "./batch_source.js";

export interface BatchTensors {
  readonly x: tf.Tensor;
  readonly labels: tf.Tensor1D;
  readonly targets?: tf.Tensor2D;
  /** The task (head) of each row, kept on the CPU: the model groups rows by it. */
  readonly tasks?: RowTasks;
}

/** Tensors for one batch; the caller disposes them (see disposeBatch). */
export function toBatchTensors(batch: Batch, featureShape: readonly number[], targetWidth?: number): BatchTensors {
  const size = batch.labels.length;
  const x = tf.tensor(batch.features, [size, ...featureShape], "float32");
  const labels = tf.tensor1d(batch.labels, "int32");
  const tasks = batch.tasks ? { tasks: batch.tasks } : {};
  if (batch.targets && targetWidth !== undefined) {
    return { x, labels, targets: tf.tensor2d(batch.targets, [size, targetWidth], "float32"), ...tasks };
  }
  return { x, labels, ...tasks };
}

export function disposeBatch(batch: BatchTensors): void {
  batch.x.dispose();
  batch.labels.dispose();
  batch.targets?.dispose();
}

/** Contiguous index ranges [0, n) cut into batches, in order. */
export function* sequentialBatches(n: number, batchSize: number): Generator<Int32Array> {
  for (let start = 0; start < n; start += batchSize) {
    const end = Math.min(n, start + batchSize);
    const indices = new Int32Array(end - start);
    for (let i = 0; i < indices.length; i++) indices[i] = start + i;
    yield indices;
  }
}
