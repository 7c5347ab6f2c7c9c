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
 *
 * `lossNormalization: "renate"` (loss_normalization.ts) takes Renate's loss
 * instead: CE(new) and CE(memory) each a mean over its own rows, then
 * (CE_new + CE_mem) / 2 whatever the two batches' sizes (Renate's ER,
 * alpha 1).
 */
import * as z from "zod";
import * as tf from "@tensorflow/tfjs-core";
import type { Dataset } from "../data/dataset.js";
import { subsetDataset } from "../data/dataset_ops.js";
import type { BatchSource } from "../training/batch_source.js";
import type { BatchLoss } from "../training/loop.js";
import { lossNormalizationSchema, termRowWeights, type LossNormalization, type LossTerm } from "./loss_normalization.js";
import { MemoryModelUpdater } from "./memory_updater.js";
import { resolveOptions, updaterOptionsSchema, type ModelUpdaterOptions } from "./options.js";
import { CHUNK_ROLE, classesSeen, StreamTracker } from "./replay_source.js";
import type { UpdaterOptionsSchema } from "./state_schema.js";

export const experienceReplayOptionsSchema = updaterOptionsSchema.extend({
  memorySize: z.number().int().positive(),
  memoryBatchSize: z.number().int().positive().optional(),
  lossNormalization: lossNormalizationSchema,
});

export interface ExperienceReplayOptions extends ModelUpdaterOptions {
  /** Capacity of the reservoir memory (items). */
  memorySize: number;
  /** Memory items appended to every batch; default batchSize. */
  memoryBatchSize?: number | undefined;
  /** "paper" (default): mean over all rows of the joint batch; "renate": Renate's per-term means, normalised (loss_normalization.ts). */
  lossNormalization?: LossNormalization | undefined;
}

export class ExperienceReplayModelUpdater extends MemoryModelUpdater {
  readonly kind: string = "experience-replay";
  static override readonly optionsSchema: UpdaterOptionsSchema = experienceReplayOptionsSchema;
  readonly memoryBatchSize: number;
  readonly lossNormalization: LossNormalization;
  /** Items enter the memory as they stream in (ER), or once the update's training is over (offline ER). */
  protected readonly streamsIntoMemory: boolean = true;

  constructor(options: ExperienceReplayOptions) {
    const resolved = resolveOptions(experienceReplayOptionsSchema, options, new.target.name);
    super(resolved, "reservoir");
    this.memoryBatchSize = resolved.memoryBatchSize ?? resolved.batchSize;
    this.lossNormalization = resolved.lossNormalization;
  }

  /**
   * The "renate" loss's terms for an update on `chunk`: new data and memory,
   * weight 1 each, normalised by their sum (Renate's ER).
   */
  protected renateTerms(_chunk: Dataset): { terms: LossTerm[]; normalization: LossNormalization } {
    return { terms: [{ role: CHUNK_ROLE, weight: 1 }, { role: 1, weight: 1 }], normalization: "renate" };
  }

  /** The step loss: the label loss's row mean ("paper"), or the per-term weighted means ("renate"). */
  protected replayLoss(chunk: Dataset): BatchLoss {
    if (this.lossNormalization === "paper") return this.labelLoss;
    const { terms, normalization } = this.renateTerms(chunk);
    return (logits, batch) =>
      tf.tidy(() => {
        const role = tf.squeeze(batch.targets!, [1]) as tf.Tensor1D;
        return tf.mul(this.lossFn(logits, batch.labels), termRowWeights(role, terms, normalization)) as tf.Tensor1D;
      });
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
        {
          ...(this.streamsIntoMemory ? { afterStep: (indices: Int32Array) => offer(stream.take(indices)) } : {}),
          ...(this.lossNormalization === "renate" ? { memoryTargets: "roles" as const } : {}),
        },
      ),
      chunk,
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
  protected replayTraining(batches: BatchSource, chunk: Dataset): { data: BatchSource; loss: BatchLoss } {
    return { data: batches, loss: this.replayLoss(chunk) };
  }

  protected algorithmOptions(): Record<string, unknown> {
    return { memorySize: this.memorySize, memoryBatchSize: this.memoryBatchSize, lossNormalization: this.lossNormalization };
  }
}
