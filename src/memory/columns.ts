/**
 * Typed column storage behind the replay buffer: one row per slot in `x`
 * (features), `y` (labels), `t` (task: an index into the buffer's task ids)
 * and any number of named metadata columns (e.g. the expert's logits). The slot policy decides WHERE a row goes; this file only
 * keeps rows aligned across columns, so a metadata row always travels with its
 * item. Rows are allocated lazily (doubling up to the capacity) so a large
 * capacity costs nothing until it is filled.
 */
import { MemoryError } from "../errors.js";
import { featureSize } from "../data/dataset.js";

/** The two element types a column can hold. */
export type NumericArray = Float32Array | Int32Array;

/** Element type of a column, as written in snapshots. */
export type ColumnDtype = "float32" | "int32";

/** Dtype and per-row shape of one metadata column, fixed by the first insert. */
export interface ColumnSpec {
  readonly dtype: ColumnDtype;
  readonly rowShape: readonly number[];
}

/** Metadata columns by key. */
export type MetadataSchema = Readonly<Record<string, ColumnSpec>>;

/** Metadata offered with a dataset: `values` holds one row of `rowShape` per dataset row. */
export interface MetadataRows {
  readonly values: NumericArray;
  readonly rowShape: readonly number[];
}

/** Rows copied out of the store, contiguous and in the order asked for. */
export interface GatheredRows {
  features: Float32Array;
  labels: Int32Array;
  /** Task index of each row (see ReplayBuffer.taskIds). */
  tasks: Int32Array;
  metadata: Record<string, NumericArray>;
}

/** Snapshot name of a metadata column; prefixed so a key can never collide with `x` or `y`. */
export function metadataColumnName(key: string): string {
  return `metadata.${key}`;
}

const KEY_PATTERN = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** Metadata keys become snapshot column (and file) names, so they are restricted to a safe alphabet. */
export function checkMetadataKey(key: string): void {
  if (!KEY_PATTERN.test(key)) {
    throw new MemoryError(
      `metadata key ${JSON.stringify(key)} is not allowed: use letters, digits, "_" or "-", starting with a letter or "_"`,
    );
  }
}

/** "float32" for a Float32Array, "int32" for an Int32Array, otherwise undefined. */
export function dtypeOf(values: unknown): ColumnDtype | undefined {
  if (values instanceof Float32Array) return "float32";
  if (values instanceof Int32Array) return "int32";
  return undefined;
}

function allocate(dtype: ColumnDtype, size: number): NumericArray {
  return dtype === "float32" ? new Float32Array(size) : new Int32Array(size);
}

function shapeText(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((dim, i) => dim === b[i]);
}

/** Checks that a shape is a list of positive integers (possibly empty: one value per row). */
export function checkRowShape(shape: unknown, what: string): readonly number[] {
  if (!Array.isArray(shape) || !shape.every((dim) => Number.isInteger(dim) && dim > 0)) {
    throw new MemoryError(`${what}: row shape must be a list of positive integers, got ${JSON.stringify(shape)}`);
  }
  return Object.freeze([...(shape as number[])]);
}

/**
 * Checks metadata offered with `rows` dataset rows (key names, typed-array
 * types, value counts) and returns its schema. Nothing is copied.
 */
export function describeMetadata(metadata: Readonly<Record<string, MetadataRows>>, rows: number): MetadataSchema {
  const schema: Record<string, ColumnSpec> = {};
  for (const [key, entry] of Object.entries(metadata)) {
    checkMetadataKey(key);
    const dtype = dtypeOf(entry?.values);
    if (dtype === undefined) {
      throw new MemoryError(`metadata "${key}": values must be a Float32Array or an Int32Array`);
    }
    const rowShape = checkRowShape(entry.rowShape, `metadata "${key}"`);
    const expected = rows * featureSize(rowShape);
    if (entry.values.length !== expected) {
      throw new MemoryError(
        `metadata "${key}": ${rows} dataset rows with row shape ${shapeText(rowShape)} need ` +
          `${expected} values, got ${entry.values.length}`,
      );
    }
    schema[key] = { dtype, rowShape };
  }
  return schema;
}

