/**
 * The IDX format of MNIST and Fashion-MNIST: two zero bytes, a type byte, a
 * dimension count, the dimensions as big-endian uint32, then the values in
 * big-endian row-major order. Pure byte handling (no fs), so it also runs in
 * browsers.
 */
import { DataError } from "../errors.js";

export type IdxData = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

/** A parsed IDX file: its dimensions and values (typed by the file's type byte). */
export interface IdxArray {
  dims: number[];
  data: IdxData;
}

interface IdxType {
  code: number;
  name: string;
  bytes: number;
  make: (length: number) => IdxData;
  read: (view: DataView, offset: number) => number;
  write: (view: DataView, offset: number, value: number) => void;
}

const TYPES: readonly IdxType[] = [
  { code: 0x08, name: "ubyte", bytes: 1, make: (n) => new Uint8Array(n), read: (v, o) => v.getUint8(o), write: (v, o, x) => v.setUint8(o, x) },
  { code: 0x09, name: "sbyte", bytes: 1, make: (n) => new Int8Array(n), read: (v, o) => v.getInt8(o), write: (v, o, x) => v.setInt8(o, x) },
  { code: 0x0b, name: "int16", bytes: 2, make: (n) => new Int16Array(n), read: (v, o) => v.getInt16(o, false), write: (v, o, x) => v.setInt16(o, x, false) },
  { code: 0x0c, name: "int32", bytes: 4, make: (n) => new Int32Array(n), read: (v, o) => v.getInt32(o, false), write: (v, o, x) => v.setInt32(o, x, false) },
  { code: 0x0d, name: "float32", bytes: 4, make: (n) => new Float32Array(n), read: (v, o) => v.getFloat32(o, false), write: (v, o, x) => v.setFloat32(o, x, false) },
  { code: 0x0e, name: "float64", bytes: 8, make: (n) => new Float64Array(n), read: (v, o) => v.getFloat64(o, false), write: (v, o, x) => v.setFloat64(o, x, false) },
];

function hex(byte: number): string {
  return `0x${byte.toString(16).padStart(2, "0")}`;
}

/** What an IDX file's header says: the value type, the dimensions, and where the values start. */
export interface IdxHeader {
  /** "ubyte", "sbyte", "int16", "int32", "float32" or "float64". */
  type: string;
  /** Bytes per value. */
  bytesPerValue: number;
  dims: number[];
  /** Number of values (the product of dims). */
  count: number;
  /** Bytes before the first value. */
  headerBytes: number;
}

/**
 * Parses the header at the start of `bytes` (the whole file or any prefix
 * holding the header), so a reader that streams the values in (idx_file.ts)
 * checks the header as parseIdx does. Errors name `source`.
 */
export function parseIdxHeader(bytes: Uint8Array, source: string): IdxHeader {
  if (bytes.length < 4) {
    throw new DataError(`${source}: truncated IDX file: expected at least a 4-byte header, got ${bytes.length} bytes`);
  }
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    throw new DataError(
      `${source}: not an IDX file: it must start with two zero bytes, got ${hex(bytes[0]!)} ${hex(bytes[1]!)}` +
        (bytes[0] === 0x1f && bytes[1] === 0x8b ? " (this looks gzip-compressed: decompress it first)" : ""),
    );
  }
  const type = typeOf(bytes[2]!, source);
  const rank = bytes[3]!;
  const headerBytes = 4 + 4 * rank;
  if (bytes.length < headerBytes) {
    throw new DataError(
      `${source}: truncated IDX file: expected a ${headerBytes}-byte header for ${rank} dimensions, got ${bytes.length} bytes`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  let count = 1;
  for (let d = 0; d < rank; d++) {
    const dim = view.getUint32(4 + 4 * d, false);
    dims.push(dim);
    count *= dim;
  }
  return { type: type.name, bytesPerValue: type.bytes, dims, count, headerBytes };
}

/** The header bytes needed before parseIdxHeader can run: 4, then 4 + 4 * rank once the rank byte is in. */
export function idxHeaderLength(start: Uint8Array): number {
  return start.length < 4 ? 4 : 4 + 4 * start[3]!;
}

/** Checks that a file of `fileBytes` bytes holds exactly the values its header declares. */
export function checkIdxLength(header: IdxHeader, fileBytes: number, source: string): void {
  const { dims, type, count, bytesPerValue, headerBytes } = header;
  const expectedBytes = headerBytes + count * bytesPerValue;
  if (fileBytes < expectedBytes) {
    throw new DataError(
      `${source}: truncated IDX file: dims [${dims.join(", ")}] of ${type} need ${expectedBytes} bytes ` +
        `(header ${headerBytes} + data ${count * bytesPerValue}), got ${fileBytes}`,
    );
  }
  if (fileBytes > expectedBytes) {
    throw new DataError(
      `${source}: ${fileBytes - expectedBytes} trailing bytes after the IDX data: dims [${dims.join(", ")}] of ` +
        `${type} need ${expectedBytes} bytes, got ${fileBytes}`,
    );
  }
}

function typeOf(code: number, source: string): IdxType {
  const type = TYPES.find((t) => t.code === code);
  if (type === undefined) {
    throw new DataError(
      `${source}: unknown IDX type byte ${hex(code)}; known: ${TYPES.map((t) => `${hex(t.code)} ${t.name}`).join(", ")}`,
    );
  }
  return type;
}

/** Parses an IDX file; errors name `source` and say what was expected. */
export function parseIdx(bytes: Uint8Array, source: string): IdxArray {
  const header = parseIdxHeader(bytes, source);
  checkIdxLength(header, bytes.length, source);
  const { dims, count, headerBytes } = header;
  const type = typeOf(bytes[2]!, source);
  const data = type.make(count);
  if (data instanceof Uint8Array) {
    data.set(bytes.subarray(headerBytes));
  } else {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0, offset = headerBytes; i < count; i++, offset += type.bytes) data[i] = type.read(view, offset);
  }
  return { dims, data };
}

/** Encodes `data` (shape `dims`) as an IDX file; the type byte follows the array type. */
export function encodeIdx(dims: readonly number[], data: IdxData): Uint8Array {
  // instanceof rather than constructor equality, so a Node Buffer counts as the Uint8Array it is.
  const type = TYPES.find((t) => data instanceof (t.make(0).constructor as new (n: number) => IdxData));
  if (type === undefined) {
    throw new DataError(`encodeIdx: unsupported array type ${String(data?.constructor?.name)}`);
  }
  if (dims.length > 255) throw new DataError(`encodeIdx: IDX allows at most 255 dimensions, got ${dims.length}`);
  let count = 1;
  for (const dim of dims) {
    if (!Number.isInteger(dim) || dim < 0 || dim > 0xffffffff) {
      throw new DataError(`encodeIdx: dims must be integers in [0, 2^32), got [${dims.join(", ")}]`);
    }
    count *= dim;
  }
  if (data.length !== count) {
    throw new DataError(`encodeIdx: dims [${dims.join(", ")}] need ${count} values, got ${data.length}`);
  }
  const headerBytes = 4 + 4 * dims.length;
  const bytes = new Uint8Array(headerBytes + count * type.bytes);
  const view = new DataView(bytes.buffer);
  bytes[2] = type.code;
  bytes[3] = dims.length;
  dims.forEach((dim, d) => view.setUint32(4 + 4 * d, dim, false));
  if (data instanceof Uint8Array) {
    bytes.set(data, headerBytes);
  } else {
    for (let i = 0, offset = headerBytes; i < count; i++, offset += type.bytes) type.write(view, offset, data[i]!);
  }
  return bytes;
}
