/**
 * Fine-tuning: keep training the current model on each new chunk, nothing
 * else. The lower bound of continual learning: it forgets old tasks.
 */
import type { Dataset } from "../data/dataset.js";
import { classesPresent } from "../data/dataset_ops.js";
import { datasetSource } from "../training/batch_source.js";
import { ModelUpdater } from "./model_updater.js";
import { resolveOptions, updaterOptionsSchema, type ModelUpdaterOptions } from "./options.js";

export class FineTuningModelUpdater extends ModelUpdater {
  readonly kind = "fine-tuning";

  constructor(options: ModelUpdaterOptions) {
    super(resolveOptions(updaterOptionsSchema, options, "FineTuningModelUpdater"));
  }

  protected async performUpdate(chunk: Dataset, taskId: string): Promise<void> {
    const o = this.options;
    await this.train({
      phase: "fine-tuning",
      model: this.model,
      taskId,
      data: datasetSource(chunk, this.trainTransforms),
      loss: this.labelLoss,
      batchSize: o.batchSize,
      epochs: o.maxEpochs,
      allowedClasses: o.maskUnusedClasses ? classesPresent(chunk) : undefined,
    });
  }

  protected algorithmOptions(): Record<string, unknown> {
    return {};
  }

  protected async saveAlgorithmState(): Promise<Record<string, unknown>> {
    return {};
  }

  protected async loadAlgorithmState(): Promise<void> {}
}
