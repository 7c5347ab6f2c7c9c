import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { DataError, OptionsError } from "../../src/errors.js";
import { Random } from "../../src/random.js";
import { createDataset, featureSize, type Dataset } from "../../src/data/dataset.js";
import {
  composeTargetTransforms,
  composeTransforms,
  gatherBatch,
  normalize,
  randomHorizontalFlip,
  type FeatureTransform,
} from "../../src/data/transforms.js";

function rowOf(ds: Dataset, i: number): number[] {
  const size = featureSize(ds.featureShape);
  return Array.from(ds.features.subarray(i * size, (i + 1) * size));
}

function counting(length: number, shape: number[], numClasses: number): Dataset {
  const size = featureSize(shape);
  return createDataset({
    features: Float32Array.from({ length: length * size }, (_, i) => i),
    labels: Int32Array.from({ length }, (_, i) => i % numClasses),
    featureShape: shape,
    numClasses,
  });
}

const context = (featureShape: number[], seed = 0) => ({ featureShape, random: Random.fromSeed(seed) });

test("gatherBatch returns the requested rows in order", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 30 }),
      fc.integer({ min: 1, max: 6 }),
      fc.array(fc.nat(), { maxLength: 40 }),
      (length, size, raw) => {
        const ds = counting(length, [size], 3);
        const indices = raw.map((r) => r % length);
        const batch = gatherBatch(ds, indices);
        assert.equal(batch.features.length, indices.length * size);
        assert.equal(batch.labels.length, indices.length);
        indices.forEach((index, k) => {
          assert.deepEqual(Array.from(batch.features.subarray(k * size, (k + 1) * size)), rowOf(ds, index));
          assert.equal(batch.labels[k], ds.labels[index]);
        });
      },
    ),
  );
});

test("gatherBatch reuses big-enough out buffers and allocates otherwise", () => {
  const ds = counting(10, [3], 4);
  const out = { features: new Float32Array(4 * 3), labels: new Int32Array(4) };
  const batch = gatherBatch(ds, Int32Array.of(7, 2), {}, out);
  assert.equal(batch.features.buffer, out.features.buffer);
  assert.equal(batch.labels.buffer, out.labels.buffer);
  assert.deepEqual(Array.from(batch.features), [21, 22, 23, 6, 7, 8]);
  assert.deepEqual(Array.from(batch.labels), [3, 2]);
  assert.deepEqual(Array.from(out.features.subarray(0, 6)), [21, 22, 23, 6, 7, 8]);
  const bigger = gatherBatch(ds, [0, 1, 2, 3, 4], {}, out);
  assert.notEqual(bigger.features.buffer, out.features.buffer);
  assert.equal(bigger.features.length, 15);
});

test("gatherBatch rejects out-of-range indices instead of copying short rows", () => {
  const ds = counting(3, [2], 2);
  assert.throws(() => gatherBatch(ds, [0, 3]), /gatherBatch: index 3 at position 1 is not a sample of a dataset of length 3/);
  const id: FeatureTransform = (s) => s;
  assert.throws(() => gatherBatch(ds, [-1], { transform: id, random: Random.fromSeed(1) }), DataError);
});

test("gatherBatch applies feature and target transforms, checking their outputs", () => {
  const ds = counting(4, [2], 4);
  const double: FeatureTransform = (s) => s.map((v) => 2 * v);
  const batch = gatherBatch(ds, [3, 1], {
    transform: double,
    targetTransform: (label) => label + 1,
    random: Random.fromSeed(0),
    numClasses: 5,
  });
  assert.deepEqual(Array.from(batch.features), [12, 14, 4, 6]);
  assert.deepEqual(Array.from(batch.labels), [4, 2]);
  // The dataset itself is untouched.
  assert.deepEqual(rowOf(ds, 3), [6, 7]);

  assert.throws(
    () => gatherBatch(ds, [3], { targetTransform: (label) => label + 1 }),
    /target transform mapped label 3 of sample 3 to 4, expected an integer in \[0, 4\)/,
  );
  assert.throws(() => gatherBatch(ds, [0], { targetTransform: () => 0.5 }), DataError);
  assert.throws(
    () => gatherBatch(ds, [2], { transform: () => new Float32Array(3), random: Random.fromSeed(0) }),
    /transform of sample 2 returned 3 values, expected a Float32Array of 2 values/,
  );
  assert.throws(
    () => gatherBatch(ds, [2], { transform: (() => [1, 2]) as unknown as FeatureTransform, random: Random.fromSeed(0) }),
    /returned a value of type Array, expected a Float32Array/,
  );
  assert.throws(() => gatherBatch(ds, [0], { transform: double }), OptionsError);
});

