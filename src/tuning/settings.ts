/**
 * The `tuning` section of a config: the search space (a preset, entries of its own, or both), the scheduler and
 * its settings, the metric and the seed. `relearn tune` and `relearn update --tune` read it; command-line flags
 * override single fields.
 */
import * as z from "zod";
import { SEARCH_SPACE_PRESET_NAMES, searchSpaceSchema } from "./search_space.js";

export const SCHEDULER_NAMES = ["random", "grid", "asha"] as const;
export type SchedulerName = (typeof SCHEDULER_NAMES)[number];

/** Metrics a trial can be judged by: what the update's last phase logs on the validation sets (see trial.ts). */
export const TUNING_METRICS = ["val_accuracy", "val_loss"] as const;
export type TuningMetric = (typeof TUNING_METRICS)[number];

/** Higher is better for accuracy, lower for loss. */
export function metricMode(metric: TuningMetric): "max" | "min" {
  return metric === "val_loss" ? "min" : "max";
}

export const ashaSettingsSchema = z.strictObject({
  /** eta: each rung keeps the best 1/eta of the trials that reached it and trains them eta times longer. */
  reductionFactor: z.number().int().min(2).default(3),
  /** Epochs of the first rung. */
  minEpochs: z.number().int().min(1).default(1),
  /** Epochs of the last rung; default the config's options.maxEpochs. */
  maxEpochs: z.number().int().min(1).optional(),
});

export const tuningSettingsSchema = z.strictObject({
  /** A named space (search_space.ts SEARCH_SPACE_PRESETS); `space` entries are added to it and win over it. */
  preset: z.enum(SEARCH_SPACE_PRESET_NAMES as [string, ...string[]]).optional(),
  space: searchSpaceSchema.optional(),
  scheduler: z.enum(SCHEDULER_NAMES).default("random"),
  /** Settings tried (random), configurations started at the first rung (asha); grid runs its whole grid. Default 8. */
  trials: z.number().int().positive().optional(),
  /** Seeds the scheduler's draws (not training: trials train with options.seed, so they differ only in their setting). */
  seed: z.number().int().min(0).default(0),
  /** Grid search: values per uniform, logUniform or wide int entry. */
  gridPoints: z.number().int().min(1).default(3),
  metric: z.enum(TUNING_METRICS).default("val_accuracy"),
  asha: ashaSettingsSchema.default({ reductionFactor: 3, minEpochs: 1 }),
});

export type TuningSettings = z.output<typeof tuningSettingsSchema>;
export type TuningSettingsInput = z.input<typeof tuningSettingsSchema>;

/** Trials of a random or ASHA search when neither the config nor a flag says. */
export const DEFAULT_TRIALS = 8;
