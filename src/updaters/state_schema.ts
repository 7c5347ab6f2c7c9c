/**
 * The schema of what every updater stores in its state manifest's `data`
 * (counters, model summary, options, validation sets, its own algorithm
 * section), checked on every read: update, inspect, evaluate and predict.
 *
 * The options section is checked against the updater's OWN option schema
 * (a `batchSize: "abc"` or an unknown option is an error), and sections that
 * describe the same thing twice must agree (the memory's capacity is
 * `memorySize`). Algorithm sections are checked by the updater that reads
 * them (memory_state.ts), so an updater can add to its own section.
 */
import * as z from "zod";
import { StateError } from "../errors.js";
import { columnDescriptorSchema } from "../state/columns_io.js";
import { describeZodIssue, MANIFEST_FILE } from "../state/format.js";
import type { StoredState } from "../state/store.js";
import { silentLogger, type Logger } from "../logger.js";
import { commonOptionsSchema, updaterOptionsSchema } from "./options.js";

/** Options an updater takes but never stores: where it reads and writes its state, and whether it may replace one. */
const UNSTORED_OPTIONS = new Set(["inputStateFolder", "outputStateFolder", "overwriteOutputState"]);

/** Keys of the common options a state stores. */
export const PERSISTED_COMMON_KEYS = Object.keys(commonOptionsSchema.shape).filter((key) => !UNSTORED_OPTIONS.has(key));

/** Any updater's full options schema (JSON options plus functions and objects). */
export type UpdaterOptionsSchema = z.ZodObject<z.ZodRawShape>;

/**
 * The stored options of an updater whose options schema is `full`: its JSON
 * options only (not functions or models), strictly. Undefined `full` (an
 * updater defined outside relearn that declares none) checks the common
 * options and lets any other JSON option through.
 */
export function storedOptionsSchema(full: UpdaterOptionsSchema | undefined): z.ZodType<Record<string, unknown>> {
  const runtime = new Set(Object.keys(updaterOptionsSchema.shape).filter((key) => !(key in commonOptionsSchema.shape)));
  const shape: z.ZodRawShape = (full ?? commonOptionsSchema).shape;
  const keys = Object.keys(shape).filter((key) => !runtime.has(key) && !UNSTORED_OPTIONS.has(key));
  const picked = z.object(Object.fromEntries(keys.map((key) => [key, shape[key]!])));
  return full === undefined ? picked.catchall(z.json()) : picked.strict();
}

const validationEntrySchema = z.strictObject({
  taskId: z.string(),
  /** What the update that added the set called it (its file, usually); states before this field lack it. */
  source: z.string().optional(),
  /** The update (from 1) that added the set. */
  update: z.number().int().positive().optional(),
  featureShape: z.array(z.number().int().positive()),
  numClasses: z.number().int().positive(),
  features: columnDescriptorSchema,
  labels: columnDescriptorSchema,
});

/** What `ModelUpdater.saveState` stores in `manifest.data`. */
export interface UpdaterStateData {
  updatesDone: number;
  model: { spec: Record<string, unknown> | null; multiHead: boolean; taskIds: string[]; inputShape: number[]; numClasses: number };
  options: Record<string, unknown>;
  validation: z.infer<typeof validationEntrySchema>[];
  algorithm: Record<string, unknown>;
  /** How the training data was read (the CLI workflow records it); any JSON. */
  data?: Record<string, unknown>;
  /**
   * The workflow config the update that wrote the state ran with (registry name of the updater, model, options,
   * data and tuning settings: src/workflow/state_config.ts), so `relearn update` can continue without --config;
   * any JSON here, checked by the workflow when it uses it. Absent in states written by the library directly or
   * by a relearn before it recorded one.
   */
  config?: Record<string, unknown>;
  /**
   * The id of the queue job (`relearn worker`, src/queue/jobs/update.ts) whose update wrote the state; absent when
   * anything else wrote it. A retry of that job compares it with its own id: the state is its own committed write
   * only if they match, never because the folder merely changed (another writer may have changed it).
   */
  queueJob?: string;
}

