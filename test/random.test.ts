import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { Random, deriveSeed } from "../src/random.js";

test("same seed gives the same stream; a saved state resumes it", () => {
  const a = Random.fromSeed(7);
  const b = Random.fromSeed(7);
  const first = [a.int(0, 100), a.int(0, 100), a.float()];
  assert.deepEqual(first, [b.int(0, 100), b.int(0, 100), b.float()]);
  const resumed = Random.fromState(a.state());
  assert.deepEqual([a.int(0, 1e6), a.float()], [resumed.int(0, 1e6), resumed.float()]);
});

test("int stays in its inclusive range and float in [0, 1)", () => {
  fc.assert(
    fc.property(fc.integer(), fc.integer({ min: -1000, max: 1000 }), fc.nat(1000), (seed, min, width) => {
      const r = Random.fromSeed(seed);
      const v = r.int(min, min + width);
      const f = r.float();
      return v >= min && v <= min + width && f >= 0 && f < 1;
    }),
  );
});

test("permutation is a permutation", () => {
  fc.assert(
    fc.property(fc.integer(), fc.nat(200), (seed, n) => {
      const p = Array.from(Random.fromSeed(seed).permutation(n)).sort((x, y) => x - y);
      return p.every((v, i) => v === i);
    }),
  );
});

test("deriveSeed separates paths and is stable", () => {
  assert.equal(deriveSeed(0, "expert", 1), deriveSeed(0, "expert", 1));
  assert.notEqual(deriveSeed(0, "expert", 1), deriveSeed(0, "expert", 2));
  assert.notEqual(deriveSeed(0, "expert", 1), deriveSeed(1, "expert", 1));
  assert.ok(deriveSeed(123, "x") >= 0 && deriveSeed(123, "x") < 2 ** 31);
});
