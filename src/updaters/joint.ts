/**
 * Joint training: keep every chunk ever seen and, at each update, retrain the
 * model from fresh weights on all of it. The upper bound of continual
 * learning (and what continual learning exists to avoid: its cost and
 * storage grow with every update). Every item keeps its task, so a
 * multi-head (task-incremental) model trains each through its own head.
 */
import type { Dataset } from "../data/dataset.js";
import { concatDatasets } from "../data/dataset_ops.js";
import { StateError } from "../errors.js";
import { readColumn, writeColumn, type ColumnDescriptor } from "../state/columns_io.js";
import type { StateReader, StateWriter } from "../state/store.js";
import { DEFAULT_TASK_ID, withTaskId, type RowTasks } from "../task_id.js";
import { ModelUpdater } from "./model_updater.js";
import { requireTrainingOfFreshModel, resolveOptions, updaterOptionsSchema, type ModelUpdaterOptions } from "./options.js";
import type { UpdaterOptionsSchema } from "./state_schema.js";

/** Where a joint state keeps every item seen. */
const DATA_FOLDER = "data";

export class JointModelUpdater extends ModelUpdater {
  readonly kind = "joint";
  static override readonly optionsSchema: UpdaterOptionsSchema = updaterOptionsSchema;
  /** Every training item seen so far. */
  private seen: Dataset | undefined;
  /** The task of each item of `seen`. */
  private seenTasks: RowTasks = { taskIds: [], rows: new Int32Array(0) };

  constructor(options: ModelUpdaterOptions) {
    const resolved = resolveOptions(updaterOptionsSchema, options, "JointModelUpdater");
    super(resolved);
    requireTrainingOfFreshModel("JointModelUpdater", "maxEpochs", resolved.maxEpochs, "Joint (training on everything seen)");
  }

  protected async performUpdate(chunk: Dataset, taskId: string): Promise<void> {
    this.seen = this.seen ? concatDatasets([this.seen, chunk]) : chunk;
    this.seenTasks = appendTask(this.seenTasks, taskId, chunk.length);
    this.model.reinitialize(this.phaseSeed("joint-init"));
    // With maskUnusedClasses, the classes of everything seen so far.
    await this.trainOnLabels("joint", taskId, this.seen, { ...this.trainTransforms, tasks: this.seenTasks });
  }

  protected algorithmOptions(): Record<string, unknown> {
    return {};
  }

  protected async saveAlgorithmState(files: StateWriter): Promise<Record<string, unknown>> {
    if (!this.seen) return {};
    return {
      featureShape: this.seen.featureShape,
      numClasses: this.seen.numClasses,
      features: await writeColumn(files, DATA_FOLDER, "features", this.seen.features),
      labels: await writeColumn(files, DATA_FOLDER, "labels", this.seen.labels),
      taskIds: this.seenTasks.taskIds,
      tasks: await writeColumn(files, DATA_FOLDER, "tasks", this.seenTasks.rows),
    };
  }

  protected async loadAlgorithmState(files: StateReader, state: Record<string, unknown>): Promise<void> {
    if (state["features"] === undefined) return;
    const features = await readColumn(files, DATA_FOLDER, state["features"] as ColumnDescriptor);
    const labels = await readColumn(files, DATA_FOLDER, state["labels"] as ColumnDescriptor);
    if (!(features instanceof Float32Array) || !(labels instanceof Int32Array)) {
      throw new StateError(`${files.location}/${DATA_FOLDER}: stored data has the wrong column types`);
    }
    this.seen = { features, labels, featureShape: state["featureShape"] as number[], numClasses: state["numClasses"] as number, length: labels.length };
    this.seenTasks = await this.loadTasks(files, state, labels.length);
  }

  /**
   * The task of each stored item. A state written before joint recorded
   * tasks holds items of the default task only for a single-head model; for
   * a multi-head model it is a StateError (which head each item belongs to
   * is unknown).
   */
  private async loadTasks(files: StateReader, state: Record<string, unknown>, length: number): Promise<RowTasks> {
    const dir = files.location;
    if (state["tasks"] === undefined) {
      if (this.model.multiHead) {
        throw new StateError(
          `${dir}/manifest.json: the joint state records no task per item, so a multi-head (task-incremental) model cannot tell ` +
            `which head each belongs to; start from a fresh state`,
        );
      }
      return { taskIds: [DEFAULT_TASK_ID], rows: new Int32Array(length) };
    }
    const taskIds = state["taskIds"];
    const rows = await readColumn(files, DATA_FOLDER, state["tasks"] as ColumnDescriptor, { dtype: "int32", length });
    if (!Array.isArray(taskIds) || !taskIds.every((id) => typeof id === "string") || rows.some((t) => t < 0 || t >= taskIds.length)) {
      throw new StateError(`${dir}/manifest.json: the joint state's taskIds do not match its tasks column`);
    }
    return { taskIds: taskIds as string[], rows };
  }
}

/** `tasks` followed by `count` items of task `taskId`. */
function appendTask(tasks: RowTasks, taskId: string, count: number): RowTasks {
  const { taskIds, index } = withTaskId(tasks.taskIds, taskId);
  const rows = new Int32Array(tasks.rows.length + count);
  rows.set(tasks.rows);
  rows.fill(index, tasks.rows.length);
  return { taskIds, rows };
}
