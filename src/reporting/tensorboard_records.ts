/**
 * TensorBoard event files for scalars, written without tfjs-node.
 *
 * An event file is a TFRecord stream: each record is
 *   uint64 LE length | uint32 LE masked CRC32C(length bytes) | data | uint32 LE masked CRC32C(data)
 * and each record's data is one serialised `tensorflow.Event` protobuf. Only the
 * few fields a scalar needs are encoded (field numbers from event.proto / summary.proto):
 *   Event   { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5 }
 *   Summary { repeated Value value = 1 }
 *   Value   { string tag = 1; float simple_value = 2 }
 * The first record carries file_version "brain.Event:2", as TensorBoard expects.
 * Encoding is canonical proto3: a zero wall_time or step is omitted, simple_value
 * (a oneof member) is always written.
 */
import { DataError } from "../errors.js";


const FILE_VERSION = "brain.Event:2";
const MASK_DELTA = 0xa282ead8;
const HEADER_BYTES = 12;
const FOOTER_BYTES = 4;

// Castagnoli polynomial, bit-reflected.
const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC32C (Castagnoli) of `bytes`, as an unsigned 32-bit number. CRC32C("123456789") = 0xE3069283. */
export function crc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) crc = CRC32C_TABLE[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** The TFRecord masked CRC: rotate right by 15 and add a constant, so CRCs of CRCs stay well distributed. */
export function maskedCrc32c(bytes: Uint8Array): number {
  const crc = crc32c(bytes);
  return (((crc >>> 15) | (crc << 17)) + MASK_DELTA) >>> 0;
}

/** One event as read back from a file. */
export interface EventRecord {
  /** Seconds since the Unix epoch. */
  wallTime: number;
  step: number;
  fileVersion?: string;
  /** Values with a simple_value; other summary kinds are skipped. Values are float32. */
  scalars: { tag: string; value: number }[];
}

// ---------------------------------------------------------------- protobuf encoding

/** Grows a byte list; protobuf messages here are tiny, so simplicity beats preallocation. */
class ProtoWriter {
  private readonly bytes: number[] = [];

  varint(value: bigint): this {
    let rest = BigInt.asUintN(64, value);
    while (rest >= 0x80n) {
      this.bytes.push(Number(rest & 0x7fn) | 0x80);
      rest >>= 7n;
    }
    this.bytes.push(Number(rest));
    return this;
  }

  key(field: number, wireType: number): this {
    return this.varint(BigInt((field << 3) | wireType));
  }

  double(field: number, value: number): this {
    const view = new DataView(new ArrayBuffer(8));
    view.setFloat64(0, value, true);
    this.key(field, 1).bytes.push(...new Uint8Array(view.buffer));
    return this;
  }

  float(field: number, value: number): this {
    const view = new DataView(new ArrayBuffer(4));
    view.setFloat32(0, value, true);
    this.key(field, 5).bytes.push(...new Uint8Array(view.buffer));
    return this;
  }

  lengthDelimited(field: number, payload: Uint8Array): this {
    this.key(field, 2).varint(BigInt(payload.length)).bytes.push(...payload);
    return this;
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.bytes);
  }
}

const utf8 = new TextEncoder();

function encodeEvent(wallTime: number, step: number, content: { fileVersion: string } | { tag: string; value: number }): Uint8Array {
  const event = new ProtoWriter();
  if (wallTime !== 0) event.double(1, wallTime);
  if (step !== 0) event.key(2, 0).varint(BigInt(step));
  if ("fileVersion" in content) {
    event.lengthDelimited(3, utf8.encode(content.fileVersion));
  } else {
    const value = new ProtoWriter().lengthDelimited(1, utf8.encode(content.tag)).float(2, content.value).finish();
    const summary = new ProtoWriter().lengthDelimited(1, value).finish();
    event.lengthDelimited(5, summary);
  }
  return event.finish();
}

/** Frames one record: length, masked CRC of the length, data, masked CRC of the data. */
function frameRecord(data: Uint8Array): Uint8Array {
  const record = new Uint8Array(HEADER_BYTES + data.length + FOOTER_BYTES);
  const view = new DataView(record.buffer);
  view.setBigUint64(0, BigInt(data.length), true);
  view.setUint32(8, maskedCrc32c(record.subarray(0, 8)), true);
  record.set(data, HEADER_BYTES);
  view.setUint32(HEADER_BYTES + data.length, maskedCrc32c(data), true);
  return record;
}

/** The first record of an event file: its file version, at `wallTime` seconds. */
export function fileVersionRecord(wallTime: number): Uint8Array {
  return frameRecord(encodeEvent(wallTime, 0, { fileVersion: FILE_VERSION }));
}

/** One framed scalar event (`step` an integer, `wallTime` in seconds). */
export function scalarRecord(wallTime: number, step: number, tag: string, value: number): Uint8Array {
  return frameRecord(encodeEvent(wallTime, step, { tag, value }));
}

// ---------------------------------------------------------------- reader

const utf8Strict = new TextDecoder("utf-8", { fatal: true });

