/**
 * What the rehearsal updaters (ER, offline ER, DER++) share: a BatchSource
 * that appends memory items to every batch of chunk items, a tracker that
 * streams each chunk item into the memory exactly once, and the class sets
 * they all need.
 *
 * Each batch is [chunk rows | memory batch 1 | memory batch 2 | ...]. Every
 * memory batch is drawn uniformly WITHOUT replacement from the memory as it
 * is at that step (Mammoth's buffer.get_data), independently of the others;
 * while the memory is empty the batch is the chunk rows alone. Every row
 * carries its task (chunk rows the update's, memory rows their own), so a
 * multi-head model trains each through its own head.
 */
import type { Dataset } from "../data/dataset.js";
import { classesPresent } from "../data/dataset_ops.js";
import { gatherBatch, type RowTransforms } from "../data/transforms.js";
import type { ReplayBuffer } from "../memory/replay_buffer.js";
import type { Random } from "../random.js";
import { withTaskId, type RowTasks } from "../task_id.js";
import type { Batch, BatchSource } from "../training/batch_source.js";

/** Role (first target column) of chunk rows; memory batch k (1-based) has role k. */
export const CHUNK_ROLE = 0;

export interface ReplaySourceOptions {
  chunk: Dataset;
  /** Task of the chunk's items. */
  taskId: string;
  chunkTransforms: RowTransforms;
  /** Read at every step, so items added while training are drawn from the next step on. */
  memory: ReplayBuffer;
  memoryTransforms: RowTransforms;
  /** Size of each independent memory batch appended to a step's chunk rows. */
  memoryBatchSizes: readonly number[];
  /** Draws the memory items (the loop's Random still drives the transforms). */
  draws: Random;
  /**
   * When set, every row gets the target row [role, ...metadata row]: role
   * CHUNK_ROLE for chunk rows (metadata zero), k for memory batch k with the
   * item's stored metadata `key` (`width` values). Several columns: their
   * rows side by side, in the order listed. `"roles"`: the target row is the
   * role alone (width 1), for losses that weight rows by term.
   */
  memoryTargets?: MemoryTargets | readonly MemoryTargets[] | "roles" | undefined;
  /** With `memoryTargets` columns: the target rows of the chunk's items (all columns' width each), instead of zeros. */
  chunkTargets?: Float32Array | undefined;
  afterStep?: ((indices: Int32Array) => void | Promise<void>) | undefined;
}

/** A memory metadata column appended to the target rows, and its values per item. */
export interface MemoryTargets {
  key: string;
  width: number;
}

/** A BatchSource over the chunk whose batches carry memory items too. */
export function replaySource(options: ReplaySourceOptions): BatchSource {
  const { chunk, taskId, memory, memoryBatchSizes, draws, chunkTargets, afterStep } = options;
  const numClasses = Math.max(chunk.numClasses, memory.numClasses);
  const columns = options.memoryTargets === undefined || options.memoryTargets === "roles" ? [] : [options.memoryTargets].flat();
  const metadataWidth = columns.reduce((n, column) => n + column.width, 0);
  const targetWidth = options.memoryTargets === undefined ? undefined : metadataWidth + 1;
  if (chunkTargets && (columns.length === 0 || chunkTargets.length !== chunk.length * metadataWidth)) {
    throw new RangeError(`replaySource: chunkTargets has ${chunkTargets.length} values, not ${chunk.length} rows of the memory targets' width ${metadataWidth}`);
  }
  return {
    length: chunk.length,
    featureShape: chunk.featureShape,
    numClasses,
    ...(targetWidth === undefined ? {} : { targetWidth }),
    ...(afterStep ? { afterStep } : {}),
    gather(indices: Int32Array, random: Random): Batch {
      const parts = [gatherBatch(chunk, indices, { ...options.chunkTransforms, random, numClasses })];
      const roles = [CHUNK_ROLE];
      const slotLists: Int32Array[] = [];
      const stored = memory.asDataset();
      if (stored.length > 0) {
        memoryBatchSizes.forEach((size, k) => {
          const slots = draws.permutation(stored.length).subarray(0, Math.min(size, stored.length));
          slotLists.push(slots);
          parts.push(gatherBatch(stored, slots, { ...options.memoryTransforms, random, numClasses }));
          roles.push(k + 1);
        });
      }
      const batch = { ...concatBatches(parts), tasks: rowTasks(taskId, indices.length, memory, slotLists) };
      if (targetWidth === undefined) return batch;
      const targets = new Float32Array(batch.labels.length * targetWidth);
      const metadata = columns.map((column) => (slotLists.length > 0 ? memory.metadataColumn(column.key) : new Float32Array(0)));
      let row = 0;
      parts.forEach((part, p) => {
        for (let i = 0; i < part.labels.length; i++, row++) {
          targets[row * targetWidth] = roles[p]!;
          if (columns.length === 0) continue;
          if (p === 0) {
            const index = indices[i]!;
            if (chunkTargets) targets.set(chunkTargets.subarray(index * metadataWidth, (index + 1) * metadataWidth), row * targetWidth + 1);
            continue;
          }
          const slot = slotLists[p - 1]![i]!;
          let offset = row * targetWidth + 1;
          columns.forEach(({ width }, c) => {
            targets.set(metadata[c]!.subarray(slot * width, (slot + 1) * width), offset);
            offset += width;
          });
        }
      });
      return { ...batch, targets };
    },
  };
}

