import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { DataError } from "../../src/errors.js";
import { createDataset, featureSize, type Dataset } from "../../src/data/dataset.js";
import {
  classHistogram,
  classesPresent,
  concatDatasets,
  filterByClasses,
  subsetDataset,
} from "../../src/data/dataset_ops.js";

function rowOf(ds: Dataset, i: number): number[] {
  const size = featureSize(ds.featureShape);
  return Array.from(ds.features.subarray(i * size, (i + 1) * size));
}

/** Arbitrary valid datasets: small shapes, small-integer features (exact in float32). */
const datasetArb = fc
  .record({
    shape: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 3 }),
    numClasses: fc.integer({ min: 1, max: 5 }),
    length: fc.nat(12),
  })
  .chain(({ shape, numClasses, length }) =>
    fc.record({
      shape: fc.constant(shape),
      numClasses: fc.constant(numClasses),
      labels: fc.array(fc.nat(numClasses - 1), { minLength: length, maxLength: length }),
      features: fc.array(fc.integer({ min: -100, max: 100 }), {
        minLength: length * featureSize(shape),
        maxLength: length * featureSize(shape),
      }),
    }),
  )
  .map(({ shape, numClasses, labels, features }) =>
    createDataset({ features, labels, featureShape: shape, numClasses }),
  );

test("featureSize is the product of the dims", () => {
  assert.equal(featureSize([28, 28, 1]), 784);
  assert.equal(featureSize([5]), 5);
  assert.equal(featureSize([2, 3, 4]), 24);
});

test("createDataset copies plain arrays and keeps typed arrays", () => {
  const ds = createDataset({ features: [1, 2, 3, 4, 5, 6], labels: [0, 2], featureShape: [3], numClasses: 3 });
  assert.ok(ds.features instanceof Float32Array && ds.labels instanceof Int32Array);
  assert.deepEqual(Array.from(ds.features), [1, 2, 3, 4, 5, 6]);
  assert.deepEqual(Array.from(ds.labels), [0, 2]);
  assert.equal(ds.length, 2);
  const features = new Float32Array([1, 2]);
  const labels = new Int32Array([1]);
  const typed = createDataset({ features, labels, featureShape: [1, 2], numClasses: 2 });
  assert.equal(typed.features, features);
  assert.equal(typed.labels, labels);
  const empty = createDataset({ features: [], labels: [], featureShape: [4], numClasses: 1 });
  assert.equal(empty.length, 0);
});

test("createDataset rejects every broken invariant with a precise message", () => {
  const base = { features: [0, 1, 2, 3], labels: [0, 1], featureShape: [2], numClasses: 2 };
  const cases: [Partial<typeof base> & Record<string, unknown>, RegExp][] = [
    [{ features: [0, 1, 2] }, /^src\.bin: 2 labels with featureShape \[2\] need 4 feature values \(2 x 2\), got 3$/],
    [{ featureShape: [] }, /src\.bin: featureShape must be a non-empty list of positive integers, got \[\]/],
    [{ featureShape: [2, 0] }, /featureShape must be .* got \[2,0\]/],
    [{ featureShape: [1.5] }, /featureShape must be .* got \[1\.5\]/],
    [{ numClasses: 0 }, /src\.bin: numClasses must be a positive integer, got 0/],
    [{ numClasses: 2.5 }, /numClasses must be a positive integer, got 2\.5/],
    [{ labels: [0, 2] }, /^src\.bin: sample 1 has label 2, expected an integer in \[0, 2\)$/],
    [{ labels: [-1, 0] }, /sample 0 has label -1/],
    [{ labels: [0, 0.5] }, /sample 1 has label 0\.5/],
    [{ features: [0, 1, 2, NaN] }, /^src\.bin: sample 1 has a non-finite feature \(NaN\) at position 1$/],
    [{ features: [0, Infinity, 2, 3] }, /sample 0 has a non-finite feature \(Infinity\) at position 1/],
    [{ features: [0, 1, 1e39, 3] }, /sample 1 has a non-finite feature \(Infinity\) at position 0/],
  ];
  for (const [change, message] of cases) {
    assert.throws(
      () => createDataset({ ...base, ...change } as typeof base, "src.bin"),
      (error: unknown) => error instanceof DataError && message.test(error.message),
      `case ${JSON.stringify(change)}`,
    );
  }
  assert.throws(() => createDataset({ ...base, labels: [0, 5] }), {
    name: "DataError",
    message: /^dataset: sample 1 has label 5/,
  });
});

