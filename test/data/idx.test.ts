import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import fc from "fast-check";
import { DataError } from "../../src/errors.js";
import { encodeIdx, parseIdx, type IdxData } from "../../src/data/idx.js";
import { loadIdx, loadIdxImages } from "../../src/data/idx_file.js";
import { classHistogram } from "../../src/data/dataset_ops.js";

const dimsArb = fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 0, maxLength: 4 });
const count = (dims: number[]) => dims.reduce((a, b) => a * b, 1);

// One generator per IDX type, with values the type represents exactly.
const dtypes: [string, number, (n: number) => fc.Arbitrary<IdxData>][] = [
  ["ubyte", 0x08, (n) => fc.uint8Array({ minLength: n, maxLength: n })],
  ["sbyte", 0x09, (n) => fc.int8Array({ minLength: n, maxLength: n })],
  ["int16", 0x0b, (n) => fc.int16Array({ minLength: n, maxLength: n })],
  ["int32", 0x0c, (n) => fc.int32Array({ minLength: n, maxLength: n })],
  ["float32", 0x0d, (n) => fc.float32Array({ minLength: n, maxLength: n, noDefaultInfinity: false })],
  ["float64", 0x0e, (n) => fc.float64Array({ minLength: n, maxLength: n })],
];

for (const [name, code, dataArb] of dtypes) {
  test(`IDX ${name}: encode then parse gives back dims and values`, () => {
    fc.assert(
      fc.property(
        dimsArb.chain((dims) => fc.tuple(fc.constant(dims), dataArb(count(dims)))),
        ([dims, data]) => {
          const bytes = encodeIdx(dims, data);
          assert.equal(bytes[2], code);
          assert.equal(bytes.length, 4 + 4 * dims.length + data.byteLength);
          const parsed = parseIdx(bytes, "x.idx");
          assert.deepEqual(parsed.dims, dims);
          assert.equal(parsed.data.constructor, data.constructor);
          // Object.is keeps NaN == NaN and -0 != 0: the bytes must survive exactly.
          assert.ok(Array.from(data).every((v, i) => Object.is(v, parsed.data[i])));
          assert.equal(parsed.data.length, data.length);
        },
      ),
      { numRuns: 50 },
    );
  });
}

test("IDX bytes are big-endian as in the MNIST files", () => {
  const bytes = encodeIdx([2], Int16Array.of(258, -2));
  assert.deepEqual(Array.from(bytes), [0, 0, 0x0b, 1, 0, 0, 0, 2, 0x01, 0x02, 0xff, 0xfe]);
  const labels = parseIdx(Uint8Array.of(0, 0, 8, 1, 0, 0, 0, 3, 9, 2, 1), "labels");
  assert.deepEqual(labels.dims, [3]);
  assert.deepEqual(Array.from(labels.data), [9, 2, 1]);
});

test("parseIdx errors: magic, type, truncation, trailing bytes", () => {
  const good = encodeIdx([2, 3], Uint8Array.of(1, 2, 3, 4, 5, 6));
  const check = (bytes: Uint8Array, message: RegExp) =>
    assert.throws(() => parseIdx(bytes, "img.idx"), (e: unknown) => e instanceof DataError && message.test(e.message));
  check(Uint8Array.of(0, 0), /^img\.idx: truncated IDX file: expected at least a 4-byte header, got 2 bytes$/);
  check(Uint8Array.of(1, 0, 8, 0), /^img\.idx: not an IDX file: it must start with two zero bytes, got 0x01 0x00$/);
  check(Uint8Array.of(0x1f, 0x8b, 8, 0), /looks gzip-compressed/);
  check(Uint8Array.of(0, 0, 0x0a, 1, 0, 0, 0, 0), /^img\.idx: unknown IDX type byte 0x0a; known: 0x08 ubyte/);
  check(good.subarray(0, 10), /expected a 12-byte header for 2 dimensions, got 10 bytes/);
  check(good.subarray(0, 15), /^img\.idx: truncated IDX file: dims \[2, 3\] of ubyte need 18 bytes \(header 12 \+ data 6\), got 15$/);
  const longer = new Uint8Array(good.length + 2);
  longer.set(good);
  check(longer, /^img\.idx: 2 trailing bytes after the IDX data: dims \[2, 3\] of ubyte need 18 bytes, got 20$/);
});

