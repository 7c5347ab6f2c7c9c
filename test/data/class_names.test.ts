// Class names in CSV labels: a label map given (the config's data.classNames) or built from the data (sorted),
// grown only by appending; numeric labels read exactly as before; every label error says how to map names.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { parseCsv, parseCsvWithInfo, parsePredictionCsvWithInfo } from "../../src/data/csv.js";
import { extendLabelMap, mergeClassNames } from "../../src/data/label_map.js";
import { parseConfig } from "../../src/workflow/config.js";
import { loadNamedData } from "../../src/data/named_datasets.js";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { workflowConfig } from "../helpers/workflow_files.js";

const ANIMALS = "x,y,label\n1,2,dog\n3,4,cat\n5,6,bird\n7,8,cat\n";

test("a name label without class names: the error says how to map names (not just that it is no number)", () => {
  assert.throws(() => parseCsv(ANIMALS, { source: "a.csv" }), {
    name: "DataError",
    message:
      'a.csv: line 2, column 3 ("label"): label "dog" is not a number and no class names are set: list the class names in the ' +
      `config's "data.classNames" (e.g. ["cat", "dog"]: the first is class 0), or start a new state from this file: its first ` +
      'update maps the names it finds, sorted, to classes 0, 1, ...; the labels were read from the column named "label": ' +
      'if the labels are in another column, pass --label-column (its name or 0-based index) or set "data.labelColumn" in the config',
  });
});

test("names map through the class names given: index = position in the list", () => {
  const { dataset, info } = parseCsvWithInfo(ANIMALS, { classNames: ["cat", "dog", "bird"], source: "a.csv" });
  assert.deepEqual(Array.from(dataset.labels), [1, 0, 2, 0]);
  assert.equal(dataset.numClasses, 3);
  assert.deepEqual(info.classNames, ["cat", "dog", "bird"]);
  assert.deepEqual(Array.from(dataset.features), [1, 2, 3, 4, 5, 6, 7, 8]);
  // A model with more outputs than names: the names are its first classes.
  assert.equal(parseCsv(ANIMALS, { classNames: ["cat", "dog", "bird"], numClasses: 5 }).numClasses, 5);
  // Quoted names and spaces around them are the same name.
  assert.deepEqual(Array.from(parseCsv('x,label\n1," cat "\n2,"dog"\n', { classNames: ["cat", "dog"] }).labels), [0, 1]);
});

test('newClassNames "add" builds the list from the data, sorted by code unit, whatever the row order', () => {
  const { dataset, info } = parseCsvWithInfo(ANIMALS, { newClassNames: "add" });
  assert.deepEqual(info.classNames, ["bird", "cat", "dog"]);
  assert.deepEqual(Array.from(dataset.labels), [2, 1, 0, 1]);
  assert.deepEqual(parseCsvWithInfo("x,label\n1,b\n2,a\n3,B\n4,class10\n5,class2\n", { newClassNames: "add" }).info.classNames, ["B", "a", "b", "class10", "class2"]);
});

test("a name not in the class names is an error naming the line, the classes and how to add one", () => {
  assert.throws(() => parseCsv(ANIMALS, { classNames: ["cat", "dog"], source: "a.csv" }), {
    name: "DataError",
    message:
      'a.csv: line 4, column 3 ("label"): label "bird" is not one of the 2 classes ("cat", "dog"): fix the label, or, for a new ' +
      `class, let the model grow an output for it: "options.growClasses": true in the config (CLI --grow-classes)`,
  });
  // With class names every label is a name: class indices are not accepted in their place.
  assert.throws(() => parseCsv("x,label\n1,0\n", { classNames: ["cat", "dog"] }), /label "0" is not one of the 2 classes/);
});

test("more class names than model outputs, a missing label, and numbers among names are errors", () => {
  assert.throws(() => parseCsv(ANIMALS, { newClassNames: "add", numClasses: 2, source: "a.csv" }), {
    name: "DataError",
    message: 'a.csv: 3 classes ("bird", "cat", "dog") but the model has 2 outputs: set "model.classes" in the config to 3 or more before the first update',
  });
  assert.throws(() => parseCsv("x,label\n1,cat\n2,\n", { newClassNames: "add", source: "a.csv" }), {
    message: 'a.csv: line 3, column 2 ("label"): the label is missing (an empty field)',
  });
  assert.throws(() => parseCsv("x,label\n1,cat\n2,3\n", { newClassNames: "add", source: "a.csv" }), {
    message:
      'a.csv: line 3, column 2 ("label"): label "3" is a number, but line 2, column 2 ("label") is the name "cat": a label column ' +
      `holds class indices or class names, not both; fix the labels, or list every class name (numbers too) in the config's "data.classNames"`,
  });
  // Listed, numbers are names like any other.
  assert.deepEqual(Array.from(parseCsv("x,label\n1,cat\n2,3\n", { classNames: ["3", "cat"] }).labels), [1, 0]);
});

test("numeric labels read exactly as before, with or without newClassNames", () => {
  const text = "x,label\n1,2\n2,0\n3,1\n";
  for (const options of [{}, { newClassNames: "add" as const }]) {
    const { dataset, info } = parseCsvWithInfo(text, options);
    assert.deepEqual(Array.from(dataset.labels), [2, 0, 1]);
    assert.equal(dataset.numClasses, 3);
    assert.equal(info.classNames, undefined);
  }
});

