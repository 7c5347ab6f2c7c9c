import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { Random } from "../../src/random.js";
import { createDataset, type Dataset } from "../../src/data/dataset.js";
import { ReplayBuffer } from "../../src/memory/replay_buffer.js";
import { ClassBalancedPolicy } from "../../src/memory/class_balanced_policy.js";

/** One item per label; feature = the item's position in the stream, so items can be told apart. */
function labelDataset(labels: readonly number[], numClasses: number, first = 0): Dataset {
  return createDataset({
    features: Float32Array.from(labels, (_, i) => first + i),
    labels: Int32Array.from(labels),
    featureShape: [1],
    numClasses,
  });
}

test("a hand-worked stream: fill, then replace from the largest class, drop at the quota", () => {
  // Capacity 4. Stream 0,0,0,0 fills. 1: k=2, 0*2<4 -> replaces a 0 -> (3,1). 1: 1*2<4 -> (2,2).
  // 1: 2*2>=4 -> dropped. 2: k=3, 0*3<4 -> largest is a tie of 0 and 1, class 0 loses -> (1,2,1).
  // 0: 1*3<4 -> largest is 1 -> (2,1,1). 0: 2*3>=4 -> dropped.
  const buffer = new ReplayBuffer({ capacity: 4, policy: "class-balanced", seed: 3 });
  buffer.add(labelDataset([0, 0, 0, 0, 1, 1, 1, 2], 3));
  assert.deepEqual(buffer.classHistogram(), [1, 2, 1]);
  const stored = new Set(buffer.asDataset().features);
  assert.ok(stored.has(4) && stored.has(5) && !stored.has(6) && stored.has(7), `stored ${[...stored]}`);
  buffer.add(labelDataset([0, 0], 3, 8));
  assert.deepEqual(buffer.classHistogram(), [2, 1, 1]);
  assert.ok(new Set(buffer.asDataset().features).has(8));
  assert.ok(!new Set(buffer.asDataset().features).has(9));
  assert.equal(buffer.seen, 10);
});

test("the replaced item is drawn uniformly among the largest class", () => {
  // Capacity 4 filled with class 0, then one class-1 item: each of the 4 slots is hit about 1/4 of the time.
  const hits = new Array<number>(4).fill(0);
  const runs = 800;
  for (let seed = 0; seed < runs; seed++) {
    const policy = new ClassBalancedPolicy(4);
    const random = Random.fromSeed(seed);
    for (let i = 0; i < 4; i++) assert.equal(policy.chooseSlot(0, { seen: i, length: i }, random), i);
    hits[policy.chooseSlot(1, { seen: 4, length: 4 }, random)]!++;
  }
  // Binomial(800, 1/4): mean 200, sd ~12.2.
  hits.forEach((h, slot) => assert.ok(Math.abs(h - 200) < 75, `slot ${slot} replaced ${h} times`));
});

test("skewed streams end balanced (max - min <= 1) once every class was offered capacity/k items", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 40 }),
      fc.integer({ min: 1, max: 7 }),
      fc.array(fc.nat(120), { minLength: 7, maxLength: 7 }),
      fc.boolean(),
      fc.integer(),
      (capacity, k, rawCounts, blocks, seed) => {
        const random = Random.fromSeed(seed);
        // Heavily skewed offers: class c is offered rawCounts[c] items, either in blocks or interleaved.
        let stream: number[] = [];
        for (let c = 0; c < k; c++) for (let i = 0; i < rawCounts[c]!; i++) stream.push(c);
        if (!blocks) stream = Array.from(random.permutation(stream.length), (i) => stream[i]!);
        // Top up, at the end, every class offered fewer than capacity/k items.
        const quota = Math.ceil(capacity / k);
        const tail: number[] = [];
        for (let c = 0; c < k; c++) for (let i = rawCounts[c]!; i < quota; i++) tail.push(c);
        stream.push(...Array.from(random.permutation(tail.length), (i) => tail[i]!));

        const buffer = new ReplayBuffer({ capacity, policy: "class-balanced", seed });
        for (let start = 0; start < stream.length; start += 50) {
          buffer.add(labelDataset(stream.slice(start, start + 50), k, start));
          assert.ok(buffer.length <= capacity);
          assert.equal(buffer.length, Math.min(capacity, buffer.seen));
          assert.equal(buffer.classHistogram().reduce((a, b) => a + b, 0), buffer.length);
        }
        const histogram = buffer.classHistogram();
        assert.equal(histogram.length, k);
        const spread = Math.max(...histogram) - Math.min(...histogram);
        assert.ok(spread <= 1, `histogram ${histogram} (capacity ${capacity}, offered ${rawCounts.slice(0, k)})`);
      },
    ),
  );
});

