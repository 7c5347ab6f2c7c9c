import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { MetricMonitor } from "../../src/training/early_stopping.js";

test("min mode: best epoch and patience", () => {
  const m = new MetricMonitor("val_loss", "min", 2);
  assert.equal(m.observe(0, 1.0), true);
  assert.equal(m.observe(1, 0.5), true);
  assert.equal(m.observe(2, 0.6), false);
  assert.equal(m.patienceExhausted, false);
  assert.equal(m.observe(3, 0.5), false); // equal is no improvement
  assert.equal(m.patienceExhausted, true);
  assert.equal(m.bestEpoch, 1);
});

test("max mode and NaN", () => {
  const m = new MetricMonitor("val_accuracy", "max", 1);
  assert.equal(m.observe(0, Number.NaN), false);
  assert.equal(m.observe(1, 0.2), true);
  assert.equal(m.observe(2, 0.9), true);
  assert.equal(m.bestEpoch, 2);
});

test("property: the best epoch holds the extreme value", () => {
  fc.assert(
    fc.property(fc.array(fc.double({ min: -100, max: 100, noNaN: true }), { minLength: 1, maxLength: 30 }), fc.boolean(), (values, min) => {
      const m = new MetricMonitor("x", min ? "min" : "max", 1000);
      values.forEach((v, i) => m.observe(i, v));
      const extreme = min ? Math.min(...values) : Math.max(...values);
      return values[m.bestEpoch] === extreme && values.indexOf(extreme) === m.bestEpoch;
    }),
  );
});
