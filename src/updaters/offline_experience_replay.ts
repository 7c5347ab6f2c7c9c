/**
 * Offline Experience Replay (Renate's Offline-ER): trains the current model
 * on the chunk with a memory batch appended to every step, exactly as ER
 * (mean loss over the concatenated batch), but the memory does not change
 * during training: the whole chunk is offered to the reservoir, in dataset
 * order, only once the update's training is over. So the memory holds items
 * of finished updates only, and the first update trains on the chunk alone.
 */
import type { Dataset } from "../data/dataset.js";
import { Random } from "../random.js";
import { MemoryModelUpdater } from "./memory_updater.js";
import { resolveOptions } from "./options.js";
import { experienceReplayOptionsSchema, type ExperienceReplayOptions } from "./experience_replay.js";
import { assertSingleHead, classesSeen, replaySource } from "./replay_source.js";

/** Offline ER takes exactly ER's options. */
export const offlineExperienceReplayOptionsSchema = experienceReplayOptionsSchema;
export type OfflineExperienceReplayOptions = ExperienceReplayOptions;

export class OfflineExperienceReplayModelUpdater extends MemoryModelUpdater {
  readonly kind = "offline-er";
  readonly memoryBatchSize: number;

  constructor(options: OfflineExperienceReplayOptions) {
    const resolved = resolveOptions(offlineExperienceReplayOptionsSchema, options, "OfflineExperienceReplayModelUpdater");
    super(resolved, "reservoir");
    this.memoryBatchSize = resolved.memoryBatchSize ?? resolved.batchSize;
  }

  protected async performUpdate(chunk: Dataset, taskId: string): Promise<void> {
    const o = this.options;
    assertSingleHead(this.model, "OfflineExperienceReplayModelUpdater");
    await this.train({
      phase: "offline-er",
      model: this.model,
      taskId,
      data: replaySource({
        chunk,
        chunkTransforms: this.trainTransforms,
        memory: this.memory,
        memoryTransforms: this.bufferTransforms,
        memoryBatchSizes: [this.memoryBatchSize],
        draws: Random.fromSeed(this.phaseSeed("memory-draws")),
      }),
      loss: this.labelLoss,
      batchSize: o.batchSize,
      epochs: o.maxEpochs,
      allowedClasses: o.maskUnusedClasses ? classesSeen(chunk, this.memory) : undefined,
    });
    this.memory.add(chunk);
  }

  protected algorithmOptions(): Record<string, unknown> {
    return { memorySize: this.memorySize, memoryBatchSize: this.memoryBatchSize };
  }


}
