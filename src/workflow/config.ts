/**
 * The config file of the production workflow (`relearn init` writes one,
 * `relearn update` reads it): which model, which updater with which options,
 * and how to read data files. Validated with zod; `configJsonSchema()` gives
 * editors a JSON Schema for completion and checks.
 */
import { readFile, writeFile } from "node:fs/promises";
import * as z from "zod";
import { OptionsError } from "../errors.js";
import { modelSpecSchema } from "../model/spec.js";
import { optimizerSpecSchema } from "../training/optimizers.js";
import { learningRateScheduleSchema } from "../training/schedules.js";
import { UPDATER_NAMES, updaterEntry } from "../updaters/registry.js";
import { POD_DISTILLATION_TYPES } from "../updaters/pooled_output_distillation.js";
import { LOSS_NORMALIZATIONS } from "../updaters/loss_normalization.js";
import { tuningSettingsSchema } from "../tuning/settings.js";

export { dataFormatSchema } from "../data/data_format.js";
import { dataFormatSchema } from "../data/data_format.js";

/**
 * Updater options a config cannot set, each with the reason. Every other option of every updater is in
 * `configUpdaterOptionsSchema` (test/workflow/config_options.test.ts checks the registry against it).
 */
export const OPTIONS_NOT_IN_CONFIG: Readonly<Record<string, string>> = {
  model: "the config's `model` section",
  lossFn: "a function (library only)",
  trainTransform: "a function (library only)",
  trainTargetTransform: "a function (library only)",
  testTransform: "a function (library only)",
  testTargetTransform: "a function (library only)",
  bufferTransform: "a function (library only)",
  bufferTargetTransform: "a function (library only)",
  loggedMetrics: "functions (library only)",
  callbacks: "objects with functions (library only)",
  logger: "an object with functions (library only)",
  dataSettingsSchema: "a zod schema, given by the workflow itself",
  stateStore: "an object with functions; the CLI uses the file system",
  inputStateFolder: "the command's --input-state",
  outputStateFolder: "the command's --output-state",
  overwriteOutputState: "the command's --overwrite-output-state",
  devices: "Renate parity: one value (1)",
  strategy: "Renate parity: one value (\"single-device\")",
  precision: "Renate parity: relearn trains in float32",
  deterministicTrainer: "Renate parity: relearn's training is always seeded",
};

/** The JSON-serialisable updater options a config can set (functions are for code, not config files). */
export const configUpdaterOptionsSchema = z.strictObject({
  memorySize: z.number().int().positive().optional(),
  batchMemoryFrac: z.number().min(0).max(1).optional(),
  /** RD: what the consolidation trains on, and from which weights. */
  consolidationEpochs: z.number().int().min(0).optional(),
  consolidationData: z.enum(["memory", "chunk+memory"]).optional(),
  consolidationStart: z.enum(["fresh", "previous"]).optional(),
  /** The ER family (er, offline-er, der++, er-ace): the paper's loss or Renate's normalised one. */
  lossNormalization: z.enum(LOSS_NORMALIZATIONS).optional(),
  /** CLS-ER (cls-er, cls-er-ace): the two weight averages, which one predicts, and the new data's loss. */
  stableModelUpdateWeight: z.number().min(0).max(1).optional(),
  plasticModelUpdateWeight: z.number().min(0).max(1).optional(),
  stableModelUpdateProbability: z.number().min(0).max(1).optional(),
  plasticModelUpdateProbability: z.number().min(0).max(1).optional(),
  predictWith: z.enum(["stable", "working"]).optional(),
  newDataLoss: z.enum(["cross-entropy", "asymmetric"]).optional(),
  memoryBatchSize: z.number().int().positive().optional(),
  alpha: z.number().min(0).optional(),
  beta: z.number().min(0).optional(),
  /** LwF's distillation temperature. */
  temperature: z.number().positive().optional(),
  /** EWC's penalty weight, its mode and (online) decay. */
  ewcLambda: z.number().min(0).optional(),
  ewcMode: z.enum(["separate", "online"]).optional(),
  decayFactor: z.number().min(0).max(1).optional(),
  // POD-ER (pod-er) and Super-ER (super-er); each updater checks its own, this only keeps typos out.
  layers: z.array(z.string().min(1)).optional(),
  distillationType: z.enum(POD_DISTILLATION_TYPES).optional(),
  normalize: z.boolean().optional(),
  normalizeLoss: z.boolean().optional(),
  derAlpha: z.number().min(0).optional(),
  derBeta: z.number().min(0).optional(),
  spShrinkFactor: z.number().positive().optional(),
  spSigma: z.number().min(0).optional(),
  clsAlpha: z.number().min(0).optional(),
  clsStableModelUpdateWeight: z.number().min(0).max(1).optional(),
  clsPlasticModelUpdateWeight: z.number().min(0).max(1).optional(),
  clsStableModelUpdateProbability: z.number().min(0).max(1).optional(),
  clsPlasticModelUpdateProbability: z.number().min(0).max(1).optional(),
  podAlpha: z.number().min(0).optional(),
  podLayers: z.array(z.string().min(1)).optional(),
  podDistillationType: z.enum(POD_DISTILLATION_TYPES).optional(),
  podNormalize: z.boolean().optional(),
  batchSize: z.number().int().positive().optional(),
  maxEpochs: z.number().int().min(0).optional(),
  optimizer: optimizerSpecSchema.optional(),
  learningRateScheduler: learningRateScheduleSchema.optional(),
  learningRateSchedulerInterval: z.enum(["epoch", "step"]).optional(),
  metric: z.string().min(1).optional(),
  mode: z.enum(["min", "max"]).optional(),
  earlyStoppingEnabled: z.boolean().optional(),
  earlyStoppingPatience: z.number().int().positive().optional(),
  gradientClipVal: z.number().positive().optional(),
  gradientClipAlgorithm: z.enum(["norm", "value"]).optional(),
  maskUnusedClasses: z.boolean().optional(),
  growClasses: z.boolean().optional(),
  backend: z.enum(["auto", "tensorflow", "wasm", "cpu", "webgl", "webgpu"]).optional(),
  seed: z.number().int().min(0).optional(),
});

