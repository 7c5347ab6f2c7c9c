import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { learningRateAt } from "../../src/training/schedules.js";

test("schedules follow PyTorch's closed forms", () => {
  assert.equal(learningRateAt({ type: "constant" }, 0.1, 7), 0.1);
  assert.ok(Math.abs(learningRateAt({ type: "step", stepSize: 2, gamma: 0.5 }, 0.1, 5) - 0.1 * 0.25) < 1e-12);
  assert.ok(Math.abs(learningRateAt({ type: "multistep", milestones: [2, 4], gamma: 0.1 }, 1, 4) - 0.01) < 1e-12);
  assert.ok(Math.abs(learningRateAt({ type: "exponential", gamma: 0.9 }, 1, 3) - 0.729) < 1e-12);
  assert.equal(learningRateAt({ type: "cosine", tMax: 10 }, 1, 0), 1);
  assert.ok(Math.abs(learningRateAt({ type: "cosine", tMax: 10 }, 1, 5) - 0.5) < 1e-12);
  assert.ok(Math.abs(learningRateAt({ type: "cosine", tMax: 10, etaMin: 0.1 }, 1, 10) - 0.1) < 1e-12);
  assert.equal(learningRateAt((t, base) => base / (t + 1), 1, 3), 0.25);
});

test("property: decaying schedules never increase within their period", () => {
  fc.assert(
    fc.property(fc.double({ min: 1e-5, max: 1, noNaN: true }), fc.integer({ min: 1, max: 50 }), fc.nat(49), (base, tMax, t) => {
      const s = { type: "cosine" as const, tMax };
      if (t + 1 > tMax) return true;
      return learningRateAt(s, base, t + 1) <= learningRateAt(s, base, t) + 1e-15;
    }),
  );
});

test("bad schedules are clear errors", () => {
  assert.throws(() => learningRateAt({ type: "step", stepSize: 0 } as never, 1, 0), /invalid learning-rate schedule/);
  assert.throws(() => learningRateAt(() => Number.NaN, 1, 2), /returned NaN at t=2/);
});
