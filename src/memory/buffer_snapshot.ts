/**
 * The persisted form of a ReplayBuffer: a JSON-serialisable `meta` object plus
 * typed columns, so the state folder can write the meta as JSON and each
 * column as raw bytes. Everything read back is checked here, because a
 * snapshot comes from disk and may be truncated, edited or from another
 * version: any inconsistency is a MemoryError naming the field at fault,
 * never a silently different buffer.
 */
import * as z from "zod";
import { MemoryError } from "../errors.js";
import { featureSize } from "../data/dataset.js";
import {
  checkMetadataKey,
  dtypeOf,
  metadataColumnName,
  type ColumnDtype,
  type NumericArray,
} from "./columns.js";
import { SLOT_POLICY_NAMES, type SlotPolicyName, type SlotPolicyState } from "./slot_policy.js";

/** Value of `meta.format` in every replay buffer snapshot. */
export const REPLAY_BUFFER_FORMAT = "relearn-replay-buffer";
/**
 * Version of the snapshot layout; bumped on any incompatible change.
 * Version 2 added each item's task (meta.taskIds and the column `t`);
 * version 1 snapshots are still read (see validateSnapshot).
 */
export const REPLAY_BUFFER_FORMAT_VERSION = 2;

/** JSON-serialisable description of a buffer; see ReplayBuffer.toSnapshot. */
export interface ReplayBufferMeta {
  format: typeof REPLAY_BUFFER_FORMAT;
  version: typeof REPLAY_BUFFER_FORMAT_VERSION;
  capacity: number;
  policy: SlotPolicyName;
  /** Items ever offered. */
  seen: number;
  /** Items stored (slots 0..length-1). */
  length: number;
  /** null until the first insert fixes it. */
  featureShape: number[] | null;
  /** Largest numClasses of any inserted dataset (0 before the first insert). */
  numClasses: number;
  /** Task ids of the stored items, in first-seen order; column `t` holds an index into it per item. */
  taskIds: string[];
  /** Metadata columns by key; the column itself is `columns[metadataColumnName(key)]`. */
  metadata: Record<string, { dtype: ColumnDtype; rowShape: number[] }>;
  /** State of the buffer's Random, so a restored buffer continues the same stream. */
  randomState: number[];
  /** What the slot policy needs beyond the stored labels. */
  policyState: SlotPolicyState;
}

/** A buffer as plain data: `columns` holds `x`, `y`, `t` and one `metadata.<key>` column per metadata key. */
export interface ReplayBufferSnapshot {
  meta: ReplayBufferMeta;
  columns: Record<string, NumericArray>;
}

const int32 = z.int().min(-(2 ** 31)).max(2 ** 31 - 1);

const metaSchema = z.strictObject({
  format: z.literal(REPLAY_BUFFER_FORMAT),
  version: z.union([z.literal(1), z.literal(REPLAY_BUFFER_FORMAT_VERSION)]),
  capacity: z.int().nonnegative(),
  policy: z.enum(SLOT_POLICY_NAMES as [SlotPolicyName, ...SlotPolicyName[]]),
  seen: z.int().nonnegative(),
  length: z.int().nonnegative(),
  featureShape: z.array(z.int().positive()).nullable(),
  numClasses: z.int().nonnegative(),
  taskIds: z.array(z.string()).optional(),
  metadata: z.record(
    z.string(),
    z.strictObject({ dtype: z.enum(["float32", "int32"]), rowShape: z.array(z.int().positive()) }),
  ),
  randomState: z.array(int32).length(4),
  policyState: z.record(z.string(), z.unknown()),
});

function fail(message: string): never {
  throw new MemoryError(`replay buffer snapshot: ${message}`);
}

/** How validateSnapshot reads a version-1 snapshot, which records no task ids. */
export interface LegacySnapshotOptions {
  /**
   * The task every stored item of a version-1 snapshot belongs to (a
   * single-head model's one task). Without it, such a snapshot holding items
   * is a MemoryError: guessing would replay items through the wrong head.
   */
  legacyTaskId?: string | undefined;
}

/**
 * Checks a snapshot's meta and columns against each other and returns it
 * typed, in the current version: a version-1 snapshot comes back with every
 * item in task `options.legacyTaskId` (see LegacySnapshotOptions).
 */
