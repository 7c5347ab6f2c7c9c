/**
 * Every updater option and its default, in one place. Options are ONE object
 * validated with zod; functions (model, loss, transforms, callbacks) are
 * checked for type only. Names follow Renate's ModelUpdater parameters in
 * camelCase (accelerator -> backend).
 */
import type * as tfl from "@tensorflow/tfjs-layers";
import * as z from "zod";
import { OptionsError } from "../errors.js";
import type { FeatureTransform, TargetTransform } from "../data/transforms.js";
import type { ContinualModel } from "../model/continual_model.js";
import type { ModelSpec } from "../model/spec.js";
import type { Logger } from "../logger.js";
import type { StateStore } from "../state/store.js";
import type { TrainingCallback } from "../training/callbacks.js";
import type { LossFunction } from "../training/losses.js";
import type { BatchMetric } from "../training/metrics.js";
import { optimizerSpecSchema, type OptimizerFactory, type OptimizerOption } from "../training/optimizers.js";

/** Adam at 1e-3: the default that trains MLPs and small CNNs well without tuning. */
export const DEFAULT_OPTIMIZER = { name: "adam", learningRate: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 } as const;
import { learningRateScheduleSchema, type LearningRateSchedule } from "../training/schedules.js";

const fn = <T>(what: string) => z.custom<T>((v) => typeof v === "function", { message: `${what} must be a function` });
const optionalFn = <T>(what: string) => fn<T>(what).optional();

/** The JSON-serialisable options, shared by every updater; persisted in state manifests. */
export const commonOptionsSchema = z.strictObject({
  batchSize: z.number().int().positive().default(32),
  maxEpochs: z.number().int().min(0).default(50),
  metric: z.string().min(1).optional(),
  mode: z.enum(["min", "max"]).default("min"),
  earlyStoppingEnabled: z.boolean().default(false),
  /** Epochs without improvement before early stopping (Lightning's default 3). */
  earlyStoppingPatience: z.number().int().positive().default(3),
  learningRateSchedulerInterval: z.enum(["epoch", "step"]).default("epoch"),
  backend: z.enum(["auto", "tensorflow", "wasm", "cpu", "webgl", "webgpu"]).default("auto"),
  devices: z.number().int().positive().default(1),
  strategy: z.enum(["single-device"]).default("single-device"),
  precision: z.enum(["32", "16", "bf16"]).default("32"),
  seed: z.number().int().min(0).default(0),
  deterministicTrainer: z.boolean().default(true),
  gradientClipVal: z.number().positive().optional(),
  gradientClipAlgorithm: z.enum(["norm", "value"]).default("norm"),
  maskUnusedClasses: z.boolean().default(false),
  /**
   * Let update() widen the model's output layer (every head) when the training or validation data of an update has
   * more classes than the model has outputs: old class weights are kept, the new ones initialised (see
   * ContinualModel.growClasses), stored logits widened (stored_logits.ts). Default false: such data is a DataError
   * that says so.
   */
  growClasses: z.boolean().default(false),
  inputStateFolder: z.string().min(1).optional(),
  outputStateFolder: z.string().min(1).optional(),
  /**
   * Allow update() to replace a state already in outputStateFolder that is
   * not the input state (default false: refused, so a forgotten
   * inputStateFolder cannot silently destroy a state). Never stored.
   */
  overwriteOutputState: z.boolean().default(false),
});

/** Options that are functions or objects: checked for shape, never persisted. */
const runtimeOptionsSchema = z.object({
  model: z.custom<ContinualModel | tfl.LayersModel | ModelSpec>((v) => typeof v === "object" && v !== null, {
    message: "model must be a ContinualModel, a tfjs LayersModel or a ModelSpec object",
  }).optional(),
  lossFn: optionalFn<LossFunction>("lossFn"),
  optimizer: z.union([optimizerSpecSchema, fn<OptimizerFactory>("optimizer")]).default(DEFAULT_OPTIMIZER),
  learningRateScheduler: z.union([learningRateScheduleSchema, fn<() => number>("learningRateScheduler")]).optional(),
  trainTransform: optionalFn<FeatureTransform>("trainTransform"),
  trainTargetTransform: optionalFn<TargetTransform>("trainTargetTransform"),
  testTransform: optionalFn<FeatureTransform>("testTransform"),
  testTargetTransform: optionalFn<TargetTransform>("testTargetTransform"),
  bufferTransform: optionalFn<FeatureTransform>("bufferTransform"),
  bufferTargetTransform: optionalFn<TargetTransform>("bufferTargetTransform"),
  loggedMetrics: z.record(z.string(), fn<BatchMetric>("each loggedMetrics entry")).optional(),
  callbacks: z.array(z.custom<TrainingCallback>((v) => typeof v === "object" && v !== null, { message: "each callback must be an object" })).default([]),
  logger: z.custom<Logger>((v) => typeof v === "object" && v !== null && typeof (v as Logger).warn === "function", {
    message: "logger must have warn() and info()",
  }).optional(),
  dataSettingsSchema: z.custom<z.ZodType>((v) => v instanceof z.ZodType, { message: "dataSettingsSchema must be a zod schema" }).optional(),
  stateStore: z.custom<StateStore>(
    (v) => typeof v === "object" && v !== null && typeof (v as StateStore).read === "function" && typeof (v as StateStore).write === "function",
    { message: "stateStore must be a StateStore (fileSystemStore() in Node, indexedDbStore() in a browser)" },
  ).optional(),
});

