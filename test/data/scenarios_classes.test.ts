import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { DataError, OptionsError } from "../../src/errors.js";
import { createDataset, type Dataset } from "../../src/data/dataset.js";
import { classesPresent } from "../../src/data/dataset_ops.js";
import {
  classIncremental,
  iidChunks,
  makeScenario,
  SCENARIO_NAMES,
  splitByColumn,
  taskIncremental,
} from "../../src/data/scenarios.js";

/**
 * `count` samples of `size` features; sample i has label i % numClasses and
 * features i * 1000 + j, so every row can be recognised after a split.
 */
function labelled(count: number, numClasses: number, size = 3, offset = 0): Dataset {
  const features = Float32Array.from({ length: count * size }, (_, k) => {
    const row = Math.floor(k / size);
    return (row + offset) * 1000 + (k % size);
  });
  const labels = Int32Array.from({ length: count }, (_, i) => i % numClasses);
  return createDataset({ features, labels, featureShape: [size], numClasses });
}

/** The row ids (see `labelled`) of a dataset. */
function rowIds(ds: Dataset): number[] {
  const size = ds.features.length / ds.length;
  return Array.from({ length: ds.length }, (_, i) => ds.features[i * size]! / 1000);
}

const train = labelled(100, 10);
const test10 = labelled(30, 10, 3, 5000);
const isError = (type: new (...args: never[]) => Error, message: RegExp) => (e: unknown) =>
  e instanceof type && message.test(e.message);

test("class-incremental: groups partition the classes, test classes match train classes", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 12 }).chain((numClasses) =>
        fc.tuple(
          fc.constant(numClasses),
          fc.constantFrom(...Array.from({ length: numClasses }, (_, i) => i + 1).filter((t) => numClasses % t === 0)),
          fc.integer({ min: 0, max: 1000 }),
        ),
      ),
      ([numClasses, tasks, seed]) => {
        const tr = labelled(3 * numClasses, numClasses);
        const te = labelled(2 * numClasses, numClasses, 3, 500);
        const updates = classIncremental({ train: tr, test: te, tasks, seed });
        assert.equal(updates.length, tasks);
        const all = updates.flatMap((u) => u.classes ?? []);
        assert.deepEqual([...all].sort((a, b) => a - b), Array.from({ length: numClasses }, (_, i) => i));
        let trainRows = 0;
        for (const update of updates) {
          assert.equal(update.taskId, "default_task");
          assert.equal(update.classes?.length, numClasses / tasks);
          assert.deepEqual(classesPresent(update.train), update.classes);
          assert.deepEqual(classesPresent(update.test), update.classes);
          assert.equal(update.train.numClasses, numClasses);
          trainRows += update.train.length;
        }
        assert.equal(trainRows, tr.length);
      },
    ),
    { numRuns: 40 },
  );
});

test("class-incremental: natural, explicit order and explicit groups", () => {
  const natural = classIncremental({ train, test: test10, tasks: 5, seed: 1, classOrder: "natural" });
  assert.deepEqual(natural.map((u) => u.classes), [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9]]);
  // Rows keep their order and labels: class 2 and 3 rows of the train set, in order.
  assert.deepEqual(rowIds(natural[1]!.train).slice(0, 4), [2, 3, 12, 13]);

  const order = [9, 4, 7, 0, 1, 2, 3, 5, 6, 8];
  const explicit = classIncremental({ train, test: test10, tasks: 2, seed: 1, classOrder: order });
  assert.deepEqual(explicit.map((u) => u.classes), [[0, 1, 4, 7, 9], [2, 3, 5, 6, 8]]);

  const groups = [[5], [0, 1, 2], [3, 4, 6, 7, 8, 9]];
  const uneven = taskIncremental({ train, test: test10, seed: 1, groups });
  assert.deepEqual(uneven.map((u) => u.classes), [[5], [0, 1, 2], [3, 4, 6, 7, 8, 9]]);
  assert.deepEqual(uneven.map((u) => u.taskId), ["task-0", "task-1", "task-2"]);
  assert.equal(uneven[0]!.train.length, 10);
});

