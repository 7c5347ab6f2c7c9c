import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { Random } from "../../src/random.js";
import { createDataset, type Dataset } from "../../src/data/dataset.js";
import { ReplayBuffer } from "../../src/memory/replay_buffer.js";
import { ReservoirPolicy } from "../../src/memory/reservoir_policy.js";

/** n items whose single feature is its value: first, first+1, ... */
function valueDataset(first: number, n: number, numClasses = 3): Dataset {
  return createDataset({
    features: Float32Array.from({ length: n }, (_, i) => first + i),
    labels: Int32Array.from({ length: n }, (_, i) => (first + i) % numClasses),
    featureShape: [1],
    numClasses,
  });
}

test("length = min(capacity, (i+1)*n) after update i, for both policies", () => {
  fc.assert(
    fc.property(
      fc.nat(40),
      fc.nat(25),
      fc.integer({ min: 1, max: 6 }),
      fc.integer(),
      fc.constantFrom("reservoir" as const, "class-balanced" as const),
      (capacity, n, updates, seed, policy) => {
        const buffer = new ReplayBuffer({ capacity, policy, seed });
        for (let i = 0; i < updates; i++) {
          buffer.add(valueDataset(1 + i * n, n));
          assert.equal(buffer.length, Math.min(capacity, (i + 1) * n));
          assert.equal(buffer.seen, (i + 1) * n);
        }
      },
    ),
  );
});

test("slots 0..length-1 always hold distinct offered items", () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 30 }), fc.array(fc.nat(20), { maxLength: 6 }), fc.integer(), (capacity, chunks, seed) => {
      const buffer = new ReplayBuffer({ capacity, seed });
      let offered = 0;
      for (const n of chunks) {
        buffer.add(valueDataset(offered + 1, n));
        offered += n;
        const values = [...buffer.asDataset().features];
        assert.equal(values.length, buffer.length);
        assert.equal(new Set(values).size, values.length, "an item is stored twice");
        assert.ok(values.every((v) => Number.isInteger(v) && v >= 1 && v <= offered), "a slot holds no offered item");
      }
    }),
  );
});

test("Renate's uniformity check: mean of kept values of 1..10000 at capacity 1000 is 5000 +/- 5*91", () => {
  for (const seed of [0, 1, 2, 3, 4]) {
    const buffer = new ReplayBuffer({ capacity: 1000, seed });
    buffer.add(valueDataset(1, 10000));
    const kept = buffer.asDataset().features;
    const mean = kept.reduce((sum, v) => sum + v, 0) / kept.length;
    assert.ok(Math.abs(mean - 5000) <= 5 * 91, `seed ${seed}: mean ${mean}`);
  }
});

test("the draw is inclusive: capacity 1, two items, the second is kept about half the time", () => {
  // Renate's [0, seen) draw would keep the second item in every run.
  const runs = 400;
  let keptSecond = 0;
  for (let seed = 0; seed < runs; seed++) {
    const buffer = new ReplayBuffer({ capacity: 1, seed });
    buffer.add(valueDataset(1, 2));
    if (buffer.get([0]).features[0] === 2) keptSecond++;
  }
  // Binomial(400, 1/2): mean 200, sd 10; 6 sd either side.
  assert.ok(keptSecond >= 140 && keptSecond <= 260, `kept the second item ${keptSecond} times out of ${runs}`);
});

test("every item is kept with probability capacity/N", () => {
  // Capacity 3 over 6 items: each is kept with probability 1/2. 2000 runs: sd of a frequency ~0.011.
  const runs = 2000;
  const counts = new Array<number>(6).fill(0);
  for (let seed = 0; seed < runs; seed++) {
    const buffer = new ReplayBuffer({ capacity: 3, seed: seed * 7919 });
    buffer.add(valueDataset(0, 6));
    for (const v of buffer.asDataset().features) counts[v]!++;
  }
  counts.forEach((count, item) => {
    assert.ok(Math.abs(count / runs - 0.5) < 0.06, `item ${item} kept ${count} / ${runs} times`);
  });
});

test("the buffer follows Algorithm R step by step on its seeded stream", () => {
  // Independent re-run of the textbook loop on Random.fromSeed(seed).
  const capacity = 7;
  const seed = 99;
  const reference: number[] = [];
  const random = Random.fromSeed(seed);
  for (let seen = 0; seen < 100; seen++) {
    if (seen < capacity) reference.push(seen);
    else {
      const r = random.int(0, seen);
      if (r < capacity) reference[r] = seen;
    }
  }
  const buffer = new ReplayBuffer({ capacity, seed });
  buffer.add(valueDataset(0, 40));
  buffer.add(valueDataset(40, 60));
  assert.deepEqual([...buffer.asDataset().features], reference);
  assert.deepEqual(buffer.randomState(), random.state());
});

test("capacity 0 keeps nothing and draws nothing", () => {
  const policy = new ReservoirPolicy(0);
  const random = Random.fromSeed(5);
  const before = random.state();
  for (let seen = 0; seen < 10; seen++) assert.equal(policy.chooseSlot(0, { seen, length: 0 }, random), -1);
  assert.deepEqual(random.state(), before);
});
