/**
 * The replay memory: a slot policy (where does an offered item go?) over
 * typed columns (x, y, the item's task and named metadata such as the
 * expert's logits). The
 * buffer owns the seeded Random that the policy draws from, and persists its
 * state, so a buffer restored from a snapshot continues the very same random
 * stream as the one that was saved.
 */
import { DataError, MemoryError, OptionsError } from "../errors.js";
import { Random } from "../random.js";
import { featureSize, type Dataset } from "../data/dataset.js";
import { DEFAULT_TASK_ID, withTaskId, type RowTasks } from "../task_id.js";
import {
  ColumnStore,
  assertSameFeatureShape,
  assertSameSchema,
  describeMetadata,
  metadataColumnName,
  type GatheredRows,
  type MetadataRows,
  type MetadataSchema,
  type NumericArray,
} from "./columns.js";
import {
  REPLAY_BUFFER_FORMAT,
  REPLAY_BUFFER_FORMAT_VERSION,
  validateSnapshot,
  type LegacySnapshotOptions,
  type ReplayBufferSnapshot,
} from "./buffer_snapshot.js";
import { ClassBalancedPolicy } from "./class_balanced_policy.js";
import { ReservoirPolicy } from "./reservoir_policy.js";
import { SLOT_POLICY_NAMES, type SlotPolicy, type SlotPolicyName } from "./slot_policy.js";

/** Options of `new ReplayBuffer(...)`. */
export interface ReplayBufferOptions {
  /** Maximum number of stored items; 0 stores nothing (items are still counted in `seen`). */
  capacity: number;
  /** Slot policy; default "reservoir". */
  policy?: SlotPolicyName;
  /** Seed of the buffer's Random; default 0. */
  seed?: number;
}

const OPTION_KEYS = new Set(["capacity", "policy", "seed"]);

function checkOptions(options: ReplayBufferOptions): Required<ReplayBufferOptions> {
  if (typeof options !== "object" || options === null) throw new OptionsError("ReplayBuffer: options must be an object");
  for (const key of Object.keys(options)) {
    if (!OPTION_KEYS.has(key)) throw new OptionsError(`ReplayBuffer: unknown option "${key}"`);
  }
  const { capacity, policy = "reservoir", seed = 0 } = options;
  if (!Number.isSafeInteger(capacity) || capacity < 0) {
    throw new OptionsError(`ReplayBuffer: capacity must be a non-negative integer, got ${capacity}`);
  }
  if (!SLOT_POLICY_NAMES.includes(policy)) {
    throw new OptionsError(`ReplayBuffer: policy must be one of ${SLOT_POLICY_NAMES.join(", ")}, got ${JSON.stringify(policy)}`);
  }
  if (!Number.isInteger(seed)) throw new OptionsError(`ReplayBuffer: seed must be an integer, got ${seed}`);
  return { capacity, policy, seed };
}

/** Labels must stay below this for balanceKey to keep (task, class) pairs apart. */
const TASK_STRIDE = 2 ** 20;

/**
 * What the slot policy sees as an item's class: its class within its task.
 * Task index 0 (every item of a one-task memory) gives the label itself, so a
 * one-task memory balances exactly as before items recorded a task; with
 * tasks whose labels restart at 0 (task-incremental data), each (task, class)
 * pair is a class of its own, so GDumb's balanced memory keeps every task's
 * classes instead of refusing a later task's items as over-represented.
 */
function balanceKey(label: number, task: number): number {
  return task * TASK_STRIDE + label;
}

function createPolicy(name: SlotPolicyName, capacity: number): SlotPolicy {
  return name === "reservoir" ? new ReservoirPolicy(capacity) : new ClassBalancedPolicy(capacity);
}

/** Checks a Dataset's own invariants before anything of it is stored. */
function checkDataset(dataset: Dataset): void {
  const { featureShape, numClasses, length, features, labels } = dataset;
  if (!Array.isArray(featureShape) || !featureShape.every((dim) => Number.isInteger(dim) && dim > 0)) {
    throw new DataError(`ReplayBuffer.add: featureShape must be a list of positive integers, got ${JSON.stringify(featureShape)}`);
  }
  if (!Number.isInteger(numClasses) || numClasses <= 0 || numClasses > TASK_STRIDE) {
    throw new DataError(`ReplayBuffer.add: numClasses must be a positive integer up to ${TASK_STRIDE}, got ${numClasses}`);
  }
  if (!(features instanceof Float32Array) || !(labels instanceof Int32Array)) {
    throw new DataError("ReplayBuffer.add: features must be a Float32Array and labels an Int32Array");
  }
  if (labels.length !== length || features.length !== length * featureSize(featureShape)) {
    throw new DataError(
      `ReplayBuffer.add: dataset of length ${length} with featureShape [${featureShape.join(", ")}] has ` +
        `${labels.length} labels and ${features.length} feature values`,
    );
  }
  for (let i = 0; i < length; i++) {
    const label = labels[i]!;
    if (label < 0 || label >= numClasses) {
      throw new DataError(`ReplayBuffer.add: row ${i} has label ${label}, outside [0, ${numClasses})`);
    }
  }
}

