import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { detectDelimiter } from "../../src/data/csv_dialect.js";
import { DataError } from "../../src/errors.js";
import { parseCsv, parseCsvWithInfo, parseUnlabelledCsv, parseUnlabelledCsvWithInfo } from "../../src/data/csv.js";
import { loadCsv } from "../../src/data/csv_file.js";

test("header row with a 'label' column anywhere", () => {
  const ds = parseCsv("a,label,b\r\n1.5,2,3\r\n-4,0,5e-1\r\n\r\n", { source: "t.csv" });
  assert.deepEqual(ds.featureShape, [2]);
  assert.equal(ds.length, 2);
  assert.equal(ds.numClasses, 3);
  assert.deepEqual(Array.from(ds.features), [1.5, 3, -4, 0.5]);
  assert.deepEqual(Array.from(ds.labels), [2, 0]);
});

test("no header: the last column is the label; header detection is automatic", () => {
  const ds = parseCsv("0.25,1,1\n2,3,0\n", { source: "t.csv" });
  assert.deepEqual(Array.from(ds.features), [0.25, 1, 2, 3]);
  assert.deepEqual(Array.from(ds.labels), [1, 0]);
  // Forcing a header on all-numeric text consumes the first row.
  const forced = parseCsv("9,9,0\n2,3,1\n", { header: true });
  assert.deepEqual(Array.from(forced.features), [2, 3]);
  // A non-"label" header without labelColumn: last column.
  const named = parseCsv("x,y,class\n1,2,4\n", {});
  assert.deepEqual(Array.from(named.labels), [4]);
  assert.equal(named.numClasses, 5);
});

test("label column by name or index, numClasses and delimiter options", () => {
  const text = "y;f1;f2\n1;10;20\n0;30;40\n";
  const byName = parseCsv(text, { delimiter: ";", labelColumn: "y", numClasses: 4 });
  const byIndex = parseCsv(text, { delimiter: ";", labelColumn: 0, numClasses: 4 });
  for (const ds of [byName, byIndex]) {
    assert.deepEqual(Array.from(ds.features), [10, 20, 30, 40]);
    assert.deepEqual(Array.from(ds.labels), [1, 0]);
    assert.equal(ds.numClasses, 4);
  }
  const quoted = parseCsv('"f","label"\n"1","0"\n', {});
  assert.deepEqual(Array.from(quoted.features), [1]);
});

test("blank lines are skipped and line numbers stay those of the file", () => {
  const ds = parseCsv("\uFEFFa,label\n1,0\n\n2,1\n\n\n", { source: "t.csv" });
  assert.equal(ds.length, 2);
  assert.throws(() => parseCsv("a,label\n1,0\n\n2\n", { source: "t.csv" }), /t\.csv: line 4: expected 2 columns, got 1/);
});

