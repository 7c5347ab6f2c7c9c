import { test, before } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import * as tf from "@tensorflow/tfjs-core";
import { useBackend } from "../helpers/backend.js";
import { crossEntropyLoss, doubleDistillationLoss } from "../../src/training/losses.js";

before(async () => {
  await useBackend("wasm");
});

function close(actual: ArrayLike<number>, expected: readonly number[], tolerance = 1e-6): void {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i]! - expected[i]!) <= tolerance * Math.max(1, Math.abs(expected[i]!)), `index ${i}: ${actual[i]} vs ${expected[i]}`);
  }
}

// SPEC section 1, reference table: [case, z, t, per-row, batch]
const cases: [string, number[][], number[][], number[], number][] = [
  ["A", Array.from({ length: 10 }, () => [1, 1, 1]), Array.from({ length: 10 }, () => [0, 0, 0]), Array(10).fill(0.5), 0.5],
  ["B", [[1, 2, 3]], [[1, 2, 3]], [2.0], 2.0],
  ["C", [[0, 0, 0], [1, -1, 0]], [[3, 3, 3], [2, 0, -2]], [0, 1], 0.5],
  ["D", [[-1, 0, 1]], [[10, 11, 12]], [0], 0],
  ["E", [[9, 10, 11]], [[-1, 0, 1]], [50], 50],
  [
    "F",
    [[0.5, -1.2, 2.0, 0.1], [1.5, 1.5, 1.5, 1.5], [-0.3, 0.8, -2.1, 3.3]],
    [[2, 0, -1, 3], [0.25, -0.75, 1.25, -0.5], [1, 1, 1, 5]],
    [2.4875, 1.427734375, 0.62875],
    1.5146614,
  ],
];

for (const [name, z, t, perRow, batch] of cases) {
  test(`doubleDistillationLoss SPEC case ${name}`, () => {
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      const loss = doubleDistillationLoss(tf.tensor2d(z), tf.tensor2d(t));
      assert.deepEqual(loss.shape, [z.length]);
      close(loss.dataSync(), perRow);
      close(tf.mean(loss).dataSync(), [batch]);
    });
    assert.equal(tf.memory().numTensors, before);
  });
}

test("doubleDistillationLoss gradient for SPEC case C is (z - t~)/(B*C)", () => {
  const before = tf.memory().numTensors;
  tf.tidy(() => {
    const z = tf.tensor2d([[0, 0, 0], [1, -1, 0]]);
    const t = tf.tensor2d([[3, 3, 3], [2, 0, -2]]);
    const grad = tf.grad((x: tf.Tensor) => tf.mean(doubleDistillationLoss(x as tf.Tensor2D, t)))(z);
    close(grad.dataSync(), [0, 0, 0, -1 / 6, -1 / 6, 1 / 3]);
  });
  assert.equal(tf.memory().numTensors, before);
});

const rows = fc.integer({ min: 1, max: 5 }).chain((b) =>
  fc.integer({ min: 1, max: 6 }).chain((c) =>
    fc.tuple(
      fc.array(fc.array(fc.float({ min: -10, max: 10, noNaN: true }), { minLength: c, maxLength: c }), { minLength: b, maxLength: b }),
      fc.array(fc.array(fc.float({ min: -10, max: 10, noNaN: true }), { minLength: c, maxLength: c }), { minLength: b, maxLength: b }),
      fc.float({ min: -50, max: 50, noNaN: true }),
    ),
  ),
);

test("property: a constant added to a target row changes nothing; added to a student row it does", () => {
  fc.assert(
    fc.property(rows, ([z, t, shift]) => {
      return tf.tidy(() => {
        const base = doubleDistillationLoss(tf.tensor2d(z), tf.tensor2d(t)).dataSync();
        const shiftedTarget = doubleDistillationLoss(tf.tensor2d(z), tf.add(tf.tensor2d(t), shift) as tf.Tensor2D).dataSync();
        for (let i = 0; i < base.length; i++) if (Math.abs(base[i]! - shiftedTarget[i]!) > 1e-3 * Math.max(1, base[i]!)) return false;
        // Shifting the student by s adds exactly s * (mean(z - t~)) * ... : the loss moves unless s = 0.
        if (Math.abs(shift) > 0.5) {
          const shiftedStudent = doubleDistillationLoss(tf.add(tf.tensor2d(z), shift) as tf.Tensor2D, tf.tensor2d(t)).dataSync();
          // 0.5*mean((d + s)^2) - 0.5*mean(d^2) = s*mean(d) + s^2/2, and mean(d) = mean(z) since t~ has zero mean.
          for (let i = 0; i < base.length; i++) {
            const meanZ = z[i]!.reduce((a, b) => a + b, 0) / z[i]!.length;
            const expected = base[i]! + shift * meanZ + (shift * shift) / 2;
            if (Math.abs(shiftedStudent[i]! - expected) > 1e-3 * Math.max(1, Math.abs(expected))) return false;
          }
        }
        return true;
      });
    }),
    { numRuns: 60 },
  );
});

test("doubleDistillationLoss rejects mismatched shapes", () => {
  tf.tidy(() => {
    assert.throws(() => doubleDistillationLoss(tf.zeros([2, 3]) as tf.Tensor2D, tf.zeros([2, 4]) as tf.Tensor2D), /differ in shape/);
  });
});

test("crossEntropyLoss matches -log softmax at the label, per row", () => {
  const before = tf.memory().numTensors;
  tf.tidy(() => {
    const logits = tf.tensor2d([[2, 1, 0], [0, 0, 0], [1000, 0, -1000]]);
    const loss = crossEntropyLoss(logits, tf.tensor1d([0, 2, 0], "int32")).dataSync();
    const lse = Math.log(Math.exp(2) + Math.exp(1) + 1);
    close(loss, [lse - 2, Math.log(3), 0], 1e-5);
  });
  assert.equal(tf.memory().numTensors, before);
});