export function validateSnapshot(snapshot: unknown, options: LegacySnapshotOptions = {}): ReplayBufferSnapshot {
  if (typeof snapshot !== "object" || snapshot === null) fail("expected an object with meta and columns");
  const { meta: rawMeta, columns: rawColumns } = snapshot as { meta?: unknown; columns?: unknown };
  const parsed = metaSchema.safeParse(rawMeta);
  if (!parsed.success) {
    const details = parsed.error.issues.map((issue) => {
      const path = ["meta", ...issue.path.map(String)].join(".");
      return `${path}: ${issue.message}`;
    });
    fail(details.join("; "));
  }
  const { meta, columns } = upgradeLegacy(parsed.data, rawColumns, options);

  if (meta.length > meta.capacity) fail(`meta.length ${meta.length} exceeds meta.capacity ${meta.capacity}`);
  // Both policies append until full and never shrink, so length is determined by seen.
  const expectedLength = Math.min(meta.seen, meta.capacity);
  if (meta.length !== expectedLength) {
    fail(
      `meta.length ${meta.length} is inconsistent with meta.seen ${meta.seen} and meta.capacity ${meta.capacity} ` +
        `(expected ${expectedLength})`,
    );
  }
  if (meta.featureShape === null) {
    if (meta.seen !== 0) fail(`meta.featureShape is null (no insert yet) but meta.seen is ${meta.seen}`);
    if (meta.numClasses !== 0) fail(`meta.featureShape is null (no insert yet) but meta.numClasses is ${meta.numClasses}`);
    if (Object.keys(meta.metadata).length > 0) fail("meta.featureShape is null (no insert yet) but meta.metadata is not empty");
  } else if (meta.numClasses < 1) {
    fail(`meta.numClasses must be at least 1 once a dataset was inserted, got ${meta.numClasses}`);
  }
  if (meta.randomState.every((word) => word === 0)) fail("meta.randomState is all zeros (a degenerate generator)");
  for (const key of Object.keys(meta.metadata)) {
    try {
      checkMetadataKey(key);
    } catch (error) {
      fail(`meta.metadata: ${(error as Error).message}`);
    }
  }

  if (typeof columns !== "object" || columns === null) fail("columns must be an object of typed arrays");
  const rowSize = featureSize(meta.featureShape ?? []);
  const expected = new Map<string, { dtype: ColumnDtype; size: number }>([
    ["x", { dtype: "float32", size: meta.featureShape === null ? 0 : meta.length * rowSize }],
    ["y", { dtype: "int32", size: meta.length }],
    ["t", { dtype: "int32", size: meta.length }],
  ]);
  for (const [key, spec] of Object.entries(meta.metadata)) {
    expected.set(metadataColumnName(key), { dtype: spec.dtype, size: meta.length * featureSize(spec.rowShape) });
  }
  const given = columns as Record<string, unknown>;
  for (const name of Object.keys(given)) {
    if (!expected.has(name)) fail(`column "${name}" is not described by meta (expected: ${[...expected.keys()].join(", ")})`);
  }
  for (const [name, { dtype, size }] of expected) {
    if (!(name in given)) fail(`column "${name}" is missing`);
    const actualDtype = dtypeOf(given[name]);
    if (actualDtype !== dtype) {
      fail(`column "${name}" must be ${dtype === "float32" ? "a Float32Array" : "an Int32Array"}, got ${actualDtype ?? typeof given[name]}`);
    }
    const length = (given[name] as NumericArray).length;
    if (length !== size) fail(`column "${name}" has ${length} values, expected ${size} for ${meta.length} stored items`);
  }
  const labels = given.y as Int32Array;
  for (let slot = 0; slot < labels.length; slot++) {
    const label = labels[slot]!;
    if (label < 0 || label >= meta.numClasses) {
      fail(`column "y" slot ${slot} holds label ${label}, outside [0, ${meta.numClasses})`);
    }
  }
  if (new Set(meta.taskIds).size !== meta.taskIds.length) fail(`meta.taskIds has duplicates: ${JSON.stringify(meta.taskIds)}`);
  const tasks = given.t as Int32Array;
  for (let slot = 0; slot < tasks.length; slot++) {
    const task = tasks[slot]!;
    if (task < 0 || task >= meta.taskIds.length) {
      fail(`column "t" slot ${slot} holds task index ${task}, outside [0, ${meta.taskIds.length}) (meta.taskIds)`);
    }
  }
  return { meta, columns: given as Record<string, NumericArray> };
}

/**
 * A parsed meta (and its columns) in the current version. Version 1 had no
 * task ids: its items all go to `options.legacyTaskId`, and without one a
 * version-1 snapshot holding items is refused.
 */
function upgradeLegacy(
  parsed: z.infer<typeof metaSchema>,
  columns: unknown,
  options: LegacySnapshotOptions,
): { meta: ReplayBufferMeta; columns: unknown } {
  if (parsed.version === REPLAY_BUFFER_FORMAT_VERSION) {
    if (parsed.taskIds === undefined) fail("meta.taskIds is missing");
    return { meta: parsed as ReplayBufferMeta, columns };
  }
  if (parsed.taskIds !== undefined) fail("meta.taskIds is not part of a version 1 snapshot");
  if (typeof columns !== "object" || columns === null) fail("columns must be an object of typed arrays");
  if ("t" in columns) fail(`column "t" is not part of a version 1 snapshot`);
  const stored = parsed.length > 0;
  if (stored && options.legacyTaskId === undefined) {
    fail(
      `version 1 snapshot: its ${parsed.length} items record no task id, so a multi-head (task-incremental) model ` +
        `cannot tell which head each belongs to; start from a fresh state or keep the relearn version that wrote it`,
    );
  }
  const taskIds = stored ? [options.legacyTaskId!] : [];
  return {
    meta: { ...parsed, version: REPLAY_BUFFER_FORMAT_VERSION, taskIds } as ReplayBufferMeta,
    columns: { ...columns, t: new Int32Array(parsed.length) },
  };
}