test("every CSV error names the source and the line", () => {
  const cases: [string, Parameters<typeof parseCsv>[1], string][] = [
    ["", {}, "data.csv: empty file, no rows to read"],
    ["\n\n", {}, "data.csv: empty file, no rows to read"],
    ["a,label\n", {}, "data.csv: no data rows after the header on line 1"],
    ["a\n1\n", {}, "data.csv: line 1 has 1 column; need at least one feature and a label"],
    ["a,b,label\n1,2,0\n3,4\n", {}, "data.csv: line 3: expected 3 columns, got 2"],
    ["a,b,label\n1,2,0\n3,4,1,5\n", {}, "data.csv: line 3: expected 3 columns, got 4"],
    ["a,b,label\n1,x,0\n", {}, 'data.csv: line 2, column 2 ("b"): "x" is not a number'],
    ["1,2,0\n1,,0\n", {}, 'data.csv: line 2, column 2: "" is not a number'],
    ["1,,0\n", {}, 'data.csv: line 1, column 2: "" is not a number'],
    ["a,b,label\n1,2,0\n1,NaN,0\n", {}, 'data.csv: line 3, column 2 ("b"): non-finite value "NaN"'],
    ["1,2,0\n-Infinity,2,0\n", {}, 'data.csv: line 2, column 1: non-finite value "-Infinity"'],
    ["1,1e39,0\n", {}, "data.csv: line 1, column 2: 1e39 is too large for float32"],
    ["a,label\n1,0\n1,1.5\n", {}, 'data.csv: line 3, column 2 ("label"): label 1.5 is not a non-negative integer; the labels were read from the column named "label": if the labels are in another column, pass --label-column (its name or 0-based index) or set "data.labelColumn" in the config'],
    ["a,label\n1,-1\n", {}, 'data.csv: line 2, column 2 ("label"): label -1 is not a non-negative integer; the labels were read from the column named "label": if the labels are in another column, pass --label-column (its name or 0-based index) or set "data.labelColumn" in the config'],
    ["a,label\n1,0\n1,3\n", { numClasses: 3 }, 'data.csv: line 3, column 2 ("label"): label 3 is out of range [0, 3); the labels were read from the column named "label": if the labels are in another column, pass --label-column (its name or 0-based index) or set "data.labelColumn" in the config'],
    ["a,label\n1,0\n", { labelColumn: "target" }, `data.csv: line 1: unknown label column "target" (--label-column, or the config's "data.labelColumn"); the header has: a, label`],
    ["1,0\n", { labelColumn: "target" }, `data.csv: line 1: labelColumn "target" (--label-column, or the config's "data.labelColumn") is a name but the file has no header row; give a 0-based column index instead`],
    ["1,0\n", { labelColumn: 2 }, `data.csv: line 1: labelColumn 2 (--label-column, or the config's "data.labelColumn") is not a 0-based column index in [0, 2)`],
  ];
  for (const [text, options, message] of cases) {
    assert.throws(() => parseCsv(text, { ...options, source: "data.csv" }), { name: "DataError", message }, JSON.stringify(text));
  }
  assert.throws(() => parseCsv("1,0\n", { delimiter: "" }), { name: "OptionsError" });
  assert.throws(() => parseCsv("1,0\n", { numClasses: 0 }), { name: "OptionsError" });
});

