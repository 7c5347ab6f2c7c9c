// The drift detectors as users call them: Renate's detector tests (identical data scores 0, disjoint
// blobs score ~1), KS's Bonferroni correction against scipy, penultimate-layer features of a model,
// clear errors, and no tensor left behind.
import { before, test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { detectDrift, detectSampleDrift, driftFeatures } from "../../src/drift/detector.js";
import { ContinualModel } from "../../src/model/continual_model.js";
import { mlp } from "../../src/model/spec.js";
import { Random } from "../../src/random.js";
import { DataError, OptionsError } from "../../src/errors.js";
import type { UnlabelledSamples } from "../../src/data/dataset.js";
import { expectNoTensorLeak, useBackend } from "../helpers/backend.js";

before(async () => {
  await useBackend("cpu");
});

/** n rows of d standard Gaussian values (Box-Muller on relearn's seeded Random), plus `shift`. */
function gaussians(n: number, d: number, seed: number, shift = 0): UnlabelledSamples {
  const random = Random.fromSeed(seed);
  const features = Float32Array.from({ length: n * d }, () => Math.sqrt(-2 * Math.log(1 - random.float())) * Math.cos(2 * Math.PI * random.float()) + shift);
  return { features, featureShape: [d], length: n };
}

test("KS: Bonferroni over features, min(1, d * smallest p); scipy's exact ks_2samp per feature", async () => {
  // Per feature (scipy 1.10.1, ks_2samp(method="exact")): p = 0.4286, 2/126 = 0.015873 (feature 1 fully separated), 0.7460.
  const reference = tf.tensor2d([[0.1, 5, 1], [0.4, 6, 2], [0.2, 7, 3], [0.9, 8, 4], [0.5, 9, 5]]);
  const data = tf.tensor2d([[0.3, 1, 2.5], [0.6, 2, 3.5], [0.8, 3, 4.5], [0.7, 4, 6]]);
  try {
    const report = await expectNoTensorLeak(() => detectDrift(reference, data, { detector: "ks" }));
    assert.equal(report.mostShiftedFeature, 1);
    assert.ok(Math.abs(report.featurePValue! - 2 / 126) < 1e-12);
    assert.ok(Math.abs(report.pValue - 0.047619047619047616) < 1e-12);
    assert.ok(Math.abs(report.score - (1 - 0.047619047619047616)) < 1e-12);
    assert.equal(report.statistic, 1);
    assert.deepEqual([report.referenceRows, report.dataRows, report.features], [5, 4, 3]);
  } finally {
    reference.dispose();
    data.dispose();
  }
});

test("identical data scores 0 with both detectors (Renate's test_shift_detector_identical_data)", async () => {
  const samples = gaussians(100, 2, 1);
  for (const detector of ["mmd", "ks"] as const) {
    const report = await expectNoTensorLeak(() => detectSampleDrift(samples, samples, { detector, numPermutations: 100 }));
    assert.equal(report.score, 0, detector);
    assert.equal(report.pValue, 1, detector);
  }
});

test("Gaussians shifted by 2 score ~1 with both detectors (Renate's test_shift_detector_disjoint_data); an unshifted draw does not", async () => {
  const reference = gaussians(100, 2, 1);
  const shifted = gaussians(100, 2, 2, 2);
  const same = gaussians(100, 2, 3);
  const mmd = await expectNoTensorLeak(() => detectSampleDrift(reference, shifted, { numPermutations: 100 }));
  assert.equal(mmd.pValue, 1 / 101);
  const ks = await expectNoTensorLeak(() => detectSampleDrift(reference, shifted, { detector: "ks" }));
  assert.ok(ks.pValue < 1e-12, `KS p ${ks.pValue}`);
  for (const detector of ["mmd", "ks"] as const) {
    const report = await detectSampleDrift(reference, same, { detector, numPermutations: 100 });
    assert.ok(report.pValue > 0.05, `${detector} on a fresh draw of the same distribution: p ${report.pValue}`);
  }
});

test("MMD subsamples to maxSamples rows per side, seeded: same seed, same report", async () => {
  const reference = gaussians(300, 3, 4);
  const data = gaussians(250, 3, 5, 0.2);
  const options = { maxSamples: 50, numPermutations: 50, seed: 9 };
  const first = await expectNoTensorLeak(() => detectSampleDrift(reference, data, options));
  assert.deepEqual([first.referenceRows, first.dataRows], [50, 50]);
  assert.deepEqual(await detectSampleDrift(reference, data, options), first);
});

test("on a model's penultimate layer: features are the body's output (width of the last hidden layer)", async () => {
  const model = ContinualModel.build(mlp({ inputShape: [4], hidden: [16, 6], classes: 3 }), { seed: 1 });
  try {
    const reference = gaussians(60, 4, 6);
    const features = driftFeatures(reference, model);
    assert.deepEqual(features.shape, [60, 6]);
    features.dispose();
    const shifted = gaussians(60, 4, 7, 3);
    const report = await expectNoTensorLeak(() => detectSampleDrift(reference, shifted, { model, numPermutations: 100 }));
    assert.equal(report.features, 6);
    assert.equal(report.pValue, 1 / 101);
  } finally {
    model.dispose();
  }
});

test("bad input: an unknown detector, different widths, NaN values, too few rows, a bad maxSamples", async () => {
  const a = gaussians(10, 2, 1);
  const tensors = tf.memory().numTensors;
  await assert.rejects(detectSampleDrift(a, a, { detector: "chi2" as never }), (e) => e instanceof OptionsError && /mmd, ks/.test(e.message));
  await assert.rejects(detectSampleDrift(a, gaussians(10, 3, 1)), (e) => e instanceof DataError && /2 values and data rows 3/.test(e.message));
  const nan = gaussians(10, 2, 1);
  nan.features[3] = Number.NaN;
  await assert.rejects(detectSampleDrift(a, nan, { detector: "ks" }), (e) => e instanceof DataError && /data has NaN/.test(e.message));
  await assert.rejects(detectSampleDrift(a, gaussians(1, 2, 1)), (e) => e instanceof DataError && /at least 2 rows/.test(e.message));
  await assert.rejects(detectSampleDrift(a, a, { maxSamples: 1 }), (e) => e instanceof OptionsError && /maxSamples/.test(e.message));
  await assert.rejects(detectSampleDrift(a, a, { numPermutations: 1.5 }), (e) => e instanceof OptionsError && /numPermutations/.test(e.message));
  await assert.rejects(detectSampleDrift(a, a, { numPermutations: 0 }), (e) => e instanceof OptionsError && /at least 1 for a p-value/.test(e.message));
  assert.equal(tf.memory().numTensors, tensors, "no tensor left behind by a refused call");
});
