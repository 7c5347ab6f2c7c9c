/**
 * Joint training: keep every chunk ever seen and, at each update, retrain the
 * model from fresh weights on all of it. The upper bound of continual
 * learning (and what continual learning exists to avoid: its cost and
 * storage grow with every update).
 */
import { join } from "node:path";
import type { Dataset } from "../data/dataset.js";
import { concatDatasets } from "../data/dataset_ops.js";
import { StateError } from "../errors.js";
import { readColumn, writeColumn, type ColumnDescriptor } from "../state/columns_io.js";
import { ModelUpdater } from "./model_updater.js";
import { resolveOptions, updaterOptionsSchema, type ModelUpdaterOptions } from "./options.js";
import type { UpdaterOptionsSchema } from "./state_schema.js";

export class JointModelUpdater extends ModelUpdater {
  readonly kind = "joint";
  static override readonly optionsSchema: UpdaterOptionsSchema = updaterOptionsSchema;
  /** Every training item seen so far. */
  private seen: Dataset | undefined;

  constructor(options: ModelUpdaterOptions) {
    super(resolveOptions(updaterOptionsSchema, options, "JointModelUpdater"));
  }

  protected async performUpdate(chunk: Dataset, taskId: string): Promise<void> {
    this.seen = this.seen ? concatDatasets([this.seen, chunk]) : chunk;
    this.model.reinitialize(this.phaseSeed("joint-init"));
    // With maskUnusedClasses, the classes of everything seen so far.
    await this.trainOnLabels("joint", taskId, this.seen, this.trainTransforms);
  }

  protected algorithmOptions(): Record<string, unknown> {
    return {};
  }

  protected async saveAlgorithmState(dir: string): Promise<Record<string, unknown>> {
    if (!this.seen) return {};
    const data = join(dir, "data");
    return {
      featureShape: this.seen.featureShape,
      numClasses: this.seen.numClasses,
      features: await writeColumn(data, "features", this.seen.features),
      labels: await writeColumn(data, "labels", this.seen.labels),
    };
  }

  protected async loadAlgorithmState(dir: string, state: Record<string, unknown>): Promise<void> {
    if (state["features"] === undefined) return;
    const data = join(dir, "data");
    const features = await readColumn(data, state["features"] as ColumnDescriptor);
    const labels = await readColumn(data, state["labels"] as ColumnDescriptor);
    if (!(features instanceof Float32Array) || !(labels instanceof Int32Array)) throw new StateError(`${data}: stored data has the wrong column types`);
    this.seen = { features, labels, featureShape: state["featureShape"] as number[], numClasses: state["numClasses"] as number, length: labels.length };
  }
}
