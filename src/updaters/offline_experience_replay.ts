/**
 * Offline Experience Replay (Renate's Offline-ER): trains the current model
 * on the chunk with a memory batch appended to every step, exactly as ER
 * (mean loss over the concatenated batch), but the memory does not change
 * during training: the whole chunk is offered to the reservoir, in dataset
 * order, only once the update's training is over. So the memory holds items
 * of finished updates only, and the first update trains on the chunk alone.
 *
 * `lossNormalization: "renate"`: Renate's offline ER loss (its
 * offline_er.py, loss_weight_new_data unset), a convex mix
 * a * CE_new + (1 - a) * CE_mem of the two per-term means, with a the
 * chunk's share of all items seen so far, |chunk| / (|chunk| + memory.seen).
 */
import type { Dataset } from "../data/dataset.js";
import type { LossNormalization, LossTerm } from "./loss_normalization.js";
import { CHUNK_ROLE } from "./replay_source.js";
import { experienceReplayOptionsSchema, ExperienceReplayModelUpdater, type ExperienceReplayOptions } from "./experience_replay.js";

/** Offline ER takes exactly ER's options. */
export const offlineExperienceReplayOptionsSchema = experienceReplayOptionsSchema;
export type OfflineExperienceReplayOptions = ExperienceReplayOptions;

export class OfflineExperienceReplayModelUpdater extends ExperienceReplayModelUpdater {
  override readonly kind: string = "offline-er";
  protected override readonly streamsIntoMemory = false;

  /** New data weighted by its share of everything seen; the weights sum to 1, so nothing is divided. */
  protected override renateTerms(chunk: Dataset): { terms: LossTerm[]; normalization: LossNormalization } {
    const share = chunk.length / (chunk.length + this.memory.seen);
    return { terms: [{ role: CHUNK_ROLE, weight: share }, { role: 1, weight: 1 - share }], normalization: "paper" };
  }
}
