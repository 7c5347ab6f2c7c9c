/**
 * The layout of a replay batch, for losses that treat chunk rows and memory
 * rows differently (CLS-ER, ER-ACE). replaySource puts a step's chunk rows
 * first and the memory rows after them; the loss of that step runs right
 * after the batch is gathered, so the source can tell it how many rows are
 * chunk rows and which classes they hold, without a tensor read.
 */
import type { BatchSource } from "../training/batch_source.js";

/** The chunk part of the batch being trained on. */
export interface ReplayRows {
  /** Rows [0, chunkRows) are chunk items; the rest are memory items. */
  chunkRows: number;
  /** Classes of the chunk rows, ascending. */
  chunkClasses: number[];
}

/**
 * `source` unchanged, plus `current()`: the layout of the batch it gathered
 * last (the one the loop's loss is computing). Before the first batch:
 * no rows.
 */
export function trackReplayRows(source: BatchSource): { data: BatchSource; current: () => ReplayRows } {
  let rows: ReplayRows = { chunkRows: 0, chunkClasses: [] };
  const data: BatchSource = {
    ...source,
    gather(indices, random) {
      const batch = source.gather(indices, random);
      const classes = new Set<number>();
      for (let i = 0; i < indices.length; i++) classes.add(batch.labels[i]!);
      rows = { chunkRows: indices.length, chunkClasses: [...classes].sort((a, b) => a - b) };
      return batch;
    },
  };
  return { data, current: () => rows };
}
