/**
 * Job kind "tune-trial": one trial of a tuning run (`relearn tune --queue`), i.e. runTrial (src/tuning/trial.ts)
 * on a worker. The data is the trial's spec (config, setting, epochs, data files, input state, the trial's own
 * output folder), every path absolute; the result is the trial's outcome (its metric and the update's summary).
 *
 * Retries simply redo the trial: it writes only its own output folder (replacing whatever an earlier attempt left
 * there, atomically), from the same spec and seed, so a redo gives the same state and the same metric.
 */
import { isAbsolute } from "node:path";
import { setImmediate as nextTurn } from "node:timers/promises";
import * as z from "zod";
import type { TrainingCallback } from "../../training/callbacks.js";
import { runTrial, trialSpecSchema, type TrialOutcome, type TrialSpec } from "../../tuning/trial.js";
import type { JobContext, ReportProgress } from "../dispatch.js";

const absolutePath = z.string().min(1).refine(isAbsolute, "must be an absolute path (the worker's working directory is not the producer's)");

export const dataSchema = trialSpecSchema(absolutePath);

export type TuneTrialJobData = z.output<typeof dataSchema>;

/** How often training hands the event loop a turn, so the job process's SIGTERM handler can run. */
const YIELD_EVERY_MS = 50;

export async function run(input: unknown, reportProgress: ReportProgress, _context: JobContext): Promise<TrialOutcome> {
  const spec = input as TrialSpec;
  let lastYield = performance.now();
  const callbacks: TrainingCallback[] = [
    {
      onEpochEnd: (event) => reportProgress({ trial: spec.trialId, rung: spec.rung, phase: event.phase, epoch: event.epoch + 1, epochs: event.epochs }),
      onBatchEnd: async () => {
        if (performance.now() - lastYield < YIELD_EVERY_MS) return;
        await nextTurn();
        lastYield = performance.now();
      },
    },
  ];
  return runTrial(spec, { callbacks, logger: { info: () => {}, warn: (message) => process.stderr.write(`warning: ${message}\n`) } });
}
