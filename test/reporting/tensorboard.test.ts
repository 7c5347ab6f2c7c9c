import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { DataError, RelearnError } from "../../src/errors.js";
import { crc32c, maskedCrc32c, readEventFile, TensorBoardWriter } from "../../src/reporting/tensorboard.js";

let root: string;
let folders = 0;
const freshDir = (): string => join(root, `run-${folders++}`);

before(async () => {
  root = await mkdtemp(join(tmpdir(), "relearn-tensorboard-"));
});

after(async () => {
  await rm(root, { recursive: true, force: true });
});

const ascii = (text: string): Uint8Array => new TextEncoder().encode(text);

/** Bit-at-a-time CRC32C, independent of the table-driven one under test. */
function bitwiseCrc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

async function writeEvents(scalars: readonly { tag: string; value: number; step: number }[], wallMs = 1_700_000_000_250): Promise<Uint8Array> {
  const writer = await TensorBoardWriter.create(freshDir(), { wallClock: () => wallMs, hostname: "testhost" });
  for (const { tag, value, step } of scalars) writer.scalar(tag, value, step);
  await writer.close();
  return new Uint8Array(await readFile(writer.path));
}

test("CRC32C matches the published check value and the RFC 3720 vectors", () => {
  assert.equal(crc32c(ascii("123456789")), 0xe3069283);
  assert.equal(crc32c(new Uint8Array(0)), 0);
  assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa);
  assert.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43);
  assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e);
  assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i)), 0x113fdb5c);
});

test("table-driven CRC32C equals the bitwise definition on any bytes", () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => crc32c(bytes) === bitwiseCrc32c(bytes)), { numRuns: 200 });
});

test("masked CRC of a 24-byte length header is the a3 7f 4b 22 every TensorBoard file starts with", () => {
  const lengthBytes = Uint8Array.from([0x18, 0, 0, 0, 0, 0, 0, 0]);
  assert.equal(maskedCrc32c(lengthBytes), 0x224b7fa3);
});

test("a tiny event (tag a, value 1, step 0, wall time 1.5 s) is exactly the hand-encoded bytes", async () => {
  const bytes = await writeEvents([{ tag: "a", value: 1, step: 0 }], 1500);
  // prettier-ignore
  const fileVersionRecord = [
    0x18, 0, 0, 0, 0, 0, 0, 0, // data length 24, uint64 LE
    0xa3, 0x7f, 0x4b, 0x22, // masked CRC32C of the length
    0x09, 0, 0, 0, 0, 0, 0, 0xf8, 0x3f, // field 1 (wall_time), fixed64: 1.5 as a double
    0x1a, 0x0d, ...ascii("brain.Event:2"), // field 3 (file_version), 13 bytes
    0x2a, 0x28, 0x64, 0x6c, // masked CRC32C of the data
  ];
  // prettier-ignore
  const scalarRecord = [
    0x15, 0, 0, 0, 0, 0, 0, 0, // data length 21
    0xd6, 0xab, 0x6b, 0x2b,
    0x09, 0, 0, 0, 0, 0, 0, 0xf8, 0x3f, // wall_time 1.5; step 0 is omitted (proto3 default)
    0x2a, 0x0a, // field 5 (summary), 10 bytes
    0x0a, 0x08, //   Summary field 1 (value), 8 bytes
    0x0a, 0x01, 0x61, //     Value field 1 (tag) "a"
    0x15, 0x00, 0x00, 0x80, 0x3f, //     Value field 2 (simple_value), fixed32: 1.0f
    0xd2, 0x2a, 0x39, 0x46,
  ];
  assert.deepEqual([...bytes], [...fileVersionRecord, ...scalarRecord]);

  // The CRCs in the literals, recomputed bit by bit with the TFRecord mask.
  const mask = (crc: number): number => (((crc >>> 15) | (crc << 17)) + 0xa282ead8) >>> 0;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  assert.equal(view.getUint32(40 + 8, true), mask(bitwiseCrc32c(bytes.subarray(40, 48))));
  assert.equal(view.getUint32(40 + 12 + 21, true), mask(bitwiseCrc32c(bytes.subarray(52, 73))));

  assert.deepEqual(readEventFile(bytes), [
    { wallTime: 1.5, step: 0, fileVersion: "brain.Event:2", scalars: [] },
    { wallTime: 1.5, step: 0, scalars: [{ tag: "a", value: 1 }] },
  ]);
});

test("steps are int64 varints: 300 is 10 ac 02, -1 takes ten bytes", async () => {
  const bytes = await writeEvents([{ tag: "s", value: 0, step: 300 }, { tag: "s", value: 0, step: -1 }], 0);
  // Wall time 0 is omitted too: the file-version record holds 15 data bytes (31 in all),
  // and the first scalar event starts with the step key 0x10, then the summary key 0x2a.
  assert.deepEqual(readEventFile(bytes).map((record) => record.step), [0, 300, -1]);
  const secondData = bytes.subarray(31 + 12);
  assert.deepEqual([...secondData.subarray(0, 4)], [0x10, 0xac, 0x02, 0x2a]);
  // Data bytes: key + varint + summary (2 + 10): 1 + 2 + 12 for step 300, 1 + 10 + 12 for step -1.
  assert.deepEqual(recordBounds(bytes).map((b) => b.dataEnd - b.start - 12), [15, 15, 23]);
});

const scalarArbitrary = fc.record({
  tag: fc.string({ minLength: 1, maxLength: 12, unit: "grapheme" }),
  value: fc.oneof(fc.double(), fc.float(), fc.constantFrom(0, -0, 1e-45, 3.4e38, Infinity, -Infinity, NaN)),
  step: fc.integer({ min: -5, max: Number.MAX_SAFE_INTEGER }),
});