/** The schema of `manifest.data` for an updater with options schema `full` (see storedOptionsSchema). */
export function updaterStateSchema(full: UpdaterOptionsSchema | undefined): z.ZodType<UpdaterStateData> {
  return z
    .strictObject({
      updatesDone: z.number().int().nonnegative(),
      model: z.strictObject({
        spec: z.union([z.record(z.string(), z.json()), z.null()]),
        multiHead: z.boolean(),
        taskIds: z.array(z.string()).min(1),
        inputShape: z.array(z.number().int().positive()).min(1),
        numClasses: z.number().int().positive(),
      }),
      options: storedOptionsSchema(full),
      validation: z.array(validationEntrySchema),
      algorithm: z.record(z.string(), z.json()),
      data: z.record(z.string(), z.json()).optional(),
      config: z.record(z.string(), z.json()).optional(),
      queueJob: z.string().min(1).optional(),
    })
    .superRefine((state, context) => {
      const capacity = (state.algorithm["memory"] as { meta?: { capacity?: unknown } } | undefined)?.meta?.capacity;
      const memorySize = state.options["memorySize"];
      if (capacity !== undefined && memorySize !== undefined && capacity !== memorySize) {
        context.addIssue({
          code: "custom",
          path: ["options", "memorySize"],
          message: `is ${JSON.stringify(memorySize)} but the stored memory (algorithm.memory) holds up to ${JSON.stringify(capacity)} items`,
        });
      }
      for (const [i, entry] of state.validation.entries()) {
        const size = entry.featureShape.reduce((a, b) => a * b, 1);
        if (entry.features.length !== entry.labels.length * size) {
          context.addIssue({
            code: "custom",
            path: ["validation", i, "features", "length"],
            message: `is ${entry.features.length} but ${entry.labels.length} labels of shape [${entry.featureShape}] need ${entry.labels.length * size}`,
          });
        }
      }
    }) as z.ZodType<UpdaterStateData>;
}

/**
 * Checks a state folder's data against the schema of the updater that wrote
 * it (`full` is that updater's options schema); a StateError naming
 * manifest.json and the field otherwise. A format-1 state (relearn 0.1.0)
 * must hold only what 0.1.0 wrote, and reading one warns on `logger` that its
 * manifest has no checksum (see {@link format2OnlyContent}).
 */
export function parseUpdaterState(state: StoredState, full: UpdaterOptionsSchema | undefined, logger: Logger = silentLogger): UpdaterStateData {
  const manifest = `${state.dir}/${MANIFEST_FILE}`;
  const parsed = updaterStateSchema(full).safeParse(state.data);
  if (!parsed.success) {
    throw new StateError(`${manifest} is not a valid ${state.manifest.kind} state: ${describeZodIssue(parsed.error, ["data"])}`);
  }
  if (state.manifest.formatVersion === 1) {
    const newer = format2OnlyContent(parsed.data);
    if (newer !== undefined) {
      throw new StateError(
        `${manifest} says formatVersion 1 (relearn 0.1.0, no manifest checksum) but holds ${newer}, which only format 2 ` +
          `writes: the manifest was edited (claiming format 1 drops its checksum). Restore the state folder from a backup`,
      );
    }
    logger.warn(
      `${manifest} is state format 1 (relearn 0.1.0): its manifest carries no checksum of its own, so an edit to it cannot be ` +
        `detected; the next update writes the state as format 2, with one`,
    );
  }
  return parsed.data;
}

/**
 * The first content of `data` that relearn 0.1.0 (format 1) never wrote, described with its field path, or
 * undefined. A format-1 manifest has no checksum, so its honesty can only be judged by what it holds: 0.1.0 stored
 * no data settings (`data.data`) and no task ids (memory snapshot version 1; Joint without `tasks`/`taskIds`).
 */
export function format2OnlyContent(data: UpdaterStateData): string | undefined {
  if (data.data !== undefined) return `field "data.data" (the data settings)`;
  if (data.config !== undefined) return `field "data.config" (the recorded config)`;
  if (data.queueJob !== undefined) return `field "data.queueJob" (the queue job that wrote it)`;
  const algorithm = data.algorithm;
  const memory = (algorithm["memory"] as { meta?: Record<string, unknown> } | undefined)?.meta;
  if (memory !== undefined && memory["version"] !== 1) return `field "data.algorithm.memory.meta.version" = ${JSON.stringify(memory["version"])} (0.1.0 wrote 1)`;
  if (memory !== undefined && "taskIds" in memory) return `field "data.algorithm.memory.meta.taskIds"`;
  for (const key of ["taskIds", "tasks"]) if (key in algorithm) return `field "data.algorithm.${key}"`;
  return undefined;
}
