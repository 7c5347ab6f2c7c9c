/**
 * Experience Replay (ER) with a reservoir memory (Chaudhry et al. 2019, "On
 * Tiny Episodic Memories in Continual Learning"; Renate's ER). The current
 * model keeps training on each chunk; every step trains on the chunk batch
 * concatenated with a batch drawn uniformly from the memory, minimising the
 * MEAN loss over all rows of the concatenated batch (Chaudhry et al.'s joint
 * minibatch; with memoryBatchSize = batchSize that is 0.5 * CE(new) +
 * 0.5 * CE(memory)). The memory fills AS DATA STREAMS IN: after each step
 * the step's chunk items, if not offered before, are offered to the
 * reservoir, so each item is offered once, during the first epoch. Items
 * that training never reached (maxEpochs 0, or a stop within the first
 * epoch) are offered at the end of the update.
 */
import * as z from "zod";
import type { Dataset } from "../data/dataset.js";
import { subsetDataset } from "../data/dataset_ops.js";
import type { BatchSource } from "../training/batch_source.js";
import type { BatchLoss } from "../training/loop.js";
import { MemoryModelUpdater } from "./memory_updater.js";
import { resolveOptions, updaterOptionsSchema, type ModelUpdaterOptions } from "./options.js";
import { classesSeen, StreamTracker } from "./replay_source.js";
import type { UpdaterOptionsSchema } from "./state_schema.js";

export const experienceReplayOptionsSchema = updaterOptionsSchema.extend({
  memorySize: z.number().int().positive(),
  memoryBatchSize: z.number().int().positive().optional(),
});

export interface ExperienceReplayOptions extends ModelUpdaterOptions {
  /** Capacity of the reservoir memory (items). */
  memorySize: number;
  /** Memory items appended to every batch; default batchSize. */
  memoryBatchSize?: number | undefined;
}

export class ExperienceReplayModelUpdater extends MemoryModelUpdater {
  readonly kind: string = "experience-replay";
  static override readonly optionsSchema: UpdaterOptionsSchema = experienceReplayOptionsSchema;
  readonly memoryBatchSize: number;
  /** Items enter the memory as they stream in (ER), or once the update's training is over (offline ER). */
  protected readonly streamsIntoMemory: boolean = true;

  constructor(options: ExperienceReplayOptions) {
    const resolved = resolveOptions(experienceReplayOptionsSchema, options, new.target.name);
    super(resolved, "reservoir");
    this.memoryBatchSize = resolved.memoryBatchSize ?? resolved.batchSize;
  }

  protected async performUpdate(chunk: Dataset, taskId: string): Promise<void> {
    const o = this.options;
    const stream = new StreamTracker(chunk.length);
    const offer = (indices: Int32Array) => {
      if (indices.length > 0) this.memory.add(subsetDataset(chunk, indices), {}, taskId);
    };
    const { data, loss } = this.replayTraining(
      this.replayBatches(
        chunk,
        taskId,
        [this.memoryBatchSize],
        this.streamsIntoMemory ? { afterStep: (indices: Int32Array) => offer(stream.take(indices)) } : {},
      ),
    );
    await this.train({
      phase: this.kind,
      model: this.model,
      taskId,
      data,
      loss,
      batchSize: o.batchSize,
      epochs: o.maxEpochs,
      allowedClasses: o.maskUnusedClasses ? classesSeen(chunk, this.memory) : undefined,
    });
    offer(stream.takeRest());
  }

  /**
   * The batches and loss of the replay phase, given the replay batches
   * ([chunk rows | memory rows]): ER's are those batches and the label loss
   * on every row. A variant that treats chunk and memory rows differently
   * (ER-ACE) overrides this.
   */
  protected replayTraining(batches: BatchSource): { data: BatchSource; loss: BatchLoss } {
    return { data: batches, loss: this.labelLoss };
  }

  protected algorithmOptions(): Record<string, unknown> {
    return { memorySize: this.memorySize, memoryBatchSize: this.memoryBatchSize };
  }
}
