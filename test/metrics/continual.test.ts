import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  averageAccuracy,
  backwardTransfer,
  forgetting,
  forwardTransfer,
  microAverageAccuracy,
  summarizeAccuracyMatrix,
} from "../../src/metrics/continual.js";

// SPEC section 6 check values.
const matrix = [
  [0.9362, 0.6093, 0.3326],
  [0.8284, 0.9507, 0.3383],
  [0.4377, 0.4826, 0.9439],
];
const init = [0.2, 0.1, 0.09];
const testSizes = [10, 5, 10];

function assertClose(actual: readonly number[] | undefined, expected: readonly number[], what: string): void {
  assert.ok(actual !== undefined, `${what} is missing`);
  assert.equal(actual.length, expected.length, `${what} length`);
  actual.forEach((value, t) => {
    assert.ok(Math.abs(value - expected[t]!) < 1e-4, `${what}[${t}] = ${value}, expected ${expected[t]}`);
  });
}

test("summary matches every SPEC check value", () => {
  const summary = summarizeAccuracyMatrix(matrix, { testSizes, init });
  assertClose(summary.averageAccuracy, [0.9362, 0.88955, 0.6214], "average accuracy");
  assertClose(summary.microAverageAccuracy, [0.9362, 0.8691667, 0.64916], "micro average accuracy");
  assertClose(summary.forgetting, [0, 0.1078, 0.4833], "forgetting");
  assertClose(summary.backwardTransfer, [0, -0.1078, -0.4833], "backward transfer");
  assertClose(summary.forwardTransfer, [0, 0.5093, 0.3788], "forward transfer");
});

test("the per-update functions agree with the summary", () => {
  const summary = summarizeAccuracyMatrix(matrix, { testSizes, init });
  for (let t = 0; t < 3; t++) {
    assert.equal(averageAccuracy(matrix, t), summary.averageAccuracy[t]);
    assert.equal(microAverageAccuracy(matrix, t, testSizes), summary.microAverageAccuracy[t]);
    assert.equal(forgetting(matrix, t), summary.forgetting[t]);
    assert.equal(backwardTransfer(matrix, t), summary.backwardTransfer[t]);
    assert.equal(forwardTransfer(matrix, t, init), summary.forwardTransfer![t]);
  }
});

test("without init there is no forward transfer series", () => {
  assert.equal("forwardTransfer" in summarizeAccuracyMatrix(matrix, { testSizes }), false);
});

test("a lower-triangular (ragged) matrix gives the same values, but no forward transfer", () => {
  const ragged = matrix.map((row, t) => row.slice(0, t + 1));
  const summary = summarizeAccuracyMatrix(ragged, { testSizes });
  assertClose(summary.averageAccuracy, [0.9362, 0.88955, 0.6214], "average accuracy");
  assertClose(summary.microAverageAccuracy, [0.9362, 0.8691667, 0.64916], "micro average accuracy");
  assertClose(summary.forgetting, [0, 0.1078, 0.4833], "forgetting");
  assertClose(summary.backwardTransfer, [0, -0.1078, -0.4833], "backward transfer");
  assert.throws(() => summarizeAccuracyMatrix(ragged, { testSizes, init }), {
    name: "RangeError",
    message: /forward transfer needs the accuracy on task 1 after update 1.*row 0 has only 1 entries/,
  });
});

test("forgetting follows the SPEC's max over k < t: a task that improved gives negative forgetting", () => {
  assert.ok(Math.abs(forgetting([[0.5], [0.9, 0.8]], 1) - -0.4) < 1e-12);
});

test("bad input is a RangeError naming what is wrong", () => {
  const bad: [() => unknown, RegExp][] = [
    [() => summarizeAccuracyMatrix([], { testSizes: [] }), /accuracy matrix is empty/],
    [() => summarizeAccuracyMatrix([[0.5], [0.5]], { testSizes: [1, 1] }), /row 1 has 1 entries; it needs at least 2/],
    [() => summarizeAccuracyMatrix(matrix, { testSizes: [10, 5] }), /testSizes has 2 entries but the accuracy matrix has 3 tasks/],
    [() => summarizeAccuracyMatrix(matrix, { testSizes: [10, 0, 5] }), /testSizes\[1\] = 0 is not a positive integer/],
    [() => summarizeAccuracyMatrix(matrix, { testSizes, init: [0.1] }), /init has 1 entries/],
    [() => summarizeAccuracyMatrix(matrix, { testSizes, init: [0.1, 2, 0.1] }), /init\[1\] = 2 is not an accuracy/],
    [() => summarizeAccuracyMatrix([[1.5]], { testSizes: [1] }), /entry \[0\]\[0\] = 1.5 is not an accuracy in \[0, 1\]/],
    [() => summarizeAccuracyMatrix([[0.5], [0.5, Number.NaN]], { testSizes: [1, 1] }), /entry \[1\]\[1\] = NaN/],
    [() => averageAccuracy(matrix, 3), /update index t = 3 is not an integer in \[0, 2\]/],
    [() => forgetting(matrix, -1), /update index t = -1/],
  ];
  for (const [call, message] of bad) assert.throws(call, { name: "RangeError", message });
});

// A square matrix of accuracies, 1 to 6 updates.
const squareMatrix = fc
  .integer({ min: 1, max: 6 })
  .chain((n) => fc.array(fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: n, maxLength: n }), { minLength: n, maxLength: n }));

/** The same matrix with each column (one task over time) sorted. */
function sortColumns(m: number[][], direction: 1 | -1): number[][] {
  const columns = m[0]!.map((_, i) => m.map((row) => row[i]!).sort((x, y) => direction * (x - y)));
  return m.map((row, t) => row.map((_, i) => columns[i]![t]!));
}

test("property: average accuracy lies within the row's seen tasks' min and max", () => {
  fc.assert(
    fc.property(squareMatrix, (m) =>
      m.every((row, t) => {
        const seen = row.slice(0, t + 1);
        const avg = averageAccuracy(m, t);
        return avg >= Math.min(...seen) - 1e-12 && avg <= Math.max(...seen) + 1e-12;
      }),
    ),
  );
});

test("property: forgetting + backward transfer >= 0 (the max over earlier rows includes the diagonal)", () => {
  fc.assert(fc.property(squareMatrix, (m) => m.every((_, t) => forgetting(m, t) + backwardTransfer(m, t) >= -1e-12)));
});

test("property: forgetting >= 0 when no task ever regains accuracy", () => {
  fc.assert(
    fc.property(squareMatrix, (m) => {
      const declining = sortColumns(m, -1);
      return declining.every((_, t) => forgetting(declining, t) >= 0);
    }),
  );
});

test("property: a matrix that never decreases never shows forgetting, and a constant one shows exactly 0", () => {
  fc.assert(
    fc.property(squareMatrix, (m) => {
      const improving = sortColumns(m, 1);
      const constant = m.map(() => m[0]!);
      return (
        improving.every((_, t) => forgetting(improving, t) <= 0) &&
        constant.every((_, t) => forgetting(constant, t) === 0 && backwardTransfer(constant, t) === 0)
      );
    }),
  );
});

test("property: micro average equals the average when every task has the same test size", () => {
  fc.assert(
    fc.property(squareMatrix, fc.integer({ min: 1, max: 1000 }), (m, size) => {
      const sizes = m.map(() => size);
      return m.every((_, t) => Math.abs(microAverageAccuracy(m, t, sizes) - averageAccuracy(m, t)) < 1e-12);
    }),
  );
});