/** A fixed-capacity replay memory with a pluggable slot policy and metadata columns. */
export class ReplayBuffer {
  readonly capacity: number;
  readonly policy: SlotPolicyName;
  private slotPolicy: SlotPolicy;
  private random: Random;
  private store: ColumnStore | null = null;
  private offered = 0;
  private classes = 0;
  /** Task ids in first-seen order; the `t` column indexes into it. */
  private taskIdList: string[] = [];

  constructor(options: ReplayBufferOptions) {
    const { capacity, policy, seed } = checkOptions(options);
    this.capacity = capacity;
    this.policy = policy;
    this.slotPolicy = createPolicy(policy, capacity);
    this.random = Random.fromSeed(seed);
  }

  /** Items stored, in slots 0..length-1. */
  get length(): number {
    return this.store?.length ?? 0;
  }

  /** Items ever offered through `add`, stored or not. */
  get seen(): number {
    return this.offered;
  }

  /** Largest numClasses of any inserted dataset (0 before the first insert). */
  get numClasses(): number {
    return this.classes;
  }

  /** Shape of one stored sample; null until the first insert fixes it. */
  get featureShape(): readonly number[] | null {
    return this.store?.featureShape ?? null;
  }

  /** Task ids of the items ever added, in first-seen order (an item's task index points into this list). */
  get taskIds(): readonly string[] {
    return this.taskIdList;
  }

  /**
   * The task of every stored item, slot order: `rows` is a view valid until
   * the next `add`, `taskIds` a copy.
   */
  tasks(): RowTasks {
    return { taskIds: [...this.taskIdList], rows: this.columns().tasksView() };
  }

  /** Metadata keys with their dtypes and row shapes, fixed by the first insert. */
  get metadataSchema(): MetadataSchema {
    return this.store?.schema ?? {};
  }

  /**
   * Offers every row of `dataset`, in order, to the slot policy, as items of
   * task `taskId` (a task-incremental model replays each item through its
   * task's head). `metadata` holds one row per dataset row for each key. The
   * first insert fixes the feature shape and the metadata keys, dtypes and
   * row shapes; a later mismatch is a MemoryError. Everything is checked
   * before anything is stored.
   */
  add(dataset: Dataset, metadata: Readonly<Record<string, MetadataRows>> = {}, taskId: string = DEFAULT_TASK_ID): void {
    checkDataset(dataset);
    if (typeof taskId !== "string") throw new DataError(`ReplayBuffer.add: taskId must be a string, got ${JSON.stringify(taskId)}`);
    const schema = describeMetadata(metadata, dataset.length);
    if (this.store === null) {
      this.store = new ColumnStore(this.capacity, Object.freeze([...dataset.featureShape]), schema);
    } else {
      assertSameFeatureShape(this.store.featureShape, dataset.featureShape);
      assertSameSchema(this.store.schema, schema);
    }
    const store = this.store;
    this.classes = Math.max(this.classes, dataset.numClasses);
    const { taskIds, index: task } = withTaskId(this.taskIdList, taskId);
    this.taskIdList = [...taskIds];
    const { features, labels } = dataset;
    for (let row = 0; row < dataset.length; row++) {
      const slot = this.slotPolicy.chooseSlot(balanceKey(labels[row]!, task), { seen: this.offered, length: store.length }, this.random);
      this.offered++;
      if (slot >= 0) store.writeRow(slot, features, labels, metadata, row, task);
    }
  }

  /** Copies of the items at `slots` (each in [0, length)), contiguous and in that order. */
  get(slots: ArrayLike<number>): GatheredRows {
    return this.columns().gather(slots);
  }

  /** Replaces metadata column `key` for all stored items (slot order), e.g. refreshed logits. */
  setMetadataColumn(key: string, values: NumericArray): void {
    this.columns().replaceMetadataColumn(key, values);
  }

  /**
   * Widens the 1-D float32 metadata column `key` (e.g. stored logits) from w
   * to `width` values per row: each stored row keeps its w values bit for
   * bit, followed by `width - w` copies of `fill(row)` (`row` is a copy of
   * the stored w values). Later inserts must then bring rows of `width`. A
   * MemoryError for an unknown key, an int32 or multi-dimensional column, or
   * a narrower width; the same width is a no-op. Before the first insert there
   * is nothing to widen (the first insert fixes the width).
   */
  widenMetadataColumn(key: string, width: number, fill: (row: Float32Array) => number): void {
    const store = this.store;
    if (store === null) return;
    const spec = store.schema[key];
    if (spec === undefined) throw new MemoryError(`no metadata column "${key}" to widen (the buffer has: ${Object.keys(store.schema).join(", ") || "none"})`);
    const old = spec.rowShape[0]!;
    if (spec.dtype !== "float32" || spec.rowShape.length !== 1) {
      throw new MemoryError(`metadata "${key}" (dtype ${spec.dtype}, row shape [${spec.rowShape.join(", ")}]) cannot be widened: only 1-D float32 columns can`);
    }
    if (!Number.isInteger(width) || width < old) throw new MemoryError(`metadata "${key}" holds ${old} values per row and cannot be narrowed to ${width}`);
    if (width === old) return;
    const columns = store.export();
    const values = columns[metadataColumnName(key)] as Float32Array;
    const widened = new Float32Array(store.length * width);
    for (let slot = 0; slot < store.length; slot++) {
      const row = values.slice(slot * old, (slot + 1) * old);
      widened.set(row, slot * width);
      widened.fill(fill(row), slot * width + old, (slot + 1) * width);
    }
    columns[metadataColumnName(key)] = widened;
    const schema: MetadataSchema = { ...store.schema, [key]: { dtype: "float32", rowShape: Object.freeze([width]) } };
    this.store = ColumnStore.fromColumns(this.capacity, store.featureShape, schema, store.length, columns);
  }

