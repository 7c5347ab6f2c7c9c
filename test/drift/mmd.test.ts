// The MMD two-sample test: Renate's reference statistic, hand-computed values of the other estimators
// and of the median heuristic, and the permutation test's properties. Reference numbers are the
// closed forms below, evaluated in float64 (numpy) and cross-checked against Renate's test_mmd_helpers.py
// (1.6065 + 1.0821 - 2 * 0.2687 = 2.1512) and test_kernels.py (exp(-0.5 * [[1, 8], [2, 5]])).
import { before, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import * as tf from "@tensorflow/tfjs-core";
import { mmdTest } from "../../src/drift/mmd.js";
import { medianDistance, pairwiseSquaredDistances, rbfFromSquaredDistances } from "../../src/drift/rbf_kernel.js";
import { Random } from "../../src/random.js";
import { expectNoTensorLeak, useBackend } from "../helpers/backend.js";

before(async () => {
  await useBackend("cpu");
});

const close = (actual: number, expected: number, tolerance = 1e-6) =>
  assert.ok(Math.abs(actual - expected) <= tolerance, `${actual} is not within ${tolerance} of ${expected}`);

// Renate's test case: X0 = [[0,0],[0,1]], X1 = [[1,0],[2,2]].
const X0 = [[0, 0], [0, 1]];
const X1 = [[1, 0], [2, 2]];

/** Runs `body` on tensors of the two samples and frees them, checking nothing else is left. */
async function withSamples<T>(a: number[][], b: number[][], body: (x0: tf.Tensor2D, x1: tf.Tensor2D) => Promise<T>): Promise<T> {
  const x0 = tf.tensor2d(a);
  const x1 = tf.tensor2d(b);
  try {
    return await expectNoTensorLeak(() => body(x0, x1));
  } finally {
    x0.dispose();
    x1.dispose();
  }
}

test("RBF kernel with length scale 1 is exp(-0.5 d^2): Renate's test_rbf_vs_manual_computation", () => {
  const k = tf.tidy(() => rbfFromSquaredDistances(pairwiseSquaredDistances(tf.tensor2d([...X0, ...X1])), 1));
  const values = k.arraySync();
  k.dispose();
  const expected = [[1, 8], [2, 5]].map((row) => row.map((d2) => Math.exp(-0.5 * d2)));
  for (let i = 0; i < 2; i++) for (let j = 0; j < 2; j++) close(values[i]![2 + j]!, expected[i]![j]!);
  for (let i = 0; i < 4; i++) assert.equal(values[i]![i], 1, "k(x, x) is exactly 1");
});

test("MMD^2 with length scale 1 on Renate's case: 'renate' 2.1512, 'unbiased' 0.1512, 'biased' 0.8069", async () => {
  // Within-sample sums: S00 = 2 + 2 exp(-1/2), S11 = 2 + 2 exp(-5/2); cross mean
  // (exp(-1/2) + exp(-4) + exp(-1) + exp(-5/2)) / 4 = 0.2687.
  const s00 = 2 + 2 * Math.exp(-0.5);
  const s11 = 2 + 2 * Math.exp(-2.5);
  const cross = (Math.exp(-0.5) + Math.exp(-4) + Math.exp(-1) + Math.exp(-2.5)) / 4;
  const expected = { renate: s00 / 2 + s11 / 2 - 2 * cross, unbiased: (s00 - 2) / 2 + (s11 - 2) / 2 - 2 * cross, biased: s00 / 4 + s11 / 4 - 2 * cross };
  close(expected.renate, 2.151210289138178, 1e-15);
  close(expected.unbiased, 0.1512102891381778, 1e-15);
  close(expected.biased, 0.8069024599699118, 1e-15);
  await withSamples(X0, X1, async (x0, x1) => {
    for (const estimator of ["renate", "unbiased", "biased"] as const) {
      const result = await mmdTest(x0, x1, { lengthScale: 1, numPermutations: 0, estimator });
      close(result.statistic, expected[estimator]);
      assert.ok(Number.isNaN(result.pValue));
    }
  });
});

test("median heuristic: the median of the 6 distinct-pair distances of Renate's case, (sqrt 2 + sqrt 5) / 2", async () => {
  // Distances: 1, 1, sqrt 2, sqrt 5, sqrt 5, sqrt 8.
  await withSamples(X0, X1, async (x0, x1) => {
    const result = await mmdTest(x0, x1, { numPermutations: 0 });
    close(result.lengthScale, 1.8251407699364424);
    close(result.statistic, 0.1455640621306522); // unbiased MMD^2 at that scale (numpy)
  });
  assert.equal(medianDistance(Float64Array.from([0, 4, 9, 4, 0, 16, 9, 16, 0]), 3), 3, "odd count: the middle distance");
  assert.equal(medianDistance(new Float64Array(9), 3), 1, "all points equal: any scale, 1");
  assert.equal(medianDistance(Float64Array.from([0, 0, 4, 0, 0, 4, 4, 4, 0]), 3), 2, "zero distances (duplicates) left out");
});

test("'renate' and 'unbiased' differ by 1/(n0-1) + 1/(n1-1) and give the same p-value for the same seed", async () => {
  const random = Random.fromSeed(4);
  const sample = (rows: number, shift: number) => Array.from({ length: rows }, () => [random.float() + shift, random.float()]);
  await withSamples(sample(7, 0), sample(5, 0.3), async (x0, x1) => {
    const unbiased = await mmdTest(x0, x1, { numPermutations: 200, seed: 1 });
    const renate = await mmdTest(x0, x1, { numPermutations: 200, seed: 1, estimator: "renate" });
    close(renate.statistic - unbiased.statistic, 1 / 6 + 1 / 4, 1e-5);
    assert.equal(renate.pValue, unbiased.pValue);
  });
});

test("the permutation p-value converges to the exact one: 4 of the 20 splits of 3 + 3 points reach the observed MMD^2", async () => {
  // numpy over all C(6, 3) = 20 assignments, length scale 1: observed unbiased MMD^2 0.21490716277093302, reached or
  // exceeded by 4 splits (itself, its mirror and two at 0.40327): exact p = 0.2. 4000 seeded permutations: standard error 0.0063.
  await withSamples([[0, 0], [0, 1], [1, 1]], [[1, 0], [2, 2], [3, 1]], async (x0, x1) => {
    const result = await mmdTest(x0, x1, { lengthScale: 1, numPermutations: 4000, seed: 3 });
    close(result.statistic, 0.21490716277093302);
    close(result.pValue, 0.2, 0.02);
  });
});

test("identical samples: p = 1 (every permutation ties or exceeds); Renate's test_mmd_identical_data", async () => {
  const random = Random.fromSeed(1);
  const x = Array.from({ length: 100 }, () => [random.float(), random.float()]);
  await withSamples(x, x, async (x0, x1) => {
    const result = await mmdTest(x0, x1, { numPermutations: 100 });
    assert.equal(result.pValue, 1);
  });
});

test("Gaussians 2 apart: the smallest p-value, 1 / (B + 1); the same seed repeats it, any seed finds it", async () => {
  const random = Random.fromSeed(2);
  const gaussian = () => Math.sqrt(-2 * Math.log(1 - random.float())) * Math.cos(2 * Math.PI * random.float());
  const x0 = Array.from({ length: 100 }, () => [gaussian(), gaussian()]);
  const x1 = Array.from({ length: 100 }, () => [gaussian() + 2, gaussian() + 2]);
  await withSamples(x0, x1, async (a, b) => {
    for (const seed of [0, 7]) assert.equal((await mmdTest(a, b, { numPermutations: 100, seed })).pValue, 1 / 101);
  });
});

test("the statistic does not depend on the order of rows in either sample, nor (unbiased) on which sample is the reference", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.tuple(fc.integer({ min: -4, max: 4 }), fc.integer({ min: -4, max: 4 })), { minLength: 2, maxLength: 8 }),
      fc.array(fc.tuple(fc.integer({ min: -4, max: 4 }), fc.integer({ min: -4, max: 4 })), { minLength: 2, maxLength: 8 }),
      fc.integer({ min: 0, max: 1000 }),
      async (a, b, seed) => {
        const shuffled = (rows: [number, number][]) => Array.from(Random.fromSeed(seed).permutation(rows.length), (i) => rows[i]!);
        const options = { lengthScale: 1.5, numPermutations: 0 };
        const base = await withSamples(a, b, (x0, x1) => mmdTest(x0, x1, options));
        const reordered = await withSamples(shuffled(a), shuffled(b), (x0, x1) => mmdTest(x0, x1, options));
        const swapped = await withSamples(b, a, (x0, x1) => mmdTest(x0, x1, options));
        close(reordered.statistic, base.statistic, 1e-5);
        close(swapped.statistic, base.statistic, 1e-5);
      },
    ),
    { numRuns: 30 },
  );
});

