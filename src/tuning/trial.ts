/**
 * One tuning trial: a pure function from a JSON-safe spec (the config, the setting to try, the epochs, the data
 * files, the input state and the trial's own output folder) to a JSON-safe outcome (the metric on the validation
 * sets, the update's summary). It runs one ordinary update (updateFromConfig) with the setting applied, so a trial
 * can run in this process, in a child process or on a queue worker, with the same result for the same spec.
 *
 * The metric is what the update's LAST phase logs on the validation sets it validates on (for RD the consolidation,
 * which validates on every validation set the state keeps: this update's and earlier ones', pooled by rows), at the
 * epoch whose weights the phase kept (PhaseSummary.kept). It is the number `relearn update` prints as val_acc.
 */
import * as z from "zod";
import { OptionsError, TrainingError } from "../errors.js";
import type { Logger } from "../logger.js";
import type { TrainingCallback } from "../training/callbacks.js";
import { parseConfig, relearnConfigSchema, type RelearnConfigInput } from "../workflow/config.js";
import type { DataFile } from "../workflow/data_files.js";
import { updateFromConfig, type UpdateSummary } from "../workflow/update.js";
import { applyParams, type Params } from "./search_space.js";
import { TUNING_METRICS, type TuningMetric } from "./settings.js";

/** The JSON form of a TrialSpec (what a queue job carries); `path` checks each file path (e.g. that it is absolute). */
export function trialSpecSchema(path: z.ZodType<string> = z.string().min(1)) {
  const file = z.strictObject({ path, labels: path.optional(), labelsSetting: z.string().optional() });
  return z.strictObject({
    trialId: z.number().int().min(0),
    rung: z.number().int().min(0),
    config: relearnConfigSchema,
    params: z.record(z.string(), z.union([z.number().finite(), z.string(), z.boolean()])),
    epochs: z.number().int().positive().nullable(),
    data: file,
    val: file,
    inputState: path.optional(),
    outputState: path,
    taskId: z.string().min(1).optional(),
    metric: z.enum(TUNING_METRICS),
  });
}

export interface TrialSpec {
  trialId: number;
  /** ASHA's rung (0 otherwise). */
  rung: number;
  /** The config every trial starts from (its `options` get `params` applied, and maxEpochs = `epochs` when set). */
  config: RelearnConfigInput;
  params: Params;
  /** Epochs of this run (options.maxEpochs); null: the config's. */
  epochs: number | null;
  data: DataFile;
  val: DataFile;
  inputState?: string | undefined;
  /** The trial's own state folder: written by the update, read back if this trial is the best. */
  outputState: string;
  taskId?: string | undefined;
  metric: TuningMetric;
}

export interface TrialOutcome {
  trialId: number;
  rung: number;
  params: Params;
  /** The epochs the update ran with (options.maxEpochs). */
  epochs: number;
  metric: TuningMetric;
  /** The metric, or null when the trial failed. */
  value: number | null;
  status: "ok" | "failed";
  /** Why the trial failed (training diverged). */
  error?: string;
  seconds: number;
  outputState: string;
  /** The update's summary (absent when it failed). */
  summary?: UpdateSummary;
}

/**
 * Runs the trial. A trial whose training diverges (TrainingError, e.g. a learning rate too large) is a failed trial,
 * not an error of the search; any other error (bad data, a damaged state) is thrown: every trial would meet it.
 */
export async function runTrial(spec: TrialSpec, context: { callbacks?: readonly TrainingCallback[]; logger?: Logger } = {}): Promise<TrialOutcome> {
  const started = performance.now();
  const options = applyParams(spec.config.options ?? {}, spec.params);
  if (spec.epochs !== null) options["maxEpochs"] = spec.epochs;
  const config = parseConfig({ ...spec.config, options }, `trial ${spec.trialId}'s config`);
  const base = { trialId: spec.trialId, rung: spec.rung, params: spec.params, epochs: config.options.maxEpochs ?? 50, metric: spec.metric, outputState: spec.outputState };
  let summary: UpdateSummary;
  try {
    summary = await updateFromConfig({
      config,
      data: spec.data,
      val: spec.val,
      inputState: spec.inputState,
      outputState: spec.outputState,
      overwriteOutputState: true,
      taskId: spec.taskId,
      callbacks: context.callbacks,
      logger: context.logger,
    });
  } catch (error) {
    if (!(error instanceof TrainingError)) throw error;
    return { ...base, value: null, status: "failed", error: error.message, seconds: (performance.now() - started) / 1000 };
  }
  const last = summary.phases.at(-1);
  const value = last?.kept[spec.metric];
  if (value === undefined) {
    throw new OptionsError(`trial ${spec.trialId}: the update logged no ${spec.metric} (phases: ${summary.phases.map((p) => p.phase).join(", ")}); tuning needs validation data`);
  }
  return { ...base, value, status: "ok", seconds: (performance.now() - started) / 1000, summary };
}
