/**
 * Offline Experience Replay (Renate's Offline-ER): trains the current model
 * on the chunk with a memory batch appended to every step, exactly as ER
 * (mean loss over the concatenated batch), but the memory does not change
 * during training: the whole chunk is offered to the reservoir, in dataset
 * order, only once the update's training is over. So the memory holds items
 * of finished updates only, and the first update trains on the chunk alone.
 */
import type { Dataset } from "../data/dataset.js";
import { ReplayBuffer } from "../memory/replay_buffer.js";
import { Random } from "../random.js";
import { loadMemory, saveMemory } from "./memory_state.js";
import { ModelUpdater } from "./model_updater.js";
import { resolveOptions } from "./options.js";
import { experienceReplayOptionsSchema, type ExperienceReplayOptions } from "./experience_replay.js";
import { assertSingleHead, classesSeen, replaySource } from "./replay_source.js";

/** Offline ER takes exactly ER's options. */
export const offlineExperienceReplayOptionsSchema = experienceReplayOptionsSchema;
export type OfflineExperienceReplayOptions = ExperienceReplayOptions;

export class OfflineExperienceReplayModelUpdater extends ModelUpdater {
  readonly kind = "offline-er";
  readonly memorySize: number;
  readonly memoryBatchSize: number;
  /** The reservoir memory of the chunks of finished updates. */
  memory: ReplayBuffer;

  constructor(options: OfflineExperienceReplayOptions) {
    const resolved = resolveOptions(offlineExperienceReplayOptionsSchema, options, "OfflineExperienceReplayModelUpdater");
    super(resolved);
    this.memorySize = resolved.memorySize;
    this.memoryBatchSize = resolved.memoryBatchSize ?? resolved.batchSize;
    this.memory = new ReplayBuffer({ capacity: this.memorySize, policy: "reservoir", seed: resolved.seed });
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
        chunkTransforms: { transform: o.trainTransform, targetTransform: o.trainTargetTransform },
        memory: this.memory,
        memoryTransforms: { transform: o.bufferTransform ?? o.trainTransform, targetTransform: o.bufferTargetTransform ?? o.trainTargetTransform },
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

  protected async saveAlgorithmState(dir: string): Promise<Record<string, unknown>> {
    return { memory: await saveMemory(dir, this.memory) };
  }

  protected async loadAlgorithmState(dir: string, data: Record<string, unknown>): Promise<void> {
    this.memory = await loadMemory(dir, data["memory"], { kind: this.kind, capacity: this.memorySize, policy: "reservoir" });
  }
}
