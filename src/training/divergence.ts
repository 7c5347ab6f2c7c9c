/**
 * Divergence checks. Training whose loss, metrics or weights stop being
 * finite numbers (too large a learning rate, unscaled features, exploding
 * gradients) must fail loudly: a NaN model answers class 0 with NaN
 * probabilities, and saved it would replace a good state. The checks read
 * only what is read anyway (the epoch logs) or run one reduction per weight
 * at the end of a phase: no per-batch sync.
 */
import { TrainingError } from "../errors.js";
import type { ContinualModel } from "../model/continual_model.js";
import type { TrainingLogs } from "./callbacks.js";

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

/** Throws a TrainingError when any logged loss or metric of an epoch is NaN or infinite. */
export function assertFiniteLogs(logs: TrainingLogs, place: TrainingPlace): void {
  const bad = Object.entries(logs).filter(([, value]) => !Number.isFinite(value));
  if (bad.length === 0) return;
  const values = bad.map(([name, value]) => `${name}=${value}`).join(", ");
  throw new TrainingError(`training diverged: ${values} ${where(place)}. ${DIVERGENCE_FIXES}`);
}

/** Throws a TrainingError when a weight of `model` holds a NaN or an infinity after training. */
export async function assertFiniteWeights(model: ContinualModel, place: TrainingPlace): Promise<void> {
  const bad = await model.nonFiniteWeights();
  if (bad.length === 0) return;
  throw new TrainingError(`training diverged: weights ${listNames(bad)} are NaN or infinite ${where(place)}. ${DIVERGENCE_FIXES}`);
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