test("class/task-incremental: seeded order is deterministic, varies with the seed, same split for both", () => {
  const a = classIncremental({ train, test: test10, tasks: 5, seed: 7 });
  const b = classIncremental({ train, test: test10, tasks: 5, seed: 7 });
  assert.deepEqual(a.map((u) => u.classes), b.map((u) => u.classes));
  assert.deepEqual(a.map((u) => rowIds(u.train)), b.map((u) => rowIds(u.train)));
  const orders = new Set([1, 2, 3, 4].map((seed) =>
    JSON.stringify(classIncremental({ train, test: test10, tasks: 5, seed }).map((u) => u.classes))));
  assert.ok(orders.size > 1, "different seeds should give different class orders");
  assert.notDeepEqual(a.map((u) => u.classes), [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9]]);

  const t = taskIncremental({ train, test: test10, tasks: 5, seed: 7 });
  assert.deepEqual(t.map((u) => u.classes), a.map((u) => u.classes));
  assert.deepEqual(t.map((u) => u.taskId), ["task-0", "task-1", "task-2", "task-3", "task-4"]);
  assert.deepEqual(t.map((u) => classesPresent(u.test)), a.map((u) => u.classes));
});

test("class-incremental: impossible splits are named errors", () => {
  const options = { train, test: test10, seed: 1 };
  assert.throws(() => classIncremental({ ...options, tasks: 3 }),
    isError(OptionsError, /10 classes cannot be split into 3 equal groups/));
  assert.throws(() => classIncremental({ ...options, tasks: 11 }), isError(OptionsError, /tasks = 11 exceeds the 10 classes/));
  assert.throws(() => classIncremental({ ...options, tasks: 0 }), isError(OptionsError, /tasks must be an integer >= 1, got 0/));
  assert.throws(() => classIncremental({ ...options, tasks: 2, seed: 1.5 }), isError(OptionsError, /seed must be an integer/));
  assert.throws(() => classIncremental({ ...options, tasks: 2, classOrder: [0, 1, 2, 3, 4, 5, 6, 7, 8, 8] }),
    isError(OptionsError, /classOrder lists class 8 twice/));
  assert.throws(() => classIncremental({ ...options, tasks: 2, classOrder: [0, 1, 2] }),
    isError(OptionsError, /classOrder misses class\(es\) 3, 4, 5, 6, 7, 8, 9/));
  assert.throws(() => classIncremental({ ...options, tasks: 1, classOrder: [...Array(10).keys(), 12] }),
    isError(OptionsError, /classOrder lists class 12, which has no train samples/));
  assert.throws(() => classIncremental({ ...options, groups: [[0, 1], [], [2, 3, 4, 5, 6, 7, 8, 9]] }),
    isError(OptionsError, /groups\[1\] is empty/));
  assert.throws(() => classIncremental({ ...options, groups: [[...Array(10).keys()]], classOrder: "natural" }),
    isError(OptionsError, /either groups or classOrder/));
  assert.throws(() => classIncremental({ ...options, tasks: 2, groups: [[...Array(10).keys()]] }),
    isError(OptionsError, /tasks = 2 but 1 groups/));
  // The test set lacks class 9: the update holding it would have nothing to test on.
  const test9 = labelled(9, 9, 3, 500);
  const wide = createDataset({ ...test9, numClasses: 10 });
  assert.throws(() => classIncremental({ ...options, test: wide, tasks: 10, classOrder: "natural" }),
    isError(DataError, /update 10 \(classes 9\) has no test samples/));
  assert.throws(() => classIncremental({ ...options, test: labelled(30, 10, 4), tasks: 2 }),
    isError(DataError, /train featureShape \[3\] differs from test featureShape \[4\]/));
  assert.throws(() => classIncremental({ ...options, test: labelled(30, 12), tasks: 2 }),
    isError(DataError, /train has numClasses 10 but test has 12/));
});

test("iid chunks partition the shuffled train set; every update has the whole test set", () => {
  const updates = iidChunks({ train, test: test10, chunks: 7, seed: 3 });
  assert.equal(updates.length, 7);
  assert.deepEqual(updates.map((u) => u.train.length), [15, 15, 14, 14, 14, 14, 14]);
  const ids = updates.flatMap((u) => rowIds(u.train));
  assert.deepEqual([...ids].sort((a, b) => a - b), Array.from({ length: 100 }, (_, i) => i));
  assert.notDeepEqual(ids, Array.from({ length: 100 }, (_, i) => i), "the train set should be shuffled");
  for (const update of updates) {
    assert.equal(update.test, test10);
    assert.equal(update.taskId, "default_task");
    assert.deepEqual(update.classes, classesPresent(update.train));
    // Features and labels of a row travel together.
    rowIds(update.train).forEach((id, i) => assert.equal(update.train.labels[i], id % 10));
  }
  const again = iidChunks({ train, test: test10, chunks: 7, seed: 3 }).flatMap((u) => rowIds(u.train));
  assert.deepEqual(again, ids);
  const other = iidChunks({ train, test: test10, chunks: 7, seed: 4 }).flatMap((u) => rowIds(u.train));
  assert.notDeepEqual(other, ids);
  assert.throws(() => iidChunks({ train: labelled(3, 10), test: test10, chunks: 4, seed: 1 }),
    isError(DataError, /4 chunks of 3 train samples would leave empty updates/));
});

