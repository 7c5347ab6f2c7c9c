/**
 * Where a training or evaluation pass gets its rows: a dataset (with its
 * transforms), for distillation a target row per item (stored logits), and
 * for items of several tasks the task of each row (its head).
 * Rows come out as typed arrays; the loop turns each batch into tensors.
 */
import type { Dataset } from "../data/dataset.js";
import { gatherBatch, type RowTransforms } from "../data/transforms.js";
import { DataError } from "../errors.js";
import type { Random } from "../random.js";
import { gatherRowTasks, type RowTasks } from "../task_id.js";

export interface Batch {
  readonly features: Float32Array;
  readonly labels: Int32Array;
  /** Target rows (e.g. teacher logits), `targetWidth` values per item. */
  readonly targets?: Float32Array;
  /** The task of each row, when rows go through different heads; absent: the pass's one task id. */
  readonly tasks?: RowTasks;
}

export interface BatchSource {
  readonly length: number;
  readonly featureShape: readonly number[];
  readonly numClasses: number;
  readonly targetWidth?: number;
  /**
   * Rows for the chunk items `indices`. A source may append rows of its own
   * (e.g. replay memory items): the batch is whatever comes back, and the
   * loop's `length` and steps count the requested items only.
   */
  gather(indices: Int32Array, random: Random): Batch;
  /**
   * Optional: told after each optimizer step which items it trained on (the
   * `indices` given to gather, a view: copy them to keep them), and awaited
   * before the step's callbacks. Lets a source that grows as data streams in
   * (a replay memory) update itself without the loop knowing about it.
   */
  afterStep?(indices: Int32Array): void | Promise<void>;
}

export interface DatasetSourceOptions extends RowTransforms {
  /** One row of `width` values per dataset item, in dataset order. */
  targets?: { values: Float32Array; width: number } | undefined;
  /** The task of each dataset item (rows.length = dataset length), e.g. a replay memory's. */
  tasks?: RowTasks | undefined;
}

/** A BatchSource over a Dataset, applying its transforms as rows are gathered. */
export function datasetSource(dataset: Dataset, options: DatasetSourceOptions = {}): BatchSource {
  const { transform, targetTransform, targets, tasks } = options;
  if (targets && targets.values.length !== dataset.length * targets.width) {
    throw new DataError(
      `target rows do not match the dataset: ${targets.values.length} values for ${dataset.length} items of width ${targets.width}`,
    );
  }
  if (tasks && tasks.rows.length !== dataset.length) {
    throw new DataError(`task rows do not match the dataset: ${tasks.rows.length} task indices for ${dataset.length} items`);
  }
  return {
    length: dataset.length,
    featureShape: dataset.featureShape,
    numClasses: dataset.numClasses,
    ...(targets ? { targetWidth: targets.width } : {}),
    gather(indices, random) {
      const gathered = gatherBatch(dataset, indices, { transform, targetTransform, random, numClasses: dataset.numClasses });
      const rows = tasks ? { ...gathered, tasks: gatherRowTasks(tasks, indices) } : gathered;
      if (!targets) return rows;
      const width = targets.width;
      const out = new Float32Array(indices.length * width);
      for (let i = 0; i < indices.length; i++) {
        const start = indices[i]! * width;
        out.set(targets.values.subarray(start, start + width), i * width);
      }
      return { ...rows, targets: out };
    },
  };
}