test("round trip: every scalar written is read back (float32 value, tag, step, wall time)", async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(scalarArbitrary, { maxLength: 20 }), fc.integer({ min: 0, max: 4_000_000_000_000 }), async (scalars, wallMs) => {
      const records = readEventFile(await writeEvents(scalars, wallMs));
      assert.equal(records.length, scalars.length + 1);
      assert.equal(records[0]!.fileVersion, "brain.Event:2");
      for (const [index, expected] of scalars.entries()) {
        const record = records[index + 1]!;
        assert.equal(record.wallTime, wallMs / 1000);
        assert.equal(record.step, expected.step);
        assert.equal(record.fileVersion, undefined);
        assert.equal(record.scalars.length, 1);
        assert.equal(record.scalars[0]!.tag, expected.tag);
        assert.ok(Object.is(record.scalars[0]!.value, Math.fround(expected.value)), `${record.scalars[0]!.value} vs ${expected.value}`);
      }
    }),
    { numRuns: 40 },
  );
});

test("file name is events.out.tfevents.<seconds>.<hostname>; a second writer in the same second gets a suffix", async () => {
  const dir = freshDir();
  const options = { wallClock: () => 1_700_000_123_999, hostname: "box/1" };
  const first = await TensorBoardWriter.create(dir, options);
  const second = await TensorBoardWriter.create(dir, options);
  await Promise.all([first.close(), second.close()]);
  assert.deepEqual((await readdir(dir)).sort(), ["events.out.tfevents.1700000123.box_1", "events.out.tfevents.1700000123.box_1.1"]);
});

test("flush appends in order and close refuses more scalars", async () => {
  const writer = await TensorBoardWriter.create(freshDir(), { wallClock: () => 2000, hostname: "h" });
  writer.scalar("x", 1, 1);
  const pending = writer.flush();
  writer.scalar("x", 2, 2);
  await Promise.all([pending, writer.flush()]);
  await writer.close();
  const records = readEventFile(new Uint8Array(await readFile(writer.path)));
  assert.deepEqual(records.slice(1).map((r) => [r.step, r.scalars[0]!.value]), [[1, 1], [2, 2]]);
  assert.throws(() => writer.scalar("x", 3, 3), RelearnError);
});

test("bad scalar arguments are RangeErrors naming the tag", async () => {
  const writer = await TensorBoardWriter.create(freshDir(), { hostname: "h" });
  assert.throws(() => writer.scalar("", 1, 0), { name: "RangeError", message: /non-empty/ });
  assert.throws(() => writer.scalar("loss", 1, 1.5), { name: "RangeError", message: /scalar "loss": step must be a safe integer, got 1.5/ });
  await writer.close();
});

/** [start, dataStart, dataEnd, end) of each record. */
function recordBounds(bytes: Uint8Array): { start: number; dataEnd: number; end: number }[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const bounds = [];
  for (let start = 0; start < bytes.length;) {
    const length = Number(view.getBigUint64(start, true));
    bounds.push({ start, dataEnd: start + 12 + length, end: start + 16 + length });
    start += 16 + length;
  }
  return bounds;
}

test("any single corrupted byte is caught by the CRC of its record, named by index", async () => {
  const bytes = await writeEvents([{ tag: "loss", value: 0.5, step: 1 }, { tag: "acc", value: 0.9, step: 2 }]);
  const bounds = recordBounds(bytes);
  assert.equal(bounds.length, 3);
  for (let position = 0; position < bytes.length; position++) {
    const corrupted = bytes.slice();
    corrupted[position]! ^= 0x04;
    const index = bounds.findIndex((b) => position >= b.start && position < b.end);
    const inLength = position < bounds[index]!.start + 12;
    assert.throws(() => readEventFile(corrupted, "run/events"), (error: unknown) => {
      assert.ok(error instanceof DataError, String(error));
      assert.match(error.message, new RegExp(`^run/events: record ${index} \\(byte ${bounds[index]!.start}\\): ${inLength ? "length" : "data"} CRC mismatch`));
      return true;
    }, `byte ${position}`);
  }
});

test("a truncated file throws naming the cut record; a cut at a record boundary reads the whole records", async () => {
  const bytes = await writeEvents([{ tag: "loss", value: 0.5, step: 1 }, { tag: "acc", value: 0.9, step: 2 }]);
  const bounds = recordBounds(bytes);
  for (let length = 0; length < bytes.length; length++) {
    const whole = bounds.filter((b) => b.end <= length).length;
    if (whole > 0 && bounds[whole - 1]!.end === length || length === 0) {
      assert.equal(readEventFile(bytes.subarray(0, length)).length, whole);
      continue;
    }
    assert.throws(() => readEventFile(bytes.subarray(0, length)), {
      name: "DataError",
      message: new RegExp(`record ${whole} \\(byte ${bounds[whole]!.start}\\): truncated`),
    }, `length ${length}`);
  }
});

test("a record whose data is not a valid protobuf is a DataError even with correct CRCs", () => {
  const data = Uint8Array.from([0x2a, 0x05, 0x0a]); // summary claims 5 bytes, only 1 follows
  const record = new Uint8Array(16 + data.length);
  const view = new DataView(record.buffer);
  view.setBigUint64(0, BigInt(data.length), true);
  view.setUint32(8, maskedCrc32c(record.subarray(0, 8)), true);
  record.set(data, 12);
  view.setUint32(12 + data.length, maskedCrc32c(data), true);
  assert.throws(() => readEventFile(record), { name: "DataError", message: /record 0 \(byte 0\): protobuf field of 5 bytes runs past the end/ });
});
