/**
 * Divergence checks. Training whose loss, metrics or weights stop being
 * finite numbers (too large a learning rate, unscaled features, exploding
 * gradients) must fail loudly: a NaN model answers class 0 with NaN
 * probabilities, and saved it would replace a good state. The checks read
 * only what is read anyway (the epoch logs) or run one reduction per weight
 * at the end of a phase: no per-batch sync.
 */
import type * as tf from "@tensorflow/tfjs-core";
import type { Dataset } from "../data/dataset.js";
import { subsetDataset } from "../data/dataset_ops.js";
import type { FeatureTransform } from "../data/transforms.js";
import { TrainingError } from "../errors.js";
import type { ContinualModel } from "../model/continual_model.js";
import { gatherRowTasks, type RowTasks } from "../task_id.js";
import type { TrainingLogs } from "./callbacks.js";
import { describeRows, extractLogits, nonFiniteRows } from "./logits.js";

/** Where in training a check runs, for the error message. */
export interface TrainingPlace {
  phase: string;
  taskId: string;
  /** 0-based epoch; the message shows it 1-based, "epoch 3 of 5". */
  epoch: number;
  epochs: number;
  learningRate: number;
}

/** What to try, in the order it most often helps. */
export const DIVERGENCE_FIXES =
  "Nothing was saved. Likely fixes: a smaller learning rate (optimizer.learningRate); features scaled to a small " +
  "range (e.g. standardised to mean 0 and variance 1: values far from 1 overflow float32); gradient clipping " +
  "(gradientClipVal, in the updater options or the config file's options)";

/**
 * Throws a TrainingError when any logged loss or metric of an epoch is NaN
 * or infinite. When only validation values are (training is finite), the
 * message blames the validation sets, of tasks `validationTasks`.
 */
export function assertFiniteLogs(logs: TrainingLogs, place: TrainingPlace, validationTasks: readonly string[] = []): void {
  const bad = Object.entries(logs).filter(([, value]) => !Number.isFinite(value));
  if (bad.length === 0) return;
  const values = bad.map(([name, value]) => `${name}=${value}`).join(", ");
  if (bad.every(([name]) => name.startsWith("val_"))) {
    const tasks = [...new Set(validationTasks)];
    const sets = tasks.length === 0 ? "the validation data" : `the validation set${tasks.length === 1 ? "" : "s"} of task${tasks.length === 1 ? "" : "s"} ${listNames(tasks)}`;
    throw new TrainingError(
      `${sets} gave ${values} ${where(place)} while training values are finite: the model's outputs overflow on ` +
        `that data, most likely because its features are far outside the range of the training data (values near ` +
        `1e38 overflow float32). Nothing was saved. Scale the validation data like the training data, or leave it out`,
    );
  }
  throw new TrainingError(`training diverged: ${values} ${where(place)}. ${DIVERGENCE_FIXES}`);
}

/** Throws a TrainingError when a weight of `model` holds a NaN or an infinity after training. */
export async function assertFiniteWeights(model: ContinualModel, place: TrainingPlace): Promise<void> {
  const bad = await model.nonFiniteWeights();
  if (bad.length === 0) return;
  throw new TrainingError(`training diverged: weights ${listNames(bad)} are NaN or infinite ${where(place)}. ${DIVERGENCE_FIXES}`);
}

/** Rows of the data run through the model by assertFiniteOutputs: one inference batch. */
export const OUTPUT_CHECK_ROWS = 256;

/**
 * Throws a TrainingError when the model's logits on `data` (up to
 * OUTPUT_CHECK_ROWS rows spread evenly over it, through the head of `tasks`
 * (one task id, or each row's own), in
 * inference mode with the deterministic `transform`) hold a NaN or an
 * infinity. Finite weights do not make a usable model: a last step that
 * blows up leaves weights near the float32 limit (~3e38), and the forward
 * pass then overflows, while the epoch's loss, computed before that step,
 * looked fine.
 */
export async function assertFiniteOutputs(
  model: ContinualModel,
  data: Dataset,
  options: { tasks: string | RowTasks; transform: FeatureTransform | undefined; what: string; update: string },
): Promise<void> {
  const count = Math.min(data.length, OUTPUT_CHECK_ROWS);
  if (count === 0) return;
  const rows = Int32Array.from({ length: count }, (_, i) => Math.floor((i * data.length) / count));
  let logits: tf.Tensor2D | undefined;
  let bad: number[];
  try {
    const tasks = typeof options.tasks === "string" ? options.tasks : gatherRowTasks(options.tasks, rows);
    logits = extractLogits(model, subsetDataset(data, rows), count, tasks, { transform: options.transform });
    bad = await nonFiniteRows(logits);
  } finally {
    logits?.dispose();
  }
  if (bad.length === 0) return;
  throw new TrainingError(
    `training diverged: after ${options.update} the weights are finite but the model's outputs (logits) are NaN or ` +
      `infinite on ${bad.length} of ${count} rows of ${options.what} checked (${describeRows(bad.map((i) => rows[i]!))}): ` +
      `the weights grew so large that the forward pass overflows float32. ${DIVERGENCE_FIXES}`,
  );
}

/** "a, b, c and 4 more" */
export function listNames(names: readonly string[], max = 5): string {
  const shown = names.slice(0, max).map((name) => `"${name}"`).join(", ");
  return names.length > max ? `${shown} and ${names.length - max} more` : shown;
}

function where(place: TrainingPlace): string {
  return (
    `in phase "${place.phase}" (task "${place.taskId}"), epoch ${place.epoch + 1} of ${place.epochs}, ` +
    `learning rate ${place.learningRate}`
  );
}