test("encodeIdx errors: size mismatch, bad dims, unsupported arrays", () => {
  assert.throws(() => encodeIdx([2, 2], new Uint8Array(3)), /dims \[2, 2\] need 4 values, got 3/);
  assert.throws(() => encodeIdx([-1], new Uint8Array(0)), DataError);
  assert.throws(() => encodeIdx([1], new Uint16Array(1) as unknown as IdxData), /unsupported array type Uint16Array/);
});

test("loadIdx reads a gzip images file and a plain labels file", async () => {
  const dir = mkdtempSync(join(tmpdir(), "relearn-idx-"));
  try {
    const pixels = Uint8Array.from({ length: 3 * 2 * 2 }, (_, i) => i * 20);
    const images = join(dir, "images-idx3-ubyte.gz");
    const labels = join(dir, "labels-idx1-ubyte");
    writeFileSync(images, gzipSync(encodeIdx([3, 2, 2], pixels)));
    writeFileSync(labels, encodeIdx([3], Uint8Array.of(2, 0, 1)));

    const flat = await loadIdx({ images, labels, numClasses: 3 });
    assert.deepEqual(flat.featureShape, [4]);
    assert.equal(flat.length, 3);
    assert.equal(flat.numClasses, 3);
    assert.deepEqual(Array.from(flat.labels), [2, 0, 1]);
    assert.deepEqual(Array.from(flat.features), Array.from(pixels, (p) => Math.fround(p / 255)));
    assert.ok(Math.abs(flat.features[11]! - 220 / 255) < 1e-7);

    const hwc = await loadIdx({ images, labels, numClasses: 3, layout: "hwc", scale: 1 });
    assert.deepEqual(hwc.featureShape, [2, 2, 1]);
    assert.deepEqual(Array.from(hwc.features), Array.from(pixels));

    // Errors: counts differ, labels out of range, labels not 1-D, missing file.
    const twoLabels = join(dir, "two-labels");
    writeFileSync(twoLabels, encodeIdx([2], Uint8Array.of(0, 1)));
    await assert.rejects(loadIdx({ images, labels: twoLabels }), {
      name: "DataError",
      message: `${images} holds 3 images but ${twoLabels} holds 2 labels`,
    });
    await assert.rejects(loadIdx({ images, labels, numClasses: 2 }), {
      name: "DataError",
      message: `${labels}: label 2 at index 0 is not an integer in [0, 2)`,
    });
    const matrix = join(dir, "matrix-labels");
    writeFileSync(matrix, encodeIdx([3, 1], Uint8Array.of(0, 1, 2)));
    await assert.rejects(loadIdx({ images, labels: matrix }), /labels must be 1-D \[n\], got dims \[3, 1\]/);
    await assert.rejects(loadIdx({ images: labels, labels }), /images must have dims \[n, rows, cols\] or \[n, size\], got \[3\]/);
    await assert.rejects(loadIdx({ images: join(dir, "missing"), labels }), /missing: cannot read file/);
    const corrupt = join(dir, "corrupt.gz");
    writeFileSync(corrupt, Uint8Array.of(0x1f, 0x8b, 1, 2, 3));
    await assert.rejects(loadIdx({ images: corrupt, labels }), /corrupt\.gz: corrupt gzip data/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("loadIdxImages decodes as the file streams in: the same values, and parseIdx's errors", async () => {
  const dir = mkdtempSync(join(tmpdir(), "relearn-idx-stream-"));
  try {
    const write = (name: string, bytes: Uint8Array) => {
      const path = join(dir, name);
      writeFileSync(path, bytes);
      return path;
    };
    // Larger than one stream chunk (64 KiB), gzip'd and plain: every value read, in order.
    const pixels = Uint8Array.from({ length: 300 * 28 * 28 }, (_, i) => (i * 7919) % 256);
    const file = encodeIdx([300, 28, 28], pixels);
    const expected = Array.from(pixels, (p) => Math.fround(p * 0.5));
    for (const path of [write("big.gz", gzipSync(file)), write("big", file)]) {
      const images = await loadIdxImages(path, { scale: 0.5 });
      assert.equal(images.length, 300);
      assert.deepEqual(images.featureShape, [784]);
      assert.deepEqual(Array.from(images.features), expected);
    }
    // A non-ubyte file is read whole: float32 pixels.
    const floats = await loadIdxImages(write("floats", encodeIdx([2, 1, 2], Float32Array.of(0.25, 1, 2, 4))), { scale: 2 });
    assert.deepEqual(Array.from(floats.features), [0.5, 2, 4, 8]);
    const empty = await loadIdxImages(write("empty.gz", gzipSync(encodeIdx([0, 2, 2], new Uint8Array(0)))));
    assert.equal(empty.length, 0);
    assert.equal(empty.features.length, 0);
    // parseIdx's messages for a truncated file, trailing bytes, a short header and a bad type byte.
    const small = encodeIdx([2, 3], Uint8Array.of(1, 2, 3, 4, 5, 6));
    const rejects = (bytes: Uint8Array, message: RegExp) => assert.rejects(loadIdxImages(write("bad.gz", gzipSync(bytes))), (e: unknown) => e instanceof DataError && message.test(e.message));
    await rejects(small.subarray(0, 15), /bad\.gz: truncated IDX file: dims \[2, 3\] of ubyte need 18 bytes \(header 12 \+ data 6\), got 15$/);
    await rejects(Uint8Array.of(...small, 9, 9), /bad\.gz: 2 trailing bytes after the IDX data: dims \[2, 3\] of ubyte need 18 bytes, got 20$/);
    await rejects(small.subarray(0, 10), /bad\.gz: truncated IDX file: expected a 12-byte header for 2 dimensions, got 10 bytes$/);
    await rejects(Uint8Array.of(0, 0), /bad\.gz: truncated IDX file: expected at least a 4-byte header, got 2 bytes$/);
    await rejects(Uint8Array.of(0, 0, 0x0a, 1, 0, 0, 0, 0), /bad\.gz: unknown IDX type byte 0x0a/);
    await rejects(Uint8Array.of(0, 0, 8, 3, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0), /declares dims \[65536, 65536, 65536\].*too many to hold/);
    const truncatedGzip = gzipSync(file).subarray(0, 1000);
    await assert.rejects(loadIdxImages(write("cut.gz", truncatedGzip)), /cut\.gz: corrupt gzip data/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const FASHION = "/usr/share/datasets/fashion-mnist";
const fashionImages = join(FASHION, "t10k-images-idx3-ubyte.gz");
test(
  "Fashion-MNIST test split loads as 10000 x 784 with 1000 samples per class",
  { skip: existsSync(fashionImages) ? false : `${fashionImages} is absent (apt-get install dataset-fashion-mnist)` },
  async () => {
    const ds = await loadIdx({ images: fashionImages, labels: join(FASHION, "t10k-labels-idx1-ubyte.gz") });
    assert.equal(ds.length, 10000);
    assert.deepEqual(ds.featureShape, [784]);
    assert.equal(ds.features.length, 10000 * 784);
    assert.deepEqual(classHistogram(ds), new Array(10).fill(1000));
    // Reference values read with Python's gzip module: the first labels, and the byte sum of image 0.
    assert.deepEqual(Array.from(ds.labels.subarray(0, 10)), [9, 2, 1, 1, 6, 1, 4, 6, 5, 7]);
    const sum = ds.features.subarray(0, 784).reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(sum * 255 - 33456) < 0.05, `pixel sum ${sum * 255}`);
    assert.ok(ds.features.every((v) => v >= 0 && v <= 1));
    // The streamed decoding gives exactly the values of parsing the whole file.
    const whole = parseIdx(gunzipSync(readFileSync(fashionImages)), fashionImages).data;
    assert.ok(ds.features.every((v, i) => v === Math.fround(whole[i]! / 255)), "streamed values differ from parseIdx's");
  },
);
