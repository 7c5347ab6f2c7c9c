import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { OptionsError } from "../../src/errors.js";
import { createDataset, type Dataset } from "../../src/data/dataset.js";
import { concatDatasets, subsetDataset } from "../../src/data/dataset_ops.js";
import { featurePermutation, permutedFeatures, rotateImage, rotatedImages } from "../../src/data/scenarios.js";

const isError = (type: new (...args: never[]) => Error, message: RegExp) => (e: unknown) =>
  e instanceof type && message.test(e.message);

/** Samples with distinct feature values (sample i, position j -> i * 100 + j), labels i % numClasses. */
function distinct(count: number, featureShape: number[], numClasses = 3, offset = 0): Dataset {
  const size = featureShape.reduce((a, b) => a * b, 1);
  return createDataset({
    features: Float32Array.from({ length: count * size }, (_, k) => (Math.floor(k / size) + offset) * 100 + (k % size)),
    labels: Int32Array.from({ length: count }, (_, i) => i % numClasses),
    featureShape,
    numClasses,
  });
}

const row = (ds: Dataset, i: number) => Array.from(ds.features.subarray(i * ds.features.length / ds.length, (i + 1) * ds.features.length / ds.length));

test("permuted: each update applies its own permutation to train and test alike", () => {
  const train = distinct(12, [20]);
  // The test set holds train samples 2 and 5 and one sample of its own.
  const test = concatDatasets([subsetDataset(train, [2, 5]), distinct(1, [20], 3, 50)]);
  const before = Float32Array.from(train.features);
  const updates = permutedFeatures({ train, test, tasks: 3, seed: 11 });
  assert.equal(updates.length, 3);
  const identity = Array.from({ length: 20 }, (_, j) => j);
  const seen = new Set<string>();
  updates.forEach((update, t) => {
    const permutation = Array.from(featurePermutation(11, t, 20));
    assert.deepEqual([...permutation].sort((a, b) => a - b), identity, "a permutation is a bijection");
    assert.notDeepEqual(permutation, identity, `update ${t} is permuted too (Avalanche/Mammoth convention)`);
    seen.add(JSON.stringify(permutation));
    for (let i = 0; i < train.length; i++) {
      assert.deepEqual(row(update.train, i), permutation.map((p) => i * 100 + p));
    }
    assert.deepEqual(row(update.test, 0), row(update.train, 2));
    assert.deepEqual(row(update.test, 1), row(update.train, 5));
    assert.deepEqual(row(update.test, 2), permutation.map((p) => 5000 + p));
    assert.deepEqual(Array.from(update.train.labels), Array.from(train.labels));
    assert.deepEqual(update.classes, [0, 1, 2]);
    assert.equal(update.taskId, "default_task");
  });
  assert.equal(seen.size, 3, "every update has its own permutation");
  assert.deepEqual(train.features, before, "the input dataset is not modified");
  const again = permutedFeatures({ train, test, tasks: 3, seed: 11 });
  assert.deepEqual(again.map((u) => u.train.features), updates.map((u) => u.train.features));
  assert.notDeepEqual(permutedFeatures({ train, test, tasks: 1, seed: 12 })[0]!.train.features, updates[0]!.train.features);
});

test("permuted: per-task subsampling draws distinct rows, seeded", () => {
  const train = distinct(30, [5]);
  const test = distinct(10, [5], 3, 100);
  const options = { train, test, tasks: 2, seed: 3, trainPerTask: 8, testPerTask: 4 };
  const updates = permutedFeatures(options);
  for (const [t, update] of updates.entries()) {
    assert.equal(update.train.length, 8);
    assert.equal(update.test.length, 4);
    const permutation = featurePermutation(3, t, 5);
    // Recover each row's original index from its value at the position where feature 0 landed.
    const ids = Array.from({ length: 8 }, (_, i) => update.train.features[i * 5 + permutation.indexOf(0)]! / 100);
    assert.equal(new Set(ids).size, 8);
    assert.deepEqual(ids, [...ids].sort((a, b) => a - b), "a subsample keeps the original order");
    ids.forEach((id, i) => assert.equal(update.train.labels[i], id % 3));
  }
  assert.deepEqual(permutedFeatures(options).map((u) => u.train.features), updates.map((u) => u.train.features));
  assert.throws(() => permutedFeatures({ ...options, trainPerTask: 31 }),
    isError(OptionsError, /trainPerTask = 31 exceeds the 30 samples available/));
  assert.throws(() => permutedFeatures({ ...options, tasks: 0 }), isError(OptionsError, /tasks must be an integer >= 1/));
});

/** Reference 90-degree counter-clockwise rotation of an h x w x c image: transpose, then flip vertically. */
function rot90Reference(image: number[], size: number, channels: number): number[] {
  const out = new Array<number>(image.length);
  for (let r = 0; r < size; r++) {
    for (let c = 0; c < size; c++) {
      for (let k = 0; k < channels; k++) {
        // transposed[r][c] = image[c][r]; flipped vertically: row r reads transposed row size-1-r.
        out[(r * size + c) * channels + k] = image[(c * size + (size - 1 - r)) * channels + k]!;
      }
    }
  }
  return out;
}

