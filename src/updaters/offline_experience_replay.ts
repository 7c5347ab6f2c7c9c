/**
 * Offline Experience Replay (Renate's Offline-ER): trains the current model
 * on the chunk with a memory batch appended to every step, exactly as ER
 * (mean loss over the concatenated batch), but the memory does not change
 * during training: the whole chunk is offered to the reservoir, in dataset
 * order, only once the update's training is over. So the memory holds items
 * of finished updates only, and the first update trains on the chunk alone.
 */
import { experienceReplayOptionsSchema, ExperienceReplayModelUpdater, type ExperienceReplayOptions } from "./experience_replay.js";

/** Offline ER takes exactly ER's options. */
export const offlineExperienceReplayOptionsSchema = experienceReplayOptionsSchema;
export type OfflineExperienceReplayOptions = ExperienceReplayOptions;

export class OfflineExperienceReplayModelUpdater extends ExperienceReplayModelUpdater {
  override readonly kind: string = "offline-er";
  protected override readonly streamsIntoMemory = false;
}
