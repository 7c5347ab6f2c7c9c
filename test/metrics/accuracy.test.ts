import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { accuracy, confusionMatrix, negativeFlipRate, perClassAccuracy } from "../../src/metrics/accuracy.js";

const labels = Int32Array.from([0, 1, 1, 2, 0]);
const predictions = Int32Array.from([0, 1, 2, 2, 1]);

test("accuracy counts exact matches", () => {
  assert.equal(accuracy(predictions, labels), 3 / 5);
  assert.equal(accuracy([4, 4], [4, 4]), 1);
  assert.equal(accuracy([1, 0], [0, 1]), 0);
});

test("confusion matrix is indexed [label][prediction]", () => {
  assert.deepEqual(confusionMatrix(predictions, labels, 3), [
    [1, 1, 0],
    [0, 1, 1],
    [0, 0, 1],
  ]);
});

test("per-class accuracy, NaN for a class with no sample", () => {
  const perClass = perClassAccuracy(predictions, labels, 4);
  assert.deepEqual(perClass.slice(0, 3), [0.5, 0.5, 1]);
  assert.ok(Number.isNaN(perClass[3]));
});

test("negative flip rate counts right-then-wrong samples only, over all samples", () => {
  const previous = [0, 1, 1, 2, 0, 2]; // all right but the last
  const next = [0, 1, 2, 2, 1, 1]; // breaks samples 2 and 4; sample 5 stays wrong
  assert.equal(negativeFlipRate(previous, next, [0, 1, 1, 2, 0, 1]), 2 / 6);
  // Wrong-then-right is a positive flip and does not count.
  assert.equal(negativeFlipRate([1, 1], [0, 0], [0, 0]), 0);
});

test("bad input is a RangeError naming the argument", () => {
  assert.throws(() => accuracy([0, 1], [0]), { name: "RangeError", message: "labels has 1 entries but predictions has 2" });
  assert.throws(() => accuracy([], []), { name: "RangeError", message: /predictions and labels are empty/ });
  assert.throws(() => confusionMatrix([0, 3], [0, 1], 3), {
    name: "RangeError",
    message: "predictions[1] = 3 is not a class index in [0, 2]",
  });
  assert.throws(() => confusionMatrix([0, 1], [0, 1.5], 3), { name: "RangeError", message: /labels\[1\] = 1.5/ });
  assert.throws(() => perClassAccuracy([0], [0], 0), { name: "RangeError", message: /numClasses must be a positive integer, got 0/ });
  assert.throws(() => negativeFlipRate([0], [0, 1], [0]), { name: "RangeError", message: /nextPredictions has 2 entries/ });
});

const classified = fc.integer({ min: 1, max: 6 }).chain((numClasses) =>
  fc.integer({ min: 1, max: 60 }).chain((n) => {
    const indices = fc.array(fc.integer({ min: 0, max: numClasses - 1 }), { minLength: n, maxLength: n });
    return fc.record({ numClasses: fc.constant(numClasses), labels: indices, predictions: indices, next: indices });
  }),
);

test("property: the confusion matrix sums to n and its trace / n is the accuracy", () => {
  fc.assert(
    fc.property(classified, ({ numClasses, labels, predictions }) => {
      const matrix = confusionMatrix(predictions, labels, numClasses);
      const total = matrix.flat().reduce((a, b) => a + b, 0);
      const trace = matrix.reduce((sum, row, c) => sum + row[c]!, 0);
      return total === labels.length && trace / labels.length === accuracy(predictions, labels);
    }),
  );
});

test("property: NFR is in [0, 1], 0 for unchanged predictions, and bounds the accuracy drop", () => {
  fc.assert(
    fc.property(classified, ({ labels, predictions, next }) => {
      const nfr = negativeFlipRate(predictions, next, labels);
      const drop = accuracy(predictions, labels) - accuracy(next, labels);
      return nfr >= 0 && nfr <= 1 && drop <= nfr + 1e-12 && negativeFlipRate(predictions, [...predictions], labels) === 0;
    }),
  );
});
