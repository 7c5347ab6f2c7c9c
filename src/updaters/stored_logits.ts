/**
 * Stored logits (RD's and DER++'s `logits` memory column) when the model
 * grows new classes (growClasses): each stored row gets one more value per
 * new class, and a rule must say what an old model "thought" of a class it
 * never had.
 *
 * The rule: a new class gets the row's LOWEST stored logit, i.e. the old
 * model ranks it with the least likely class it knew. Why:
 * - recomputing is impossible: the model that produced the row (RD's
 *   expert or consolidated model, DER++'s model at streaming time) had no
 *   output for the class and is gone;
 * - with a fixed-width head (Renate, Mammoth's DER), a class not seen yet
 *   still has an output, and cross-entropy on the other classes pushes it
 *   down on every step: "at the bottom" is what such a model would say;
 * - both losses that read these targets are squared errors on logits (RD's
 *   double distillation, DER++'s MSE): a "large negative" logit such as
 *   Avalanche's mask value -1000 would dominate the loss by its square and
 *   swamp the old classes' signal, and 0 is arbitrary on the logit scale (it
 *   ranks the new class FIRST on a row whose logits are all negative); the
 *   row minimum is bounded by the row itself and keeps every old class's
 *   rank and every difference between old logits.
 */
import type { ReplayBuffer } from "../memory/replay_buffer.js";

/** The logit an old row gives a class its model did not have: the row's minimum (see the file comment). */
export function unseenClassLogit(row: Float32Array): number {
  let min = Infinity;
  for (const value of row) if (value < min) min = value;
  return min;
}

/**
 * Widens memory column `key` (rows of stored logits) to `classes` values per
 * row, old values kept bit for bit, new ones `unseenClassLogit(row)`.
 */
export function widenStoredLogits(memory: ReplayBuffer, key: string, classes: number): void {
  memory.widenMetadataColumn(key, classes, unseenClassLogit);
}
