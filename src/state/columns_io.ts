/**
 * Typed-array columns and JSON files inside a state folder.
 *
 * A column is raw little-endian bytes in `<folder>/<name>.bin` (no header:
 * the dtype and length live in the caller's JSON, as the descriptor returned
 * here, whose `file` is relative to `folder`), so it can be read back with one
 * allocation and no parsing, in Node or in a browser. `name` may contain "/"
 * to place the file in a subfolder. Files go through the state's StateWriter
 * and StateReader (store.ts), whatever the store.
 */
import * as z from "zod";
import { StateError } from "../errors.js";
import { stableStringify } from "./format.js";
import type { StateReader, StateWriter } from "./store.js";

/** The element types a column can hold. */
export type ColumnDtype = "float32" | "float64" | "int32" | "uint8";

/** The typed array of each dtype. */
export interface ColumnArrays {
  float32: Float32Array;
  float64: Float64Array;
  int32: Int32Array;
  uint8: Uint8Array;
}

/** Any column's array. */
export type ColumnArray = ColumnArrays[ColumnDtype];

/** Where and what a column is: store it in the state's JSON, pass it to {@link readColumn}. */
export interface ColumnDescriptor<Dtype extends ColumnDtype = ColumnDtype> {
  /** Path of the file relative to the state folder, "/"-separated. */
  file: string;
  dtype: Dtype;
  /** Number of elements. */
  length: number;
}

/** Schema of a {@link ColumnDescriptor}, for the caller's own `data` schema. */
export const columnDescriptorSchema = z.strictObject({
  file: z.string().min(1),
  dtype: z.enum(["float32", "float64", "int32", "uint8"]),
  length: z.number().int().nonnegative(),
});

const BYTES_PER_ELEMENT: Record<ColumnDtype, number> = { float32: 4, float64: 8, int32: 4, uint8: 1 };
const LITTLE_ENDIAN_HOST = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/** Writes `array` to `<folder>/<name>.bin` of the state being written, as little-endian bytes; returns its descriptor. */
export async function writeColumn<Array extends ColumnArray>(
  files: StateWriter,
  folder: string,
  name: string,
  array: Array,
): Promise<ColumnDescriptor<DtypeOf<Array>>> {
  const file = `${checkName(name)}.bin`;
  const dtype = dtypeOf(array) as DtypeOf<Array>;
  const bytes = new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
  await files.writeFile(inside(folder, file), toLittleEndian(bytes, BYTES_PER_ELEMENT[dtype]));
  return { file, dtype, length: array.length };
}

/**
 * Reads a column. Throws a StateError naming the file when it is missing, its
 * size does not match the descriptor, or the descriptor does not match
 * `expected` (the dtype, and length if given, the caller needs).
 */
export async function readColumn<Dtype extends ColumnDtype>(
  files: StateReader,
  folder: string,
  descriptor: ColumnDescriptor,
  expected: { dtype: Dtype; length?: number },
): Promise<ColumnArrays[Dtype]>;
export async function readColumn(files: StateReader, folder: string, descriptor: ColumnDescriptor): Promise<ColumnArray>;
export async function readColumn(
  files: StateReader,
  folder: string,
  descriptor: ColumnDescriptor,
  expected?: { dtype: ColumnDtype; length?: number },
): Promise<ColumnArray> {
  const checked = columnDescriptorSchema.safeParse(descriptor);
  if (!checked.success) {
    throw new StateError(`invalid column descriptor ${JSON.stringify(descriptor)}: ${checked.error.issues[0]?.message}`);
  }
  const { file, dtype, length } = checked.data;
  const relative = inside(folder, checkPath(file));
  const path = `${files.location}/${relative}`;
  if (expected !== undefined && dtype !== expected.dtype) {
    throw new StateError(`${path} holds ${dtype} values, but ${expected.dtype} values were expected`);
  }
  if (expected?.length !== undefined && length !== expected.length) {
    throw new StateError(`${path} holds ${length} values, but ${expected.length} were expected`);
  }
  const bytes = await files.readFile(relative);
  const expectedBytes = length * BYTES_PER_ELEMENT[dtype];
  if (bytes.byteLength !== expectedBytes) {
    throw new StateError(
      `${path} has ${bytes.byteLength} bytes, but ${length} ${dtype} values take ${expectedBytes}: the file was modified or truncated`,
    );
  }
  // A fresh array: readFile's Buffer may sit at an offset that is not a multiple of the element size.
  const out = allocate(dtype, length);
  new Uint8Array(out.buffer).set(toLittleEndian(bytes, BYTES_PER_ELEMENT[dtype]));
  return out;
}