export const updaterOptionsSchema = commonOptionsSchema.extend(runtimeOptionsSchema.shape);

/** What a user passes to any updater's constructor. */
export interface ModelUpdaterOptions extends z.input<typeof commonOptionsSchema> {
  /** The model to keep up to date: built from a spec, or any tfjs LayersModel. Optional when inputStateFolder holds one. */
  model?: ContinualModel | tfl.LayersModel | ModelSpec | undefined;
  /** Per-sample loss; default softmax cross-entropy. */
  lossFn?: LossFunction | undefined;
  /** Optimizer spec or factory; default `{ name: "adam", learningRate: 1e-3 }`. */
  optimizer?: OptimizerOption | undefined;
  learningRateScheduler?: LearningRateSchedule | undefined;
  trainTransform?: FeatureTransform | undefined;
  trainTargetTransform?: TargetTransform | undefined;
  testTransform?: FeatureTransform | undefined;
  testTargetTransform?: TargetTransform | undefined;
  /** Transforms for memory items; default the train transforms. */
  bufferTransform?: FeatureTransform | undefined;
  bufferTargetTransform?: TargetTransform | undefined;
  /** Extra batch metrics (sum over the batch); accuracy is always logged. */
  loggedMetrics?: Record<string, BatchMetric> | undefined;
  callbacks?: TrainingCallback[] | undefined;
  logger?: Logger | undefined;
  /**
   * Schema the resumed state's data settings (`data.data` of its manifest) must fit; relearn's workflow gives
   * its own. Without one, any JSON object passes.
   */
  dataSettingsSchema?: z.ZodType | undefined;
  /**
   * Where inputStateFolder and outputStateFolder live: in Node the file system
   * (folder paths), in a browser IndexedDB (state names). Default: the host's
   * store (platform.ts).
   */
  stateStore?: StateStore | undefined;
}

/** Options after validation, with every default filled in. */
export type ResolvedOptions = z.output<typeof updaterOptionsSchema>;

/**
 * Options one updater family takes that a user may give another, and what the other takes instead: an unknown key
 * alone does not say there is an equivalent (tester H, H2).
 */
const UNKNOWN_OPTION_HINTS: Readonly<Record<string, string>> = {
  lossNormalization:
    'lossNormalization is an option of er, offline-er, der++ and er-ace; CLS-ER, POD-ER and Super-ER take the boolean normalizeLoss instead (default true: Renate\'s division by the sum of the weights)',
  normalizeLoss: 'normalizeLoss is an option of cls-er, cls-er-ace, pod-er and super-er; er, offline-er, der++ and er-ace take lossNormalization ("paper" or "renate") instead',
};

/** Validates and fills defaults; throws OptionsError naming every bad option. */
export function resolveOptions<S extends z.ZodType>(schema: S, options: unknown, updater: string): z.output<S> {
  const parsed = schema.safeParse(options);
  if (!parsed.success) {
    const unknown = parsed.error.issues.flatMap((issue) => (issue.code === "unrecognized_keys" ? issue.keys : []));
    const hints = unknown.flatMap((key) => (UNKNOWN_OPTION_HINTS[key] === undefined ? [] : [`\n  (${UNKNOWN_OPTION_HINTS[key]})`]));
    throw new OptionsError(`invalid ${updater} options:\n${z.prettifyError(parsed.error)}${hints.join("")}`);
  }
  return parsed.data;
}

/** The serialisable subset of resolved options, as stored in a state manifest. */
export function persistableOptions(options: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of keys) {
    const value = options[key];
    if (value !== undefined && typeof value !== "function") out[key] = value;
  }
  return out;
}

/**
 * Refuses 0 epochs of training for a model that starts fresh (re-initialised) in every update: RD's expert and its
 * consolidation, GDumb, Joint. There 0 epochs does not mean "keep the model" (as it does for fine-tuning or ER) but
 * "replace it by an untrained one", and for RD's expert "store random logits as the memory's targets".
 */
export function requireTrainingOfFreshModel(updater: string, option: string, epochs: number, fresh: string): void {
  if (epochs !== 0) return;
  throw new OptionsError(
    `invalid ${updater} options: ${option} is 0, but ${fresh} starts from a freshly initialised model in every update, ` +
      `so 0 epochs would replace the trained model by an untrained one; give ${option} >= 1`,
  );
}