test("rotation by 90 degrees is exactly transpose-and-flip; 360 and 0 are the identity", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 7 }),
      fc.integer({ min: 1, max: 3 }),
      fc.integer({ min: 0, max: 1 << 30 }),
      (size, channels, salt) => {
        const image = Float32Array.from({ length: size * size * channels }, (_, k) => ((k * 2654435761 + salt) % 1009) / 7);
        const shape = [size, size, channels];
        const once = Array.from(rotateImage(image, shape, 90));
        assert.deepEqual(once, rot90Reference(Array.from(image), size, channels));
        assert.deepEqual(Array.from(rotateImage(image, shape, 360)), Array.from(image));
        assert.deepEqual(Array.from(rotateImage(image, shape, 0)), Array.from(image));
        assert.deepEqual(Array.from(rotateImage(image, shape, -90)), Array.from(rotateImage(image, shape, 270)));
        const twice = Array.from(rotateImage(Float32Array.from(once), shape, 90));
        assert.deepEqual(twice, Array.from(image).map((_, k) => {
          const pixel = Math.floor(k / channels);
          const mirrored = size * size - 1 - pixel; // 180 degrees reverses the pixel order
          return image[mirrored * channels + (k % channels)]!;
        }));
      },
    ),
    { numRuns: 60 },
  );
});

test("rotation by 45 degrees interpolates bilinearly and fills with zeros outside", () => {
  const image = Float32Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9);
  const rotated = rotateImage(image, [3, 3], 45);
  // Output (0, 0) samples the input at row 1 - sqrt(2), column 1: (2 - sqrt(2)) of pixel (0, 1) plus zero fill.
  assert.ok(Math.abs(rotated[0]! - (2 - Math.SQRT2) * 2) < 1e-6, `got ${rotated[0]}`);
  // Output (0, 1) samples (1 - sqrt(2)/2, 1 + sqrt(2)/2), up and right of the centre (counter-clockwise):
  // a blend of pixels (0,1), (0,2), (1,1), (1,2).
  const f = 1 - Math.SQRT1_2;
  const expected = (1 - f) * f * 2 + (1 - f) * (1 - f) * 3 + f * f * 5 + f * (1 - f) * 6;
  assert.ok(Math.abs(rotated[1]! - expected) < 1e-6, `got ${rotated[1]}, expected ${expected}`);
  assert.equal(rotated[4], 5, "the centre stays put");
});

test("rotatedImages: default angles evenly spaced in [0, 180), flat features with imageShape", () => {
  const train = distinct(4, [16]);
  const test = distinct(2, [16], 3, 10);
  const updates = rotatedImages({ train, test, tasks: 4, seed: 1, imageShape: [4, 4] });
  assert.equal(updates.length, 4);
  assert.deepEqual(updates[0]!.train.features, train.features, "angle 0 leaves images unchanged");
  for (let i = 0; i < train.length; i++) {
    assert.deepEqual(row(updates[2]!.train, i), rot90Reference(row(train, i), 4, 1), "update 2 of 4 rotates by 90");
  }
  for (let i = 0; i < test.length; i++) {
    assert.deepEqual(row(updates[2]!.test, i), rot90Reference(row(test, i), 4, 1));
    assert.deepEqual(row(updates[1]!.test, i), Array.from(rotateImage(Float32Array.from(row(test, i)), [4, 4], 45)));
  }
  assert.ok(updates.every((u) => u.taskId === "default_task" && u.train.featureShape[0] === 16));
  assert.deepEqual(updates[3]!.classes, [0, 1, 2]);

  const hwc = distinct(3, [3, 3, 2]);
  const [turned] = rotatedImages({ train: hwc, test: hwc, angles: [90], seed: 1 });
  assert.deepEqual(row(turned!.train, 1), rot90Reference(row(hwc, 1), 3, 2));

  const sampled = rotatedImages({ train, test, angles: [10, 20], seed: 4, imageShape: [4, 4], trainPerTask: 3, testPerTask: 1 });
  assert.deepEqual(sampled.map((u) => [u.train.length, u.test.length]), [[3, 1], [3, 1]]);
});

test("rotatedImages: errors name the option at fault", () => {
  const flat = distinct(2, [16]);
  assert.throws(() => rotatedImages({ train: flat, test: flat, tasks: 2, seed: 1 }),
    isError(OptionsError, /shape \[h, w\] or \[h, w, c\], got \[16\]; pass imageShape/));
  assert.throws(() => rotatedImages({ train: flat, test: flat, tasks: 2, seed: 1, imageShape: [3, 5] }),
    isError(OptionsError, /imageShape \[3, 5\] holds 15 values but the samples \(featureShape \[16\]\) hold 16/));
  const square = distinct(2, [4, 4]);
  assert.throws(() => rotatedImages({ train: square, test: square, tasks: 3, angles: [0, 90], seed: 1 }),
    isError(OptionsError, /tasks = 3 but 2 angles/));
  assert.throws(() => rotatedImages({ train: square, test: square, angles: [0, Number.NaN], seed: 1 }),
    isError(OptionsError, /angles\[1\] = NaN is not a finite number/));
  assert.throws(() => rotatedImages({ train: square, test: square, seed: 1 }),
    isError(OptionsError, /tasks must be an integer >= 1, got undefined/));
});
