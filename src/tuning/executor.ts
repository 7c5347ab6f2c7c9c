/**
 * Where trials run. A search hands each trial spec to an executor and awaits its outcome; the local executor runs
 * them in this process, one at a time (the machine's cores already go to the training itself). A queue executor
 * (BullMQ) can implement the same interface with a larger `concurrency`: specs and outcomes are JSON.
 */
import type { Logger } from "../logger.js";
import type { TrainingCallback } from "../training/callbacks.js";
import { runTrial, type TrialOutcome, type TrialSpec } from "./trial.js";

export interface TrialExecutor {
  /** Trials the search keeps running at once. */
  readonly concurrency: number;
  run(spec: TrialSpec): Promise<TrialOutcome>;
}

/** Runs trials in this process, one at a time. */
export function localExecutor(context: { callbacks?: (spec: TrialSpec) => readonly TrainingCallback[]; logger?: Logger } = {}): TrialExecutor {
  return {
    concurrency: 1,
    run: (spec) => runTrial(spec, { ...(context.callbacks ? { callbacks: context.callbacks(spec) } : {}), ...(context.logger ? { logger: context.logger } : {}) }),
  };
}
