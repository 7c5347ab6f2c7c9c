import { test } from "node:test";
import assert from "node:assert/strict";
import { OptionsError } from "../../src/errors.js";
import { makeGaussianBlobs } from "../../src/data/synthetic.js";
import { classHistogram } from "../../src/data/dataset_ops.js";
import type { Dataset } from "../../src/data/dataset.js";

/** Accuracy on `test` of the classifier "nearest class mean of `train`". */
function nearestMeanAccuracy(train: Dataset, test: Dataset): number {
  const dims = train.featureShape[0]!;
  const means = new Float64Array(train.numClasses * dims);
  const counts = classHistogram(train);
  for (let i = 0; i < train.length; i++) {
    const c = train.labels[i]!;
    for (let d = 0; d < dims; d++) means[c * dims + d]! += train.features[i * dims + d]! / counts[c]!;
  }
  let correct = 0;
  for (let i = 0; i < test.length; i++) {
    let best = -1;
    let bestDistance = Infinity;
    for (let c = 0; c < train.numClasses; c++) {
      let distance = 0;
      for (let d = 0; d < dims; d++) distance += (test.features[i * dims + d]! - means[c * dims + d]!) ** 2;
      if (distance < bestDistance) [best, bestDistance] = [c, distance];
    }
    if (best === test.labels[i]) correct++;
  }
  return correct / test.length;
}

test("same seed gives identical blobs; another seed does not", () => {
  const options = { numClasses: 4, samplesPerClass: 25, dims: 5, seed: 11 };
  const a = makeGaussianBlobs(options);
  const b = makeGaussianBlobs(options);
  assert.deepEqual(a.features, b.features);
  assert.deepEqual(a.labels, b.labels);
  const c = makeGaussianBlobs({ ...options, seed: 12 });
  assert.notDeepEqual(c.features, a.features);
});

test("shape, balance and shuffling", () => {
  const ds = makeGaussianBlobs({ numClasses: 3, samplesPerClass: 50, dims: 7, seed: 1 });
  assert.equal(ds.length, 150);
  assert.deepEqual(ds.featureShape, [7]);
  assert.equal(ds.features.length, 150 * 7);
  assert.deepEqual(classHistogram(ds), [50, 50, 50]);
  assert.ok(ds.features.every(Number.isFinite));
  // Shuffled: the labels are not in blocks of one class.
  const changes = Array.from(ds.labels).filter((label, i) => i > 0 && label !== ds.labels[i - 1]).length;
  assert.ok(changes > 50, `${changes} label changes`);
});

test("noise has the requested spread around the class centre", () => {
  // With spread 0 every sample sits on its centre; with spread 2 the per-coordinate std is about 2.
  const still = makeGaussianBlobs({ numClasses: 2, samplesPerClass: 500, dims: 4, seed: 5, spread: 0 });
  const noisy = makeGaussianBlobs({ numClasses: 2, samplesPerClass: 500, dims: 4, seed: 5, spread: 2 });
  const centre = (ds: Dataset, c: number) =>
    [0, 1, 2, 3].map((d) => {
      const values = Array.from(ds.labels).flatMap((l, i) => (l === c ? [ds.features[i * 4 + d]!] : []));
      const mean = values.reduce((a, b) => a + b, 0) / values.length;
      const std = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length);
      return { mean, std };
    });
  for (const c of [0, 1]) {
    const exact = centre(still, c);
    centre(noisy, c).forEach(({ mean, std }, d) => {
      assert.equal(exact[d]!.std, 0);
      assert.ok(Math.abs(mean - exact[d]!.mean) < 0.3, `class ${c} dim ${d}: mean ${mean} vs ${exact[d]!.mean}`);
      assert.ok(Math.abs(std - 2) < 0.2, `class ${c} dim ${d}: std ${std}`);
    });
  }
});

test("classes are separable at the defaults: nearest class mean > 0.9 on fresh samples", () => {
  const train = makeGaussianBlobs({ numClasses: 10, samplesPerClass: 100, dims: 20, seed: 3 });
  const test = makeGaussianBlobs({ numClasses: 10, samplesPerClass: 100, dims: 20, seed: 3, sampleSeed: 99 });
  assert.notDeepEqual(test.features, train.features);
  const accuracy = nearestMeanAccuracy(train, test);
  assert.ok(accuracy > 0.9, `accuracy ${accuracy}`);
  // Crushed together (separation tiny against the noise) the classes are not separable: the check can fail.
  const blurred = (sampleSeed: number) =>
    makeGaussianBlobs({ numClasses: 10, samplesPerClass: 100, dims: 20, seed: 3, sampleSeed, separation: 0.05 });
  assert.ok(nearestMeanAccuracy(blurred(3), blurred(99)) < 0.5);
});

test("options are validated", () => {
  const base = { numClasses: 2, samplesPerClass: 3, dims: 2, seed: 0 };
  for (const change of [{ numClasses: 0 }, { samplesPerClass: 1.5 }, { dims: -1 }, { seed: 0.5 }, { spread: -1 }, { separation: 0 }]) {
    assert.throws(() => makeGaussianBlobs({ ...base, ...change }), OptionsError, JSON.stringify(change));
  }
  assert.throws(() => makeGaussianBlobs({ ...base, dims: 0 }), /makeGaussianBlobs: dims must be a positive integer, got 0/);
});
