/**
 * Fine-tuning: keep training the current model on each new chunk, nothing
 * else. The lower bound of continual learning: it forgets old tasks.
 */
import type { Dataset } from "../data/dataset.js";
import { ModelUpdater } from "./model_updater.js";
import { resolveOptions, updaterOptionsSchema, type ModelUpdaterOptions } from "./options.js";
import type { UpdaterOptionsSchema } from "./state_schema.js";

export class FineTuningModelUpdater extends ModelUpdater {
  readonly kind = "fine-tuning";
  static override readonly optionsSchema: UpdaterOptionsSchema = updaterOptionsSchema;

  constructor(options: ModelUpdaterOptions) {
    super(resolveOptions(updaterOptionsSchema, options, "FineTuningModelUpdater"));
  }

  protected async performUpdate(chunk: Dataset, taskId: string): Promise<void> {
    await this.trainOnLabels("fine-tuning", taskId, chunk, this.trainTransforms);
  }

  protected algorithmOptions(): Record<string, unknown> {
    return {};
  }

  protected async saveAlgorithmState(): Promise<Record<string, unknown>> {
    return {};
  }

  protected async loadAlgorithmState(): Promise<void> {}
}