export const relearnConfigSchema = z.strictObject({
  $schema: z.string().optional(),
  model: modelSpecSchema,
  updater: z.enum(UPDATER_NAMES as [string, ...string[]]),
  options: configUpdaterOptionsSchema.default({}),
  data: dataFormatSchema.default({ layout: "flat" }),
  /** What `relearn tune` and `relearn update --tune` search (src/tuning/settings.ts); absent: no tuning settings. */
  tuning: tuningSettingsSchema.optional(),
});

export type RelearnConfig = z.output<typeof relearnConfigSchema>;
/** The data section of a config: how data files are read. */
export type DataFormat = z.output<typeof dataFormatSchema>;
export type RelearnConfigInput = z.input<typeof relearnConfigSchema>;

/** Validates a parsed config; errors name the file and the field. */
export function parseConfig(json: unknown, source = "config"): RelearnConfig {
  const parsed = relearnConfigSchema.safeParse(json);
  if (!parsed.success) throw new OptionsError(`${source} is not a valid relearn config:\n${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

/** Reads and validates a config file. */
export async function readConfig(path: string): Promise<RelearnConfig> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new OptionsError(`cannot read the config file ${path}: ${(error as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new OptionsError(`${path} is not JSON: ${(error as Error).message}`);
  }
  return parseConfig(json, path);
}

/** The JSON Schema of the config file, for editors (`"$schema": "./relearn.schema.json"`). */
export function configJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(relearnConfigSchema, { io: "input" }) as Record<string, unknown>;
}

/** What `defaultConfig` takes from the user: the model (or its input shape and classes for the default MLP), the updater, data settings. */
export interface DefaultConfigOverrides {
  /** The model; default an MLP with hidden widths [256, 256] for `inputShape` and `classes`. */
  model?: RelearnConfigInput["model"];
  /** Sample shape of the default MLP (default [784]); ignored with `model`. */
  inputShape?: number[];
  /** Class count of the default MLP (default 10); ignored with `model`. */
  classes?: number;
  updater?: string;
  header?: boolean | "auto";
  labelColumn?: string | number;
  delimiter?: string;
  format?: "auto" | "csv" | "idx";
  /** Class names in index order, written as "data.classNames" (labels in CSV files are then these names). */
  classNames?: string[];
}

/**
 * A starting config: RD on an MLP, Renate-like settings. IDX images are read in the layout the
 * model's input shape has ("hwc" for [h, w, c], else "flat"), so the first update reads them as the model takes them.
 */
export function defaultConfig(overrides: DefaultConfigOverrides = {}): RelearnConfigInput {
  const model = overrides.model ?? { type: "mlp", inputShape: overrides.inputShape ?? [784], hidden: [256, 256], classes: overrides.classes ?? 10 };
  return {
    $schema: "./relearn.schema.json",
    model,
    updater: overrides.updater ?? "rd",
    // A memory-free updater (fine-tuning, lwf, ewc...) gets no memorySize: it would be ignored.
    options: {
      ...(updaterEntry(overrides.updater ?? "rd").usesMemory ? { memorySize: 500 } : {}),
      batchSize: 32, maxEpochs: 5, optimizer: { name: "adam", learningRate: 1e-3 }, seed: 0,
    },
    // Written out so the user sees the setting that decides whether line 1 of a CSV file is data.
    data: {
      ...(overrides.format === undefined ? {} : { format: overrides.format }),
      header: overrides.header ?? "auto",
      ...(overrides.delimiter === undefined ? {} : { delimiter: overrides.delimiter }),
      ...(overrides.labelColumn === undefined ? {} : { labelColumn: overrides.labelColumn }),
      ...(overrides.classNames === undefined ? {} : { classNames: overrides.classNames }),
      layout: model.inputShape.length > 1 ? "hwc" : "flat",
    },
  };
}

/** Writes a config (validated first) with stable formatting. */
export async function writeConfig(path: string, config: RelearnConfigInput): Promise<void> {
  parseConfig(config, path);
  await writeFile(path, `${JSON.stringify(config, null, 2)}\n`);
}
