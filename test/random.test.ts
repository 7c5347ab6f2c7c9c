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

test("a seed's state words are murmur3-finalised seed + k * golden ratio (reference values computed in Python)", async () => {
  const { seedState } = await import("../src/random.js");
  const unsigned = (words: number[]): number[] => words.map((w) => w >>> 0);
  assert.deepEqual(unsigned(seedState(0)), [2462723854, 1020716019, 454327756, 1275600319]);
  assert.deepEqual(unsigned(seedState(7)), [588686121, 1937383562, 4286812467, 2372217166]);
  assert.deepEqual(unsigned(seedState(-1)), [920564995, 4230986166, 697614773, 1778835764]);
  assert.deepEqual(unsigned(Random.fromSeed(7).state()), [588686121, 1937383562, 4286812467, 2372217166]);
});

// The bug this pins: pure-rand's seeding made the first output ~seed, so for
// every seed in [0, 2^31) the first float was >= 0.5 and the first int came
// from the upper half of its range. Checked for the first three draws of
// fresh streams, over plain small seeds and over deriveSeed's seeds.
for (const [name, seedOf] of [
  ["small seeds 0..3999", (i: number) => i],
  ["deriveSeed seeds", (i: number) => deriveSeed(0, "epoch", i)],
] as const) {
  test(`the first draws of fresh streams are uniform (${name})`, () => {
    const n = 4000;
    for (let draw = 0; draw < 3; draw++) {
      const quarters = [0, 0, 0, 0];
      const halves = [0, 0];
      for (let i = 0; i < n; i++) {
        const r = Random.fromSeed(seedOf(i));
        for (let skip = 0; skip < draw; skip++) r.float();
        quarters[Math.floor(r.float() * 4)]! += 1;
        const fresh = Random.fromSeed(seedOf(i));
        for (let skip = 0; skip < draw; skip++) fresh.int(0, 1);
        halves[fresh.int(0, 1)]! += 1;
      }
      // Chi-square with 3 degrees of freedom: 16.3 is its 0.999 quantile.
      const chi = quarters.reduce((sum, c) => sum + (c - n / 4) ** 2 / (n / 4), 0);
      assert.ok(chi < 16.3, `draw ${draw}: float quarters ${quarters.join("/")} (chi2 ${chi.toFixed(1)})`);
      assert.ok(Math.abs(halves[0]! - n / 2) < 4 * Math.sqrt(n / 4), `draw ${draw}: int(0, 1) counts ${halves.join("/")}`);
    }
  });
}