test("capacity 0 stores nothing but remembers the classes offered", () => {
  const policy = new ClassBalancedPolicy(0);
  const random = Random.fromSeed(1);
  assert.equal(policy.chooseSlot(2, { seen: 0, length: 0 }, random), -1);
  assert.equal(policy.chooseSlot(0, { seen: 1, length: 0 }, random), -1);
  assert.deepEqual(policy.exportState(), { classesSeen: [0, 2] });
});

test("restore rebuilds the same choices from the stored labels and classesSeen", () => {
  const random = Random.fromSeed(11);
  const original = new ClassBalancedPolicy(6);
  const labels: number[] = [];
  const stream = [0, 0, 0, 0, 0, 0, 1, 1, 3, 0, 1, 3, 3, 1];
  stream.forEach((label, seen) => {
    const slot = original.chooseSlot(label, { seen, length: labels.length }, random);
    if (slot >= 0) labels[slot] = label;
  });
  const restored = ClassBalancedPolicy.restore(6, Int32Array.from(labels), original.exportState());
  const r1 = Random.fromState(random.state());
  const r2 = Random.fromState(random.state());
  for (const [i, label] of [2, 2, 0, 2, 1, 2, 3].entries()) {
    const progress = { seen: stream.length + i, length: 6 };
    assert.equal(restored.chooseSlot(label, progress, r2), original.chooseSlot(label, progress, r1));
  }
  assert.throws(() => ClassBalancedPolicy.restore(6, Int32Array.from(labels), { classesSeen: [0, 1] }), /lacks class 3/);
  assert.throws(() => ClassBalancedPolicy.restore(6, Int32Array.from(labels), { classesSeen: "x" }), /non-negative integers/);
  assert.throws(() => ClassBalancedPolicy.restore(6, Int32Array.from(labels), { classesSeen: [0, 1, 3], more: 1 }), /unknown keys: more/);
});

test("class-balanced memory: with tasks whose labels restart at 0, each (task, class) pair gets its share", () => {
  const memory = new ReplayBuffer({ capacity: 8, policy: "class-balanced", seed: 1 });
  const task = (offset: number): Dataset =>
    createDataset({ features: Float32Array.from({ length: 10 }, (_, i) => offset + i), labels: Int32Array.from({ length: 10 }, (_, i) => i % 2), featureShape: [1], numClasses: 2 });
  memory.add(task(0), {}, "a");
  memory.add(task(100), {}, "b");
  const { taskIds, rows } = memory.tasks();
  const labels = memory.asDataset().labels;
  const counts = new Map<string, number>();
  rows.forEach((t, slot) => counts.set(`${taskIds[t]}/${labels[slot]}`, (counts.get(`${taskIds[t]}/${labels[slot]}`) ?? 0) + 1));
  assert.deepEqual(Object.fromEntries([...counts].sort()), { "a/0": 2, "a/1": 2, "b/0": 2, "b/1": 2 });
  // The same balance after a snapshot round trip, and the next offers keep it.
  const restored = ReplayBuffer.fromSnapshot(memory.toSnapshot());
  restored.add(task(200), {}, "c");
  memory.add(task(200), {}, "c");
  assert.deepEqual(restored.toSnapshot(), memory.toSnapshot());
  assert.deepEqual(memory.taskIds, ["a", "b", "c"]);
  assert.ok(memory.tasks().rows.includes(2), "task c's items are stored too");
});