/** Throws a MemoryError naming the key and both dtypes/shapes when `actual` differs from `expected`. */
export function assertSameSchema(expected: MetadataSchema, actual: MetadataSchema): void {
  for (const key of Object.keys(expected)) {
    if (!(key in actual)) {
      throw new MemoryError(
        `metadata "${key}" is missing: the buffer's metadata keys are fixed by the first insert ` +
          `(${Object.keys(expected).join(", ")}), got ${Object.keys(actual).join(", ") || "none"}`,
      );
    }
  }
  for (const [key, spec] of Object.entries(actual)) {
    const fixed = expected[key];
    if (fixed === undefined) {
      throw new MemoryError(
        `metadata "${key}" is unknown: the buffer's metadata keys are fixed by the first insert ` +
          `(${Object.keys(expected).join(", ") || "none"})`,
      );
    }
    if (fixed.dtype !== spec.dtype || !sameShape(fixed.rowShape, spec.rowShape)) {
      throw new MemoryError(
        `metadata "${key}" has dtype ${spec.dtype} and row shape ${shapeText(spec.rowShape)}, but the buffer ` +
          `holds dtype ${fixed.dtype} and row shape ${shapeText(fixed.rowShape)} (fixed by the first insert)`,
      );
    }
  }
}

/** Throws a MemoryError when a dataset's feature shape differs from the stored one. */
export function assertSameFeatureShape(expected: readonly number[], actual: readonly number[]): void {
  if (!sameShape(expected, actual)) {
    throw new MemoryError(
      `dataset featureShape ${shapeText(actual)} does not match the buffer's featureShape ${shapeText(expected)} ` +
        `(fixed by the first insert)`,
    );
  }
}

interface MetadataColumn {
  readonly spec: ColumnSpec;
  readonly rowSize: number;
  values: NumericArray;
}

/** Aligned x / y / t / metadata columns for at most `capacity` rows; rows 0..length-1 are filled. */
export class ColumnStore {
  readonly rowSize: number;
  private x: Float32Array;
  private y: Int32Array;
  private t: Int32Array;
  private readonly metadata = new Map<string, MetadataColumn>();
  private allocatedRows = 0;
  private filled = 0;

  constructor(
    readonly capacity: number,
    readonly featureShape: readonly number[],
    readonly schema: MetadataSchema,
  ) {
    this.rowSize = featureSize(featureShape);
    this.x = new Float32Array(0);
    this.y = new Int32Array(0);
    this.t = new Int32Array(0);
    for (const [key, spec] of Object.entries(schema)) {
      this.metadata.set(key, { spec, rowSize: featureSize(spec.rowShape), values: allocate(spec.dtype, 0) });
    }
  }

  /** Number of filled rows (slots 0..length-1). */
  get length(): number {
    return this.filled;
  }

  /**
   * Copies row `row` of the source arrays into `slot`, with task index
   * `task`. A slot equal to the current length appends; a larger one would
   * leave a hole and is refused.
   */
  writeRow(
    slot: number,
    features: Float32Array,
    labels: Int32Array,
    metadata: Readonly<Record<string, MetadataRows>>,
    row: number,
    task = 0,
  ): void {
    if (!Number.isInteger(slot) || slot < 0 || slot > this.filled || slot >= this.capacity) {
      throw new MemoryError(
        `cannot write slot ${slot}: slots must be filled in order (length ${this.filled}, capacity ${this.capacity})`,
      );
    }
    this.reserve(slot + 1);
    const size = this.rowSize;
    this.x.set(features.subarray(row * size, (row + 1) * size), slot * size);
    this.y[slot] = labels[row]!;
    this.t[slot] = task;
    for (const [key, column] of this.metadata) {
      const source = metadata[key]!.values;
      const rowSize = column.rowSize;
      column.values.set(source.subarray(row * rowSize, (row + 1) * rowSize), slot * rowSize);
    }
    if (slot === this.filled) this.filled++;
  }

  /** Copies the rows at `slots` (each in [0, length)) into contiguous arrays, in that order. */
  gather(slots: ArrayLike<number>): GatheredRows {
    const count = slots.length;
    for (let i = 0; i < count; i++) {
      const slot = slots[i]!;
      if (!Number.isInteger(slot) || slot < 0 || slot >= this.filled) {
        throw new MemoryError(`slot ${slot} (position ${i}) is out of range: the buffer holds ${this.filled} items`);
      }
    }
    const size = this.rowSize;
    const features = new Float32Array(count * size);
    const labels = new Int32Array(count);
    const tasks = new Int32Array(count);
    for (let i = 0; i < count; i++) {
      const slot = slots[i]!;
      features.set(this.x.subarray(slot * size, (slot + 1) * size), i * size);
      labels[i] = this.y[slot]!;
      tasks[i] = this.t[slot]!;
    }
    const metadata: Record<string, NumericArray> = {};
    for (const [key, column] of this.metadata) {
      const rowSize = column.rowSize;
      const out = allocate(column.spec.dtype, count * rowSize);
      for (let i = 0; i < count; i++) {
        const slot = slots[i]!;
        out.set(column.values.subarray(slot * rowSize, (slot + 1) * rowSize), i * rowSize);
      }
      metadata[key] = out;
    }
    return { features, labels, tasks, metadata };
  }