test("the default label column is named in label errors, with the data.labelColumn setting; not when the column was set", () => {
  // No column named "label": the last one is taken, here a feature.
  assert.throws(() => parseCsv("species,petal\n0,0.25\n", { source: "iris.csv" }), {
    message:
      'iris.csv: line 2, column 2 ("petal"): label 0.25 is not a non-negative integer; the labels were read from the last column, ' +
      'column 2 ("petal", index 1), as the header has no column named "label": if the labels are in another column, pass --label-column ' +
      '(its name or 0-based index) or set "data.labelColumn" in the config',
  });
  assert.throws(() => parseCsv("1,0.25\n", { header: false, source: "iris.csv" }), /read from the last column, column 2 \(index 1\), as the file has no header: if the labels are in another column, pass --label-column \(its name or 0-based index\) or set "data\.labelColumn"/);
  assert.throws(() => parseCsv("petal,species\n0.25,x\n", { labelColumn: 0, source: "iris.csv" }), (error: Error) => !error.message.includes("data.labelColumn"));
});

test("a file to predict on with its label column: names there are dropped unread", () => {
  const { samples, info } = parsePredictionCsvWithInfo(ANIMALS, { inputs: 2 });
  assert.deepEqual([samples.length, samples.featureShape, Array.from(samples.features)], [4, [2], [1, 2, 3, 4, 5, 6, 7, 8]]);
  assert.deepEqual(info.labelColumn, { index: 2, name: "label" });
  const unlabelled = parsePredictionCsvWithInfo("x,y\n1,2\n", { inputs: 2 });
  assert.deepEqual([unlabelled.samples.featureShape, unlabelled.info.labelColumn], [[2], null]);
});

test("extendLabelMap keeps every index, adds each new name once, the new ones sorted and independent of order", () => {
  const name = fc.constantFrom("cat", "dog", "bird", "Cat", "fish", "owl", "10", "2");
  fc.assert(
    fc.property(fc.uniqueArray(name), fc.array(name), (map, labels) => {
      const extended = extendLabelMap(map, labels);
      assert.deepEqual(extended.slice(0, map.length), map);
      const added = extended.slice(map.length);
      assert.deepEqual(added, [...new Set(labels.filter((label) => !map.includes(label)))].sort());
      assert.deepEqual(extendLabelMap(map, [...labels].reverse()), extended);
      assert.deepEqual(extendLabelMap(extended, labels), extended);
    }),
  );
  assert.deepEqual(extendLabelMap(["dog", "cat"], ["owl", "cat", "bird", "owl"]), ["dog", "cat", "bird", "owl"]);
});

test("class names of a state and of a config: one may add names after the other, never rename an index", () => {
  const where = { stored: "the state", given: "the config" };
  assert.deepEqual(mergeClassNames(["b", "a"], ["b", "a", "c"], where), ["b", "a", "c"]);
  assert.deepEqual(mergeClassNames(["b", "a", "c"], ["b"], where), ["b", "a", "c"]);
  assert.deepEqual(mergeClassNames(undefined, ["x"], where), ["x"]);
  assert.equal(mergeClassNames(undefined, undefined, where), undefined);
  assert.throws(() => mergeClassNames(["bird", "cat"], ["cat", "bird"], where), {
    name: "OptionsError",
    message: 'the config names class 0 "cat", but the state has "bird" as class 0: a class index keeps its name once a model trained on it; list the classes in the state\'s order ("bird", "cat"), new names after them',
  });
});

test("the config's data.classNames: distinct, not empty", () => {
  const config = (classNames: unknown) => ({ ...workflowConfig(), data: { classNames } });
  assert.deepEqual(parseConfig(config(["cat", "dog"])).data.classNames, ["cat", "dog"]);
  assert.throws(() => parseConfig(config(["cat", "cat"]), "r.json"), /r\.json is not a valid relearn config:[\s\S]*class names must be distinct[\s\S]*data\.classNames/);
  assert.throws(() => parseConfig(config(["cat", " "]), "r.json"), /a class name must not be empty/);
  assert.throws(() => parseConfig(config([]), "r.json"), /data\.classNames/);
});

test("benchmark CSV data with name labels (loadNamedData): classes sorted from the training file, the test file mapped through them", async () => {
  const dir = await mkdtemp(join(tmpdir(), "relearn-names-bench-"));
  try {
    await writeFile(join(dir, "train.csv"), "x,letter\n1,B\n2,A\n3,C\n");
    await writeFile(join(dir, "test.csv"), "x,letter\n4,C\n5,A\n");
    await writeFile(join(dir, "other.csv"), "x,letter\n4,D\n");
    const data = await loadNamedData(join(dir, "train.csv"), { testDataset: join(dir, "test.csv") });
    assert.deepEqual(data.classNames, ["A", "B", "C"]);
    assert.deepEqual([Array.from(data.train.labels), Array.from(data.test.labels), data.test.numClasses], [[1, 0, 2], [2, 0], 3]);
    await assert.rejects(loadNamedData(join(dir, "train.csv"), { testDataset: join(dir, "other.csv") }), /other\.csv: line 2, column 2 \("letter"\): label "D" is not one of the 3 classes \("A", "B", "C"\)/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