/** The task of each row of [chunk rows | memory batches]: `taskId` for the chunk's, the stored one for memory items. */
function rowTasks(taskId: string, chunkRows: number, memory: ReplayBuffer, slotLists: readonly Int32Array[]): RowTasks {
  const stored = memory.tasks();
  const { taskIds, index: current } = withTaskId(stored.taskIds, taskId);
  const rows = new Int32Array(chunkRows + slotLists.reduce((n, slots) => n + slots.length, 0)).fill(current, 0, chunkRows);
  let row = chunkRows;
  for (const slots of slotLists) for (const slot of slots) rows[row++] = stored.rows[slot]!;
  return { taskIds, rows };
}

function concatBatches(parts: readonly Batch[]): Batch {
  if (parts.length === 1) return parts[0]!;
  const features = new Float32Array(parts.reduce((n, p) => n + p.features.length, 0));
  const labels = new Int32Array(parts.reduce((n, p) => n + p.labels.length, 0));
  let f = 0;
  let l = 0;
  for (const part of parts) {
    features.set(part.features, f);
    labels.set(part.labels, l);
    f += part.features.length;
    l += part.labels.length;
  }
  return { features, labels };
}

/**
 * Remembers which chunk items were already offered to the memory, so that
 * streaming over several epochs offers each item once, in the order training
 * first reached it.
 */
export class StreamTracker {
  private readonly offered: Uint8Array;

  constructor(length: number) {
    this.offered = new Uint8Array(length);
  }

  /** The items of `indices` not offered yet, now marked as offered (a copy, in order). */
  take(indices: ArrayLike<number>): Int32Array {
    const fresh: number[] = [];
    for (let i = 0; i < indices.length; i++) {
      const index = indices[i]!;
      if (this.offered[index] === 0) {
        this.offered[index] = 1;
        fresh.push(index);
      }
    }
    return Int32Array.from(fresh);
  }

  /** Every item not offered yet, ascending, now marked (training that ended before reaching them). */
  takeRest(): Int32Array {
    const rest: number[] = [];
    this.offered.forEach((flag, index) => {
      if (flag === 0) rest.push(index);
    });
    this.offered.fill(1);
    return Int32Array.from(rest);
  }
}

/** Classes of the chunk and of the memory, ascending (the classes seen, for maskUnusedClasses). */
export function classesSeen(chunk: Dataset, memory: ReplayBuffer): number[] {
  const classes = new Set(classesPresent(chunk));
  memory.classHistogram().forEach((count, c) => {
    if (count > 0) classes.add(c);
  });
  return [...classes].sort((a, b) => a - b);
}