  /** Overwrites metadata column `key` for slots 0..length-1 with `values` (slot order, same dtype). */
  replaceMetadataColumn(key: string, values: NumericArray): void {
    const column = this.column(key);
    const dtype = dtypeOf(values);
    if (dtype !== column.spec.dtype) {
      throw new MemoryError(
        `metadata "${key}" holds ${column.spec.dtype} values, got ${dtype ?? "neither a Float32Array nor an Int32Array"}`,
      );
    }
    const expected = this.filled * column.rowSize;
    if (values.length !== expected) {
      throw new MemoryError(
        `metadata "${key}": ${this.filled} stored rows with row shape ${shapeText(column.spec.rowShape)} need ` +
          `${expected} values, got ${values.length}`,
      );
    }
    column.values.set(values, 0);
  }

  /** A view of metadata column `key` for slots 0..length-1; valid until the next write. */
  metadataView(key: string): NumericArray {
    const column = this.column(key);
    return column.values.subarray(0, this.filled * column.rowSize);
  }

  /** A view of the stored features for slots 0..length-1; valid until the next write. */
  featuresView(): Float32Array {
    return this.x.subarray(0, this.filled * this.rowSize);
  }

  /** A view of the stored labels for slots 0..length-1; valid until the next write. */
  labelsView(): Int32Array {
    return this.y.subarray(0, this.filled);
  }

  /** A view of the stored task indices for slots 0..length-1; valid until the next write. */
  tasksView(): Int32Array {
    return this.t.subarray(0, this.filled);
  }

  /** Copies of every column trimmed to length: `x`, `y`, `t` and `metadataColumnName(key)` per key. */
  export(): Record<string, NumericArray> {
    const columns: Record<string, NumericArray> = { x: this.featuresView().slice(), y: this.labelsView().slice(), t: this.tasksView().slice() };
    for (const key of this.metadata.keys()) columns[metadataColumnName(key)] = this.metadataView(key).slice();
    return columns;
  }

  /**
   * Rebuilds a store from exported columns. The caller has checked presence,
   * dtypes and lengths (see ReplayBuffer.fromSnapshot); the arrays are copied.
   */
  static fromColumns(
    capacity: number,
    featureShape: readonly number[],
    schema: MetadataSchema,
    length: number,
    columns: Readonly<Record<string, NumericArray>>,
  ): ColumnStore {
    const store = new ColumnStore(capacity, featureShape, schema);
    store.reserve(length);
    store.x.set(columns.x as Float32Array);
    store.y.set(columns.y as Int32Array);
    store.t.set(columns.t as Int32Array);
    for (const [key, column] of store.metadata) column.values.set(columns[metadataColumnName(key)]!);
    store.filled = length;
    return store;
  }

  private column(key: string): MetadataColumn {
    const column = this.metadata.get(key);
    if (column === undefined) {
      throw new MemoryError(
        `no metadata column "${key}" (the buffer has: ${[...this.metadata.keys()].join(", ") || "none"})`,
      );
    }
    return column;
  }

  /** Grows every column to hold at least `rows` rows, doubling to keep appends amortised O(1). */
  private reserve(rows: number): void {
    if (rows <= this.allocatedRows) return;
    const next = Math.min(this.capacity, Math.max(rows, this.allocatedRows * 2, 16));
    const grow = <T extends NumericArray>(old: T, rowSize: number, dtype: ColumnDtype): T => {
      const bigger = allocate(dtype, next * rowSize) as T;
      bigger.set(old);
      return bigger;
    };
    this.x = grow(this.x, this.rowSize, "float32");
    this.y = grow(this.y, 1, "int32");
    this.t = grow(this.t, 1, "int32");
    for (const column of this.metadata.values()) {
      column.values = grow(column.values, column.rowSize, column.spec.dtype);
    }
    this.allocatedRows = next;
  }
}