test("composeTransforms runs left to right and names the faulty step", () => {
  const plusOne: FeatureTransform = (s) => s.map((v) => v + 1);
  const timesThree: FeatureTransform = (s) => s.map((v) => v * 3);
  const composed = composeTransforms(plusOne, timesThree);
  assert.deepEqual(Array.from(composed(Float32Array.of(0, 1), context([2]))), [3, 6]);
  const broken = composeTransforms(plusOne, () => new Float32Array(1));
  assert.throws(() => broken(Float32Array.of(0, 1), context([2])), /composeTransforms: step 1 returned 1 values/);
  assert.equal(composeTargetTransforms((l) => l * 2, (l) => l + 1)(3), 7);
});

test("normalize with scalars and per-channel arrays", () => {
  assert.deepEqual(Array.from(normalize(1, 2)(Float32Array.of(1, 3, 5), context([3]))), [0, 1, 2]);
  // HWC [1, 2, 2]: channels alternate.
  const perChannel = normalize([0, 10], [1, 2]);
  assert.deepEqual(Array.from(perChannel(Float32Array.of(1, 12, 3, 14), context([1, 2, 2]))), [1, 1, 3, 2]);
  assert.throws(
    () => perChannel(Float32Array.of(1, 2, 3), context([1, 1, 3])),
    /normalize: mean has 2 entries but featureShape \[1, 1, 3\] has 3 channels/,
  );
  assert.throws(() => normalize(0, 0), OptionsError);
  assert.throws(() => normalize(NaN, 1), OptionsError);
  const input = Float32Array.of(5, 5, 5);
  normalize(5, 1)(input, context([3]));
  assert.deepEqual(Array.from(input), [5, 5, 5]);
});

test("randomHorizontalFlip mirrors the width axis, p=0 never, p=1 always", () => {
  // [2, 3, 2]: rows of 3 pixels with 2 channels each.
  const sample = Float32Array.from({ length: 12 }, (_, i) => i);
  const flipped = randomHorizontalFlip(1)(sample, context([2, 3, 2]));
  assert.deepEqual(Array.from(flipped), [4, 5, 2, 3, 0, 1, 10, 11, 8, 9, 6, 7]);
  assert.deepEqual(Array.from(randomHorizontalFlip(0)(sample, context([2, 3, 2]))), Array.from(sample));
  assert.deepEqual(Array.from(sample), Array.from({ length: 12 }, (_, i) => i));
  assert.throws(() => randomHorizontalFlip(1)(sample, context([12])), /needs featureShape \[height, width, channels\]/);
  assert.throws(() => randomHorizontalFlip(1.5), OptionsError);

  // About half of the samples flip at p = 0.5, the same ones for the same seed.
  const ds = counting(400, [1, 2, 1], 2);
  const flips = (seed: number) => {
    const batch = gatherBatch(ds, [...Array(400).keys()], { transform: randomHorizontalFlip(), random: Random.fromSeed(seed) });
    return [...Array(400).keys()].map((k) => batch.features[2 * k]! > batch.features[2 * k + 1]!);
  };
  const count = flips(3).filter(Boolean).length;
  assert.ok(count > 150 && count < 250, `flipped ${count} of 400`);
  assert.deepEqual(flips(3), flips(3));
  assert.notDeepEqual(flips(3), flips(4));
});
