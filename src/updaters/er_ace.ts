/**
 * ER-ACE, experience replay with the asymmetric cross-entropy (Caccia et
 * al., ICLR 2022, "New Insights on Reducing Abrupt Representation Change in
 * Online Continual Learning"; Avalanche's ER_ACE and ACECriterion,
 * training/supervised/er_ace.py and training/regularization.py; Mammoth's
 * er_ace). Like ER, a reservoir memory fills as data streams in and every
 * step trains on the chunk batch with a memory batch appended; the
 * difference is the loss of the NEW rows: their cross-entropy is taken over
 * the classes present among the step's new rows only (the other logits are
 * masked out), so learning new classes does not push the logits of old
 * classes down; memory rows keep the plain cross-entropy over all classes.
 * The batch mean of the per-row losses is ER's mean over the concatenated
 * batch: with memoryBatchSize = batchSize, (CE_ACE(new) + CE(memory)) / 2,
 * Avalanche's ACECriterion.
 *
 * Choices: the mask is the classes of the current batch (the paper and
 * Avalanche); Mammoth also leaves unmasked every class above the largest seen
 * so far (classes not met yet), which only matters for a fixed-width head
 * and is not done here. As in Avalanche and Mammoth the first task trains
 * without the mask: an update that starts with an empty memory (the first)
 * is trained exactly as ER, whose memory rows then come from this same
 * update; from the first update that starts with a memory of earlier data
 * on, the loss is asymmetric.
 */
import * as tf from "@tensorflow/tfjs-core";
import type { LossFunction } from "../training/losses.js";
import type { BatchSource } from "../training/batch_source.js";
import type { BatchLoss } from "../training/loop.js";
import { experienceReplayOptionsSchema, ExperienceReplayModelUpdater, type ExperienceReplayOptions } from "./experience_replay.js";
import { trackReplayRows } from "./replay_rows.js";

/** ER-ACE takes exactly ER's options. */
export const erAceOptionsSchema = experienceReplayOptionsSchema;
export type ErAceOptions = ExperienceReplayOptions;

/** Added to a masked logit: softmax gives it probability 0 (as the training loop's class mask). */
const MASKED = -1e9;

/**
 * Per-row asymmetric cross-entropy: rows [0, chunkRows) of `logits` (B, C)
 * (the new items) through `lossFn` with every logit outside `chunkClasses`
 * masked out; the other rows (memory items) through `lossFn` unmasked.
 * (B,) out; its mean is ER-ACE's step loss. `chunkClasses` must hold
 * every new row's label (a masked label's loss is about 1e9); the classes
 * of the new rows themselves, as trackReplayRows gives them, always do.
 */
export function asymmetricCrossEntropyLoss(
  logits: tf.Tensor2D,
  labels: tf.Tensor1D,
  options: { chunkRows: number; chunkClasses: readonly number[]; lossFn: LossFunction },
): tf.Tensor1D {
  const [rows, classes] = logits.shape;
  const { chunkRows, chunkClasses } = options;
  if (!Number.isInteger(chunkRows) || chunkRows < 0 || chunkRows > rows) throw new RangeError(`asymmetricCrossEntropyLoss: chunkRows ${chunkRows} is not in [0, ${rows}]`);
  const present = new Uint8Array(classes);
  for (const c of chunkClasses) {
    if (!Number.isInteger(c) || c < 0 || c >= classes) throw new RangeError(`asymmetricCrossEntropyLoss: class ${c} is outside [0, ${classes})`);
    present[c] = 1;
  }
  const bias = new Float32Array(rows * classes);
  for (let r = 0; r < chunkRows; r++) for (let c = 0; c < classes; c++) if (present[c] === 0) bias[r * classes + c] = MASKED;
  return tf.tidy(() => options.lossFn(tf.add(logits, tf.tensor2d(bias, [rows, classes])) as tf.Tensor2D, labels));
}

export class ErAceModelUpdater extends ExperienceReplayModelUpdater {
  override readonly kind: string = "er-ace";

  /** ER's batches; the asymmetric loss once the memory holds items of earlier updates (see the file comment). */
  protected override replayTraining(batches: BatchSource): { data: BatchSource; loss: BatchLoss } {
    if (this.memory.length === 0) return super.replayTraining(batches);
    const { data, current } = trackReplayRows(batches);
    const loss: BatchLoss = (logits, batch) => asymmetricCrossEntropyLoss(logits, batch.labels, { ...current(), lossFn: this.lossFn });
    return { data, loss };
  }
}
