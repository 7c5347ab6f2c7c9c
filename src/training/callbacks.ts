/**
 * Training callbacks: an ordered list of hooks, each awaited in turn, each
 * receiving one typed event object. Object literals are accepted as they are
 * (`{ onEpochEnd: (e) => console.log(e.logs) }`). A hook stops training by
 * setting `event.control.stopTraining = true`, as in tfjs-layers.
 */

/** Metric values of one epoch, e.g. { train_loss, train_accuracy, val_loss, val_accuracy }. */
export type TrainingLogs = Record<string, number>;

/** What phase of an update a training run belongs to. */
export type TrainingPhase = string;

/** The shared channel a callback uses to end training early. */
export interface TrainingControl {
  stopTraining: boolean;
}

/** One typed state object for every hook. */
export interface TrainingEvent {
  /** e.g. "expert", "consolidation", "fine-tuning", "joint". */
  readonly phase: TrainingPhase;
  readonly taskId: string;
  /** 0-based epoch; -1 before the first. */
  readonly epoch: number;
  readonly epochs: number;
  /** 0-based step within the epoch (onBatchEnd only). */
  readonly step: number;
  readonly stepsPerEpoch: number;
  readonly learningRate: number;
  /** Filled at onEpochEnd and onTrainEnd; empty otherwise. */
  readonly logs: TrainingLogs;
  readonly control: TrainingControl;
}

type Hook = (event: TrainingEvent) => void | Promise<void>;

/** Any subset of these hooks; all are optional. */
export interface TrainingCallback {
  onTrainBegin?: Hook;
  onEpochBegin?: Hook;
  /** Called after every optimizer step, without reading any tensor (no device sync). */
  onBatchEnd?: Hook;
  onEpochEnd?: Hook;
  onTrainEnd?: Hook;
}

export type HookName = keyof TrainingCallback;

/** Calls a hook on every callback, in order, awaiting each. */
export async function runHook(callbacks: readonly TrainingCallback[], hook: HookName, event: TrainingEvent): Promise<void> {
  for (const callback of callbacks) {
    const fn = callback[hook];
    if (fn) await fn.call(callback, event);
  }
}
