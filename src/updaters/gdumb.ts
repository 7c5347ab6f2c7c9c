/**
 * GDumb (Prabhu et al., ECCV 2020): a greedy class-balanced memory, and a
 * model that at every update is re-initialised and trained from scratch on
 * the memory alone (loss: cross-entropy or the user's lossFn, maxEpochs
 * epochs). The chunk is offered to the memory first, in dataset order.
 *
 * Differences from the paper, kept simple on purpose: the updater's own
 * optimizer and schedule replace GDumb's SGD with cosine warm restarts and
 * CutMix; output masking follows the common maskUnusedClasses option (when
 * on, only the classes present in the memory, which are the classes seen
 * unless a class was evicted entirely, are scored; GDumb's own code masks to
 * the classes seen).
 */
import * as z from "zod";
import type { Dataset } from "../data/dataset.js";
import { MemoryModelUpdater } from "./memory_updater.js";
import { requireTrainingOfFreshModel, resolveOptions, updaterOptionsSchema, type ModelUpdaterOptions } from "./options.js";
import type { UpdaterOptionsSchema } from "./state_schema.js";

export const gdumbOptionsSchema = updaterOptionsSchema.extend({
  memorySize: z.number().int().positive(),
});

export interface GDumbOptions extends ModelUpdaterOptions {
  /** Capacity of the class-balanced memory (items). */
  memorySize: number;
}

export class GDumbModelUpdater extends MemoryModelUpdater {
  readonly kind = "gdumb";
  static override readonly optionsSchema: UpdaterOptionsSchema = gdumbOptionsSchema;

  constructor(options: GDumbOptions) {
    const resolved = resolveOptions(gdumbOptionsSchema, options, "GDumbModelUpdater");
    super(resolved, "class-balanced");
    requireTrainingOfFreshModel("GDumbModelUpdater", "maxEpochs", resolved.maxEpochs, "GDumb (training on its memory)");
  }

  protected async performUpdate(chunk: Dataset, taskId: string): Promise<void> {
    this.memory.add(chunk, {}, taskId);
    this.model.reinitialize(this.phaseSeed("gdumb-init"));
    // Valid for the whole phase: nothing is added to the memory while it trains. Each item trains its own task's head.
    await this.trainOnLabels("gdumb", taskId, this.memory.asDataset(), { ...this.bufferTransforms, tasks: this.memory.tasks() });
  }

  protected algorithmOptions(): Record<string, unknown> {
    return { memorySize: this.memorySize };
  }


}