test("p-values lie in [1/(B+1), 1] and repeat for the same seed", async () => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 0, max: 10_000 }), fc.integer({ min: 1, max: 60 }), async (seed, permutations) => {
      const random = Random.fromSeed(seed);
      const sample = (rows: number) => Array.from({ length: rows }, () => [random.float(), random.float(), random.float()]);
      const [a, b] = [sample(9), sample(6)];
      const first = await withSamples(a, b, (x0, x1) => mmdTest(x0, x1, { numPermutations: permutations, seed }));
      const again = await withSamples(a, b, (x0, x1) => mmdTest(x0, x1, { numPermutations: permutations, seed }));
      assert.equal(again.pValue, first.pValue);
      assert.ok(first.pValue >= 1 / (permutations + 1) && first.pValue <= 1);
      const count = first.pValue * (permutations + 1); // (1 + permutations at or above the observed), a whole number
      assert.ok(Math.abs(count - Math.round(count)) < 1e-9, `p * (B + 1) = ${count}`);
    }),
    { numRuns: 20 },
  );
});

test("bad input is refused: one row, different widths, a negative permutation count or length scale", async () => {
  await withSamples([[1, 2]], [[1, 2], [3, 4]], async (x0, x1) => {
    await assert.rejects(mmdTest(x0, x1), /at least 2 rows/);
  });
  await withSamples([[1, 2], [3, 4]], [[1], [2]], async (x0, x1) => {
    await assert.rejects(mmdTest(x0, x1), /2 and 1 features/);
  });
  await withSamples(X0, X1, async (x0, x1) => {
    await assert.rejects(mmdTest(x0, x1, { numPermutations: -1 }), /numPermutations/);
    await assert.rejects(mmdTest(x0, x1, { lengthScale: 0 }), /lengthScale must be a positive/);
  });
});
