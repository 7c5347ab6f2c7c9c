import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { classHistogram } from "../../src/data/dataset_ops.js";
import { LETTER_CLASSES, LETTER_TRAIN_ROWS, bundledLetterPath, loadLetter } from "../../src/data/letter.js";
import { loadNamedData } from "../../src/data/named_datasets.js";
import { makeScenario } from "../../src/data/scenarios/registry.js";

// The class distribution listed in UCI's letter-recognition.names (A ... Z, 20,000 rows in all).
const UCI_COUNTS = [789, 766, 736, 805, 768, 775, 773, 734, 755, 747, 739, 761, 792, 783, 753, 803, 783, 758, 748, 796, 813, 764, 752, 787, 786, 734];

test("the letter class names are A-Z in label order", () => {
  assert.equal(LETTER_CLASSES.length, 26);
  assert.equal(LETTER_CLASSES[0], "A");
  assert.equal(LETTER_CLASSES[19], "T");
  assert.equal(LETTER_CLASSES[25], "Z");
});

test("bundled Letter Recognition: UCI's 16,000/4,000 split, 16 features scaled to [0, 1], UCI's class counts", async () => {
  const { train, test: testSet, path } = await loadLetter();
  assert.equal(path, bundledLetterPath());
  assert.ok(path.endsWith(join("data", "letter", "letter-recognition.csv.gz")), path);
  assert.equal(LETTER_TRAIN_ROWS, 16_000);
  assert.equal(train.length, 16_000);
  assert.equal(testSet.length, 4_000);
  assert.deepEqual(train.featureShape, [16]);
  assert.equal(train.numClasses, 26);
  assert.equal(testSet.numClasses, 26);
  const train_ = classHistogram(train);
  const test_ = classHistogram(testSet);
  assert.deepEqual(train_.map((n, i) => n + (test_[i] ?? 0)), UCI_COUNTS);
  // UCI's first row: T,2,8,3,5,1,8,13,0,6,6,10,8,0,8,0,8; its last: A,4,9,6,6,2,9,5,3,1,8,1,8,2,7,2,8.
  assert.equal(train.labels[0], 19);
  assert.deepEqual(Array.from(train.features.subarray(0, 16), (v) => Math.round(v * 15)), [2, 8, 3, 5, 1, 8, 13, 0, 6, 6, 10, 8, 0, 8, 0, 8]);
  assert.equal(testSet.labels[3_999], 0);
  assert.deepEqual(Array.from(testSet.features.subarray(3_999 * 16), (v) => Math.round(v * 15)), [4, 9, 6, 6, 2, 9, 5, 3, 1, 8, 1, 8, 2, 7, 2, 8]);
  for (const v of [...train.features, ...testSet.features]) assert.ok(v >= 0 && v <= 1, `feature ${v} outside [0, 1]`);
});

test("`letter` is a named dataset that splits into a 13-task class-incremental scenario of two letters each", async () => {
  const data = await loadNamedData("letter");
  assert.equal(data.name, "letter");
  assert.equal(data.train.length, 16_000);
  const updates = makeScenario("class-incremental", { train: data.train, test: data.test, tasks: 13, seed: 0 });
  assert.equal(updates.length, 13);
  const seen = new Set<number>();
  for (const update of updates) {
    const labels = new Set(update.train.labels);
    assert.equal(labels.size, 2);
    for (const label of labels) seen.add(label);
  }
  assert.equal(seen.size, 26);
});
