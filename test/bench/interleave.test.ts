import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { compareRounds, interleavedOrder, median, perRoundRatios, spread } from "../../bench/interleave.js";

test("interleavedOrder runs every variant once per round, in order, round after round", () => {
  const order = interleavedOrder(["A", "B", "C"], 2);
  assert.deepEqual(
    order.map((r) => `${r.variant}${r.round}`),
    ["A0", "B0", "C0", "A1", "B1", "C1"],
  );
  assert.deepEqual(interleavedOrder(["only"], 1), [{ round: 0, variant: "only" }]);
  assert.throws(() => interleavedOrder(["A"], 0), /positive integer/);
  assert.throws(() => interleavedOrder(["A"], 1.5), /positive integer/);
});

test("interleavedOrder: no variant runs twice before every other ran once more", () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 5 }), (variants, rounds) => {
      const names = Array.from({ length: variants }, (_, i) => i);
      const order = interleavedOrder(names, rounds);
      assert.equal(order.length, variants * rounds);
      order.forEach((run, i) => {
        assert.equal(run.variant, i % variants);
        assert.equal(run.round, Math.floor(i / variants));
      });
    }),
  );
});

test("median: middle value for an odd count, mean of the two middle ones for an even count; input untouched", () => {
  assert.equal(median([5]), 5);
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([10, 1, 4, 2]), 3);
  assert.equal(median([12.5, 10]), 11.25);
  const values = [9, 1, 5];
  median(values);
  assert.deepEqual(values, [9, 1, 5]);
  assert.throws(() => median([]), /no values/);
});

test("spread: min, max and max / min", () => {
  assert.deepEqual(spread([40, 50, 42]), { min: 40, max: 50, ratio: 1.25 });
  assert.deepEqual(spread([7]), { min: 7, max: 7, ratio: 1 });
  assert.throws(() => spread([]), /no values/);
});

test("perRoundRatios divides round i by round i and needs equal round counts", () => {
  assert.deepEqual(perRoundRatios([40, 60, 45], [10, 20, 15]), [4, 3, 3]);
  assert.throws(() => perRoundRatios([1, 2], [1]), /2 against 1 rounds/);
});

test("compareRounds: ratio of the medians and the median and range of the per-round ratios", () => {
  // Round 2 ran while the machine was busy for both sides: the per-round ratio stays near 3.
  const relearn = [36, 72, 39];
  const torch = [12, 25, 12];
  const r = compareRounds(relearn, torch);
  assert.equal(r.ofMedians, 39 / 12);
  assert.deepEqual(r.perRound, { median: 3, min: 2.88, max: 3.25 });
});