/** Writes `value` to `<name>.json` of the state being written, with sorted keys; returns the file's relative path. */
export async function writeJson(files: StateWriter, name: string, value: unknown): Promise<string> {
  const file = `${checkName(name)}.json`;
  await files.writeFile(file, stableStringify(value, file));
  return file;
}

/** Reads `<name>.json` of a state; StateError naming the file when it is missing or not JSON. */
export async function readJson(files: StateReader, name: string): Promise<unknown> {
  const file = `${checkName(name)}.json`;
  const path = `${files.location}/${file}`;
  const text = new TextDecoder("utf-8", { fatal: false }).decode(await files.readFile(file));
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new StateError(`${path} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
}

type DtypeOf<Array extends ColumnArray> = Array extends Float32Array
  ? "float32"
  : Array extends Float64Array
    ? "float64"
    : Array extends Int32Array
      ? "int32"
      : "uint8";

function dtypeOf(array: ColumnArray): ColumnDtype {
  if (array instanceof Float32Array) return "float32";
  if (array instanceof Float64Array) return "float64";
  if (array instanceof Int32Array) return "int32";
  if (array instanceof Uint8Array) return "uint8";
  throw new StateError(`a column must be a Float32Array, Float64Array, Int32Array or Uint8Array, got ${describe(array)}`);
}

function allocate(dtype: ColumnDtype, length: number): ColumnArray {
  switch (dtype) {
    case "float32":
      return new Float32Array(length);
    case "float64":
      return new Float64Array(length);
    case "int32":
      return new Int32Array(length);
    case "uint8":
      return new Uint8Array(length);
  }
}

/** Host bytes <-> little-endian bytes (the same operation both ways); a no-op view on little-endian hosts. */
function toLittleEndian(bytes: Uint8Array, elementSize: number): Uint8Array {
  if (LITTLE_ENDIAN_HOST || elementSize === 1) return bytes;
  const swapped = new Uint8Array(bytes.byteLength);
  for (let i = 0; i < bytes.byteLength; i += elementSize) {
    for (let j = 0; j < elementSize; j++) swapped[i + j] = bytes[i + elementSize - 1 - j]!;
  }
  return swapped;
}

/** Column and JSON names: "/"-separated segments of letters, digits, "_", "-", "."; none starting with ".". */
function checkName(name: string): string {
  if (!/^[A-Za-z0-9_-][A-Za-z0-9_.-]*(\/[A-Za-z0-9_-][A-Za-z0-9_.-]*)*$/.test(name)) {
    throw new StateError(
      `invalid state file name ${JSON.stringify(name)}: use "/"-separated letters, digits, "_", "-" and "." (no segment starting with ".")`,
    );
  }
  return name;
}

/** A descriptor's file path comes from a JSON file: it must stay inside the folder. */
function checkPath(file: string): string {
  if (!file.endsWith(".bin")) throw new StateError(`invalid column file ${JSON.stringify(file)}: it must end in .bin`);
  checkName(file.slice(0, -".bin".length));
  return file;
}

/** `file` inside the state's subfolder `folder` ("" for the root). */
function inside(folder: string, file: string): string {
  if (folder === "") return file;
  checkName(folder);
  return `${folder}/${file}`;
}

function describe(value: unknown): string {
  if (value === null || typeof value !== "object") return String(value);
  return value.constructor?.name ?? "an object";
}