test("splitByColumn: rows go to [b_i, b_i+1), values outside are dropped", () => {
  const tr = labelled(8, 2);
  const te = labelled(4, 2, 3, 100);
  const column = Float64Array.of(-5, 0, 9.99, 10, 15, 20, 1e9, -Infinity);
  const testColumn = Int32Array.of(3, 12, 25, 40);
  const updates = splitByColumn({ train: tr, test: te, column, testColumn, boundaries: [0, 10, 20, Infinity] });
  assert.deepEqual(updates.map((u) => rowIds(u.train)), [[1, 2], [3, 4], [5, 6]]);
  assert.deepEqual(updates.map((u) => rowIds(u.test)), [[100], [101], [102, 103]]);
  assert.deepEqual(updates.map((u) => u.classes), [[0, 1], [0, 1], [0, 1]]);
  assert.ok(updates.every((u) => u.taskId === "default_task"));

  const base = { train: tr, test: te, column, testColumn };
  assert.throws(() => splitByColumn({ ...base, boundaries: [0, 10, 10] }),
    isError(OptionsError, /strictly increasing, but boundaries\[2\] = 10 <= boundaries\[1\] = 10/));
  assert.throws(() => splitByColumn({ ...base, boundaries: [0] }), isError(OptionsError, /at least 2 values/));
  assert.throws(() => splitByColumn({ ...base, boundaries: [0, 10, 20, 22] }),
    isError(DataError, /update 3 \[20, 22\) has no test rows/));
  assert.throws(() => splitByColumn({ ...base, boundaries: [100, 200, 1e10] }),
    isError(DataError, /update 1 \[100, 200\) has no train rows/));
  assert.throws(() => splitByColumn({ ...base, column: Float64Array.of(1, 2), boundaries: [0, 10] }),
    isError(DataError, /column must hold one value per row \(8\), got 2/));
  assert.throws(() => splitByColumn({ ...base, testColumn: Float64Array.of(1, NaN, 3, 4), boundaries: [0, 10] }),
    isError(DataError, /testColumn\[1\] = NaN is not a number/));
});

test("makeScenario builds every named scenario and rejects unknown names", () => {
  const images = (count: number, offset: number) => createDataset({
    features: Float32Array.from({ length: count * 16 }, (_, k) => ((k * 7 + offset) % 11) / 10),
    labels: Int32Array.from({ length: count }, (_, i) => i % 4),
    featureShape: [4, 4],
    numClasses: 4,
  });
  const data = { train: images(40, 0), test: images(12, 3), tasks: 2, seed: 5 };
  const expected: Record<string, string[]> = {
    "class-incremental": ["default_task", "default_task"],
    "task-incremental": ["task-0", "task-1"],
    permuted: ["default_task", "default_task"],
    rotated: ["default_task", "default_task"],
    iid: ["default_task", "default_task"],
  };
  for (const name of SCENARIO_NAMES) {
    const updates = makeScenario(name, data);
    assert.deepEqual(updates.map((u) => u.taskId), expected[name], name);
  }
  assert.deepEqual(
    makeScenario("class-incremental", data).map((u) => u.classes),
    classIncremental(data).map((u) => u.classes),
  );
  assert.deepEqual(makeScenario("permuted", { ...data, trainPerTask: 5, testPerTask: 3 }).map((u) => [u.train.length, u.test.length]),
    [[5, 3], [5, 3]]);
  // A per-task count where the scenario takes whole classes is an error, never ignored (tester G, F19).
  for (const name of ["class-incremental", "task-incremental", "iid"]) {
    assert.throws(() => makeScenario(name, { ...data, trainPerTask: 5 }), isError(OptionsError, new RegExp(`trainPerTask apply to the permuted and rotated scenarios only; ${name} (takes|splits) every item`)));
  }
  assert.throws(() => makeScenario("split", data),
    isError(OptionsError, /unknown scenario "split"; known: class-incremental, task-incremental, permuted, rotated, iid/));
});