test("loadCsv reads a file and names its path in errors", async () => {
  const dir = mkdtempSync(join(tmpdir(), "relearn-csv-"));
  try {
    const path = join(dir, "train.csv");
    writeFileSync(path, "f1,f2,label\n1,2,1\n3,4,0\n");
    const ds = await loadCsv(path, { numClasses: 2 });
    assert.deepEqual(Array.from(ds.features), [1, 2, 3, 4]);
    assert.deepEqual(Array.from(ds.labels), [1, 0]);
    const bad = join(dir, "bad.csv");
    writeFileSync(bad, "f1,label\n1,0\noops,1\n");
    await assert.rejects(loadCsv(bad), (e: unknown) => e instanceof DataError && e.message.startsWith(`${bad}: line 3`));
    await assert.rejects(loadCsv(join(dir, "none.csv")), /none\.csv: cannot read file/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("unlabelled CSV: every column is a feature, header or not; bad values name line and column", () => {
  const withHeader = parseUnlabelledCsv("a,b,c\n1,2,3\n4,5,6.5\n", { source: "new.csv" });
  assert.deepEqual(withHeader.featureShape, [3]);
  assert.equal(withHeader.length, 2);
  assert.deepEqual(Array.from(withHeader.features), [1, 2, 3, 4, 5, 6.5]);
  assert.ok(!("labels" in withHeader));
  const plain = parseUnlabelledCsv("7\n8\n", { source: "one.csv" });
  assert.deepEqual([plain.featureShape, Array.from(plain.features)], [[1], [7, 8]]);
  assert.throws(() => parseUnlabelledCsv("1,2\n3,x\n", { source: "new.csv", header: false }), (error: unknown) => {
    assert.ok(error instanceof DataError);
    assert.match(error.message, /new\.csv: line 2, column 2: "x" is not a number/);
    return true;
  });
  assert.throws(() => parseUnlabelledCsv("1,2\n3\n", { source: "new.csv", header: false }), /new\.csv: line 2: expected 2 columns, got 1/);
  assert.throws(() => parseUnlabelledCsv("1,nan\n", { source: "new.csv" }), /non-finite value "nan"/);
});

test("a file separated by ';', tabs or '|' is read by auto-detection; a wrong delimiter setting gets an error naming data.delimiter", () => {
  const separators = [[";", "';'"], ["\t", "tab"], ["|", "'|'"]] as const;
  for (const [separator, shown] of separators) {
    for (const header of [["a", "b", "label"], null]) {
      const rows = [...(header ? [header] : []), ["0.5", "1.5", "1"], ["2.5", "3", "0"]];
      const text = rows.map((row) => row.join(separator)).join("\n") + "\n";
      const { dataset, info } = parseCsvWithInfo(text, { source: "semi.csv" });
      assert.deepEqual([Array.from(dataset.features), Array.from(dataset.labels), info.delimiter, info.delimiterRule], [[0.5, 1.5, 2.5, 3], [1, 0], separator, "detected"], shown);
      assert.equal(info.warnings, undefined);
      assert.deepEqual(Array.from(parseUnlabelledCsv(text).features), header ? [0.5, 1.5, 1, 2.5, 3, 0] : [0.5, 1.5, 1, 2.5, 3, 0]);
      // Read with ',' (given): the error asks whether the delimiter is the one in line 1, and names the setting.
      const hint = new RegExp(`is the delimiter ${shown}\\? the file was read with ',': set the config's "data.delimiter" to`);
      assert.throws(() => parseCsv(text, { source: "semi.csv", delimiter: "," }), (error: unknown) => error instanceof DataError && /semi\.csv: line 1 has 1 column/.test(error.message) && hint.test(error.message), `${shown} ${header}`);
      assert.throws(() => parseUnlabelledCsv(text, { delimiter: "," }), (error: unknown) => error instanceof DataError && /is not a number/.test(error.message) && hint.test(error.message));
    }
  }
  // Decimal commas with ';' between fields (Excel in many locales): ',' and ';' both split every line alike; the error says so.
  assert.throws(() => parseCsv("1,5;2,5;1\n0,5;1,5;0\n", { header: false, source: "excel.csv" }), (error: unknown) =>
    error instanceof DataError &&
    /excel\.csv: cannot tell the delimiter: the lines could be separated by ',' or ';'; set it in the config's "data\.delimiter" or with --delimiter, e\.g\. ";" \(--delimiter ';'\); the file seems to use decimal commas/.test(error.message));
  // ... and a state's remembered separator (delimiterFallback) settles a file the lines leave open, but not one they decide.
  assert.deepEqual(detectDelimiter(["1;2|0", "3;4|1"], "x.csv", "|"), { delimiter: "|", rule: "remembered" });
  assert.throws(() => detectDelimiter(["1;2|0", "3;4|1"], "x.csv"), /x\.csv: cannot tell the delimiter: the lines could be separated by ';' or '\|'/);
  assert.deepEqual(parseCsvWithInfo("1;2;0\n3;4;1\n", { header: false, delimiterFallback: "|" }).info.delimiter, ";");
  // A given delimiter must be one character.
  assert.throws(() => parseCsv("1,0\n", { delimiter: ";;" }), { name: "OptionsError" });
  // A comma-separated file gets no warning.
  assert.equal(parseCsvWithInfo("a,b,label\n0.5,1,1\n").info.warnings, undefined);
});

test("a header whose first name is empty (pandas' index column) is read as a feature, with a warning saying so", () => {
  const { dataset, info } = parseCsvWithInfo(",0,1,label\n0,0.5,1.5,1\n1,2.5,3,0\n", { source: "indexed.csv" });
  assert.deepEqual(dataset.featureShape, [3]);
  assert.deepEqual(info.warnings, ["the first column has no name: a pandas index? write with index=False or drop it; it is read as a feature"]);
  assert.match(parseCsvWithInfo(",0,1,label\n0,0.5,1.5,1\n", { header: true }).info.warnings?.join() ?? "", /pandas index/);
  assert.match(parseUnlabelledCsvWithInfo(",0,1\n0,0.5,1.5\n").info.warnings?.join() ?? "", /pandas index/);
  assert.equal(parseCsvWithInfo("x,0,1,label\n0,0.5,1.5,1\n").info.warnings, undefined);
});