/** Reads protobuf fields of one message; `fail` names the record in every error. */
class ProtoReader {
  private offset = 0;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly fail: (problem: string) => never,
  ) {}

  get done(): boolean {
    return this.offset >= this.bytes.length;
  }

  varint(): bigint {
    let value = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (this.offset >= this.bytes.length) this.fail("protobuf varint runs past the end of the message");
      const byte = this.bytes[this.offset++]!;
      value |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return BigInt.asUintN(64, value);
    }
    return this.fail("protobuf varint is longer than 10 bytes");
  }

  take(length: number): Uint8Array {
    if (this.offset + length > this.bytes.length) this.fail(`protobuf field of ${length} bytes runs past the end of the message`);
    const slice = this.bytes.subarray(this.offset, this.offset + length);
    this.offset += length;
    return slice;
  }

  /** Reads a field key; returns [field number, wire type]. */
  key(): [number, number] {
    const key = this.varint();
    return [Number(key >> 3n), Number(key & 7n)];
  }

  /** Reads (and returns the bytes of) a value of the given wire type, so unknown fields can be skipped. */
  value(wireType: number): Uint8Array | bigint {
    switch (wireType) {
      case 0: return this.varint();
      case 1: return this.take(8);
      case 2: return this.take(Number(this.varint()));
      case 5: return this.take(4);
      default: return this.fail(`unsupported protobuf wire type ${wireType}`);
    }
  }
}

function littleEndian(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function decodeEvent(data: Uint8Array, fail: (problem: string) => never): EventRecord {
  const record: EventRecord = { wallTime: 0, step: 0, scalars: [] };
  const event = new ProtoReader(data, fail);
  while (!event.done) {
    const [field, wireType] = event.key();
    const value = event.value(wireType);
    if (field === 1 && wireType === 1) record.wallTime = littleEndian(value as Uint8Array).getFloat64(0, true);
    else if (field === 2 && wireType === 0) record.step = Number(BigInt.asIntN(64, value as bigint));
    else if (field === 3 && wireType === 2) record.fileVersion = decodeText(value as Uint8Array, "file_version", fail);
    else if (field === 5 && wireType === 2) record.scalars.push(...decodeSummary(value as Uint8Array, fail));
  }
  return record;
}

function decodeSummary(data: Uint8Array, fail: (problem: string) => never): { tag: string; value: number }[] {
  const scalars: { tag: string; value: number }[] = [];
  const summary = new ProtoReader(data, fail);
  while (!summary.done) {
    const [field, wireType] = summary.key();
    const bytes = summary.value(wireType);
    if (field !== 1 || wireType !== 2) continue;
    const entry = new ProtoReader(bytes as Uint8Array, fail);
    let tag = "";
    let value: number | undefined;
    while (!entry.done) {
      const [entryField, entryWireType] = entry.key();
      const entryValue = entry.value(entryWireType);
      if (entryField === 1 && entryWireType === 2) tag = decodeText(entryValue as Uint8Array, "tag", fail);
      else if (entryField === 2 && entryWireType === 5) value = littleEndian(entryValue as Uint8Array).getFloat32(0, true);
    }
    if (value !== undefined) scalars.push({ tag, value });
  }
  return scalars;
}

function decodeText(bytes: Uint8Array, what: string, fail: (problem: string) => never): string {
  try {
    return utf8Strict.decode(bytes);
  } catch {
    return fail(`${what} is not valid UTF-8`);
  }
}

/**
 * Parses a whole event file, checking the length CRC and the data CRC of every
 * record. Corruption or truncation throws a DataError naming the record (0-based),
 * its byte offset and which check failed. `source` (e.g. the path) prefixes messages.
 */
export function readEventFile(bytes: Uint8Array, source = "event file"): EventRecord[] {
  const view = littleEndian(bytes);
  const records: EventRecord[] = [];
  let offset = 0;
  for (let index = 0; offset < bytes.length; index++) {
    const at = `${source}: record ${index} (byte ${offset})`;
    const fail = (problem: string): never => {
      throw new DataError(`${at}: ${problem}`);
    };
    const remaining = bytes.length - offset;
    if (remaining < HEADER_BYTES) fail(`truncated header: ${remaining} of ${HEADER_BYTES} bytes`);
    const lengthCrc = maskedCrc32c(bytes.subarray(offset, offset + 8));
    const storedLengthCrc = view.getUint32(offset + 8, true);
    if (lengthCrc !== storedLengthCrc) fail(`length CRC mismatch (stored ${hex(storedLengthCrc)}, computed ${hex(lengthCrc)})`);
    const length = view.getBigUint64(offset, true);
    const available = BigInt(remaining - HEADER_BYTES - FOOTER_BYTES);
    if (length > available) fail(`truncated: the record holds ${length} data bytes but only ${available < 0n ? 0n : available} remain before its data CRC`);
    const start = offset + HEADER_BYTES;
    const data = bytes.subarray(start, start + Number(length));
    const dataCrc = maskedCrc32c(data);
    const storedDataCrc = view.getUint32(start + data.length, true);
    if (dataCrc !== storedDataCrc) fail(`data CRC mismatch (stored ${hex(storedDataCrc)}, computed ${hex(dataCrc)})`);
    records.push(decodeEvent(data, fail));
    offset = start + data.length + FOOTER_BYTES;
  }
  return records;
}

function hex(value: number): string {
  return `0x${value.toString(16).padStart(8, "0")}`;
}