  /** Metadata column `key` for slots 0..length-1: a view, valid until the next `add`. */
  metadataColumn(key: string): NumericArray {
    return this.columns().metadataView(key);
  }

  /**
   * The stored items as a Dataset in slot order. Its arrays are views of the
   * buffer (no copy), valid until the next `add`. Before the first insert it
   * is empty, with featureShape [] and numClasses 0.
   */
  asDataset(): Dataset {
    const store = this.columns();
    return {
      features: store.featuresView(),
      labels: store.labelsView(),
      featureShape: store.featureShape,
      numClasses: this.classes,
      length: store.length,
    };
  }

  /** Number of stored items of each class 0..numClasses-1. */
  classHistogram(): number[] {
    const histogram = new Array<number>(this.classes).fill(0);
    for (const label of this.columns().labelsView()) histogram[label]!++;
    return histogram;
  }

  /** A copy of the state of the buffer's Random. */
  randomState(): number[] {
    return this.random.state();
  }

  /** The whole buffer as JSON-serialisable meta plus copied, length-trimmed columns. */
  toSnapshot(): ReplayBufferSnapshot {
    const store = this.columns();
    const metadata: ReplayBufferSnapshot["meta"]["metadata"] = {};
    for (const [key, spec] of Object.entries(store.schema)) {
      metadata[key] = { dtype: spec.dtype, rowShape: [...spec.rowShape] };
    }
    return {
      meta: {
        format: REPLAY_BUFFER_FORMAT,
        version: REPLAY_BUFFER_FORMAT_VERSION,
        capacity: this.capacity,
        policy: this.policy,
        seen: this.offered,
        length: store.length,
        featureShape: this.store === null ? null : [...this.store.featureShape],
        numClasses: this.classes,
        taskIds: [...this.taskIdList],
        metadata,
        randomState: this.random.state(),
        policyState: this.slotPolicy.exportState(),
      },
      columns: store.export(),
    };
  }

  /**
   * Rebuilds a buffer from `toSnapshot` output (e.g. read back from a state
   * folder), checking everything; any inconsistency is a MemoryError. The
   * restored buffer continues the original's random stream. `meta` is typed
   * `unknown` because it usually comes straight from parsed JSON. A version-1
   * snapshot (no task ids) needs `options.legacyTaskId` once it holds items.
   */
  static fromSnapshot(
    snapshot: { meta: unknown; columns: Readonly<Record<string, NumericArray>> },
    options: LegacySnapshotOptions = {},
  ): ReplayBuffer {
    const { meta, columns } = validateSnapshot(snapshot, options);
    const buffer = new ReplayBuffer({ capacity: meta.capacity, policy: meta.policy });
    buffer.random = Random.fromState(meta.randomState);
    buffer.offered = meta.seen;
    buffer.classes = meta.numClasses;
    buffer.taskIdList = [...meta.taskIds];
    if (meta.featureShape !== null) {
      const schema: MetadataSchema = Object.fromEntries(
        Object.entries(meta.metadata).map(([key, spec]) => [key, { dtype: spec.dtype, rowShape: Object.freeze([...spec.rowShape]) }]),
      );
      buffer.store = ColumnStore.fromColumns(meta.capacity, Object.freeze([...meta.featureShape]), schema, meta.length, columns);
    }
    const tasks = buffer.columns().tasksView();
    const keys = Array.from(buffer.columns().labelsView(), (label, slot) => balanceKey(label, tasks[slot]!));
    try {
      buffer.slotPolicy =
        meta.policy === "reservoir"
          ? ReservoirPolicy.restore(meta.capacity, meta.policyState)
          : ClassBalancedPolicy.restore(meta.capacity, keys, meta.policyState);
    } catch (error) {
      if (error instanceof MemoryError) throw new MemoryError(`replay buffer snapshot: meta.policyState: ${error.message}`);
      throw error;
    }
    return buffer;
  }

  /** The column store, or an empty stand-in before the first insert. */
  private columns(): ColumnStore {
    return this.store ?? new ColumnStore(this.capacity, [], {});
  }
}