test("subsetDataset gathers the requested rows in order", () => {
  fc.assert(
    fc.property(
      datasetArb.filter((ds) => ds.length > 0).chain((ds) =>
        fc.tuple(fc.constant(ds), fc.array(fc.nat(ds.length - 1), { maxLength: 20 })),
      ),
      ([ds, indices]) => {
        const sub = subsetDataset(ds, indices);
        assert.equal(sub.length, indices.length);
        assert.deepEqual(sub.featureShape, ds.featureShape);
        indices.forEach((index, k) => {
          assert.deepEqual(rowOf(sub, k), rowOf(ds, index));
          assert.equal(sub.labels[k], ds.labels[index]);
        });
      },
    ),
  );
});

test("subsetDataset rejects indices outside the dataset", () => {
  const ds = createDataset({ features: [1, 2, 3], labels: [0, 1, 0], featureShape: [1], numClasses: 2 });
  assert.throws(() => subsetDataset(ds, [0, 3]), /index 3 at position 1 is not a sample of a dataset of length 3/);
  assert.throws(() => subsetDataset(ds, [-1]), DataError);
  assert.throws(() => subsetDataset(ds, [0.5]), DataError);
});

test("concatDatasets stacks rows, adds lengths, takes the largest numClasses", () => {
  fc.assert(
    fc.property(fc.array(datasetArb, { minLength: 1, maxLength: 4 }), (list) => {
      const shape = list[0]!.featureShape;
      const same = list.filter((ds) => ds.featureShape.join() === shape.join());
      const joined = concatDatasets(same);
      assert.equal(joined.length, same.reduce((sum, ds) => sum + ds.length, 0));
      assert.equal(joined.numClasses, Math.max(...same.map((ds) => ds.numClasses)));
      let row = 0;
      for (const ds of same) {
        for (let i = 0; i < ds.length; i++, row++) {
          assert.deepEqual(rowOf(joined, row), rowOf(ds, i));
          assert.equal(joined.labels[row], ds.labels[i]);
        }
      }
    }),
  );
});

test("concatDatasets rejects mismatched shapes and an empty list", () => {
  const a = createDataset({ features: [1, 2], labels: [0], featureShape: [2], numClasses: 1 });
  const b = createDataset({ features: [1, 2], labels: [0], featureShape: [1, 2], numClasses: 1 });
  assert.throws(() => concatDatasets([a, a, b]), /dataset 2 has featureShape \[1, 2\], dataset 0 has \[2\]/);
  assert.throws(() => concatDatasets([]), DataError);
});

test("classHistogram sums to the length and matches a direct count", () => {
  fc.assert(
    fc.property(datasetArb, (ds) => {
      const histogram = classHistogram(ds);
      assert.equal(histogram.length, ds.numClasses);
      assert.equal(histogram.reduce((a, b) => a + b, 0), ds.length);
      histogram.forEach((count, c) => assert.equal(count, Array.from(ds.labels).filter((l) => l === c).length));
      assert.deepEqual(classesPresent(ds), [...new Set(ds.labels)].sort((x, y) => x - y));
    }),
  );
  const ds = createDataset({ features: [0, 0, 0, 0, 0], labels: [3, 1, 3, 3, 1], featureShape: [1], numClasses: 5 });
  assert.deepEqual(classHistogram(ds), [0, 2, 0, 3, 0]);
  assert.deepEqual(classesPresent(ds), [1, 3]);
});

test("filterByClasses keeps exactly the chosen classes, in order, same label space", () => {
  fc.assert(
    fc.property(
      datasetArb.chain((ds) => fc.tuple(fc.constant(ds), fc.subarray([...Array(ds.numClasses).keys()]))),
      ([ds, classes]) => {
        const kept = filterByClasses(ds, classes);
        const expected = [...Array(ds.length).keys()].filter((i) => classes.includes(ds.labels[i]!));
        assert.equal(kept.length, expected.length);
        assert.equal(kept.numClasses, ds.numClasses);
        expected.forEach((i, k) => {
          assert.deepEqual(rowOf(kept, k), rowOf(ds, i));
          assert.equal(kept.labels[k], ds.labels[i]);
        });
      },
    ),
  );
  const ds = createDataset({ features: [0], labels: [0], featureShape: [1], numClasses: 2 });
  assert.throws(() => filterByClasses(ds, [2]), /class 2 is not in \[0, 2\)/);
});
