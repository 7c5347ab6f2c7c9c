// Whether line 1 of a CSV file is a header: a wrong guess adds or drops a sample without any error,
// so these tests pin the row count for whole classes of first rows, for the labelled and the
// unlabelled reader, and the error for line ends the reader cannot split (lone CR).
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { DataError } from "../../src/errors.js";
import { parseCsv, parseCsvWithInfo, parseUnlabelledCsv, parseUnlabelledCsvWithInfo } from "../../src/data/csv.js";
import { loadCsv, loadUnlabelledCsv } from "../../src/data/csv_file.js";
import { loadNamedData } from "../../src/data/named_datasets.js";

/** A feature value with a fractional part, so a row of them can never be column numbers. */
const feature = fc.integer({ min: -4000, max: 4000 }).map((i) => (i / 8 + 0.0625).toString());
const label = fc.integer({ min: 0, max: 4 });

/** n >= 1 rows of `features` feature values and a label: the rows as text and the expected numbers. */
function table(features: number) {
  return fc.array(fc.tuple(fc.array(feature, { minLength: features, maxLength: features }), label), { minLength: 1, maxLength: 8 });
}

const toText = (rows: string[][], end = "\n") => rows.map((r) => r.join(",")).join(end) + end;
const labelledRows = (rows: [string[], number][]) => rows.map(([f, l]) => [...f, String(l)]);
/** Pandas' header for a frame of k unnamed columns: 0,1,...,k-1. */
const pandasHeader = (k: number) => Array.from({ length: k }, (_, i) => String(i));

test("pandas' numbered header 0,1,...,k-1 under header auto: exactly the data rows, labelled and unlabelled", () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 9 }).chain((f) => fc.tuple(fc.constant(f), table(f))), ([features, rows]) => {
      const data = labelledRows(rows);
      const text = toText([pandasHeader(features + 1), ...data]);
      const { dataset, info } = parseCsvWithInfo(text, { source: "pandas.csv" });
      assert.equal(dataset.length, rows.length);
      assert.deepEqual(Array.from(dataset.labels), rows.map(([, l]) => l));
      assert.deepEqual(Array.from(dataset.features), rows.flatMap(([f]) => f.map(Number)).map(Math.fround));
      assert.deepEqual(info, {
        source: "pandas.csv", rows: rows.length, columns: features + 1, header: true, headerRule: "column-numbers",
        delimiter: ",", delimiterRule: "detected", labelColumn: { index: features, name: String(features) }, featureNames: pandasHeader(features),
      });
      // The same file to predict on, label column dropped: header 0..k-1 again; a lone "0" could be a
      // one-column header or a sample, so that one must be said.
      const unlabelled = toText([pandasHeader(features), ...rows.map(([f]) => f)]);
      if (features === 1) {
        assert.throws(() => parseUnlabelledCsv(unlabelled), /line 1 \(0\) could be a header/);
        assert.equal(parseUnlabelledCsv(unlabelled, { header: true }).length, rows.length);
        return;
      }
      const read = parseUnlabelledCsvWithInfo(unlabelled);
      assert.equal(read.samples.length, rows.length);
      assert.equal(read.info.header, true);
    }),
  );
  // The issue's own cases.
  assert.equal(parseCsv("0,1,2,3\n0.5,1.5,2.5,1\n").length, 1);
  assert.deepEqual(Array.from(parseCsv("0,1,2,3\n0.5,1.5,2.5,1\n").labels), [1]);
  assert.equal(parseUnlabelledCsv("0,1\n0.5,1\n2,3\n").length, 2);
  assert.deepEqual(parseCsvWithInfo("0,1,2,label\n0.5,1.5,2.5,1\n").info.labelColumn, { index: 3, name: "label" });
});

test("header auto never reads a row of column numbers as a sample: a header, or an error asking for header true/false", () => {
  // Any strictly increasing non-negative integers (column numbers, after pandas dropped some or numbered from 1).
  const numbered = fc.uniqueArray(fc.integer({ min: 0, max: 5000 }), { minLength: 1, maxLength: 8 }).map((v) => v.sort((a, b) => a - b));
  fc.assert(
    fc.property(numbered, fc.array(feature, { minLength: 1, maxLength: 6 }), (header, row) => {
      const k = header.length;
      // Three data rows: fractional features, an integer label last.
      const data = Array.from({ length: 3 }, () => Array.from({ length: k }, (_, i) => (i === k - 1 && k >= 2 ? "1" : row[i % row.length]!)));
      const text = toText([header.map(String), ...data]);
      const readers = [() => parseUnlabelledCsv(text).length, ...(k >= 2 ? [() => parseCsv(text, { header: "auto" }).length] : [])];
      for (const read of readers) {
        let rows: number;
        try {
          rows = read();
        } catch (error) {
          assert.ok(error instanceof DataError, String(error));
          assert.match(error.message, /line 1 \(.*\) could be a header of numbered columns or a row of data: set header true .* or false/);
          continue;
        }
        // Read as a header: only a lone nonzero number (one column) may be taken as data.
        assert.equal(rows, k === 1 && header[0] !== 0 ? 4 : 3, `header ${header}`);
      }
    }),
  );
});

test("header auto: a first row with a decimal, sign, exponent, repeat or decrease is data; one with a name is a header", () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 6 }).chain((f) => table(f)), (rows) => {
      const data = labelledRows(rows);
      const { dataset, info } = parseCsvWithInfo(toText(data));
      assert.equal(dataset.length, rows.length);
      assert.deepEqual([info.header, info.headerRule], [false, "numbers"]);
      const named = parseCsvWithInfo(toText([[...data[0]!.slice(0, -1).map((_, i) => `f${i}`), "label"], ...data]));
      assert.equal(named.dataset.length, rows.length);
      assert.deepEqual([named.info.header, named.info.headerRule], [true, "names"]);
    }),
  );
  for (const first of ["3,2,1", "1,1,0", "-1,2,3", "1e2,3e2,4", "0,1.5,2"]) assert.equal(parseCsv(`${first}\n4,5,1\n`).length, 2, first);
});

test("header true / false: exactly the rows after line 1 / all rows, whatever header line 1 holds", () => {
  // Any header a writer might use: names, numbers, plain integers (a row of decimals is data: see below).
  const anyField = fc.oneof(fc.constantFrom("a", "x1", "y", "f 2"), fc.integer({ min: 0, max: 99 }).map(String));
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 6 }).chain((f) => fc.tuple(fc.array(anyField, { minLength: f + 1, maxLength: f + 1 }), table(f))), ([header, rows]) => {
      const data = labelledRows(rows);
      const withHeader = parseCsvWithInfo(toText([header, ...data]), { header: true });
      assert.equal(withHeader.dataset.length, rows.length);
      assert.deepEqual(Array.from(withHeader.dataset.labels), rows.map(([, l]) => l));
      assert.deepEqual([withHeader.info.header, withHeader.info.headerRule], [true, "setting"]);
      assert.equal(parseUnlabelledCsv(toText([header, ...data]), { header: true }).length, rows.length);
      const without = parseCsvWithInfo(toText(data), { header: false });
      assert.equal(without.dataset.length, rows.length);
      assert.deepEqual([without.info.header, without.info.labelColumn], [false, { index: header.length - 1 }]);
      assert.equal(parseUnlabelledCsv(toText(data), { header: false }).length, rows.length);
    }),
  );
  // header false on a named header: the names are an error, not a silent sample.
  assert.throws(() => parseCsv("a,label\n1,0\n", { header: false, source: "t.csv" }), /t\.csv: line 1, column 1: "a" is not a number/);
});

test("CR-only line ends (old Mac) are an error saying so and how to fix it, for every reader", async () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 4 }).chain((f) => table(f)), fc.boolean(), (rows, header) => {
      const data = labelledRows(rows);
      const text = toText(header ? [pandasHeader(data[0]!.length), ...data] : data, "\r");
      for (const read of [() => parseCsv(text, { source: "mac.csv" }), () => parseUnlabelledCsv(text, { source: "mac.csv" }), () => parseCsv(text, { source: "mac.csv", header })]) {
        assert.throws(read, (error: unknown) => {
          assert.ok(error instanceof DataError);
          assert.match(error.message, /^mac\.csv: line 1 ends with a lone carriage return \(CR, old Mac line ends\): lines must end in LF or CRLF; convert the file/);
          return true;
        });
      }
    }),
  );
  // One lone CR in a CRLF file: the line is named.
  assert.throws(() => parseCsv("a,label\r\n1,0\r\n2,1\r3,0\r\n", { source: "mixed.csv" }), /mixed\.csv: line 3 ends with a lone carriage return/);
  const dir = await mkdtemp(join(tmpdir(), "relearn-csv-cr-"));
  try {
    const path = join(dir, "mac.csv");
    await writeFile(path, "f1,f2,label\r1,2,0\r3,4,1\r");
    await assert.rejects(loadCsv(path), { name: "DataError", message: new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}: line 1 ends with a lone carriage return`) });
    await assert.rejects(loadUnlabelledCsv(path), /lone carriage return/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("benchmark CSV data (loadNamedData): pandas' numbered header read as a header, the header option passed to both files", async () => {
  const dir = await mkdtemp(join(tmpdir(), "relearn-csv-named-"));
  try {
    const rows = "0.5,1.5,0\n2.5,3.5,1\n4.5,5.5,1\n";
    await writeFile(join(dir, "pandas.csv"), `0,1,2\n${rows}`);
    await writeFile(join(dir, "one-based.csv"), `1,2,3\n${rows}`);
    const pandas = await loadNamedData(join(dir, "pandas.csv"), { testDataset: join(dir, "pandas.csv") });
    assert.deepEqual([pandas.train.length, pandas.test.length, Array.from(pandas.train.labels)], [3, 3, [0, 1, 1]]);
    await assert.rejects(loadNamedData(join(dir, "one-based.csv"), { testDataset: join(dir, "one-based.csv") }), /one-based\.csv: line 1 \(1,2,3\) could be a header/);
    const explicit = await loadNamedData(join(dir, "one-based.csv"), { testDataset: join(dir, "one-based.csv"), header: true });
    assert.deepEqual([explicit.train.length, explicit.test.length], [3, 3]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("a line 1 that is plainly data (numbers, one with a decimal, sign or exponent) is never lost: read under auto whatever the remembered decision, an error under header true", () => {
  const fallbacks = [undefined, true, false] as const;
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 6 }).chain((f) => table(f)), fc.constantFrom(...fallbacks), (rows, fallback) => {
      const data = labelledRows(rows);
      const text = toText(data);
      const options = { source: "new.csv", ...(fallback === undefined ? {} : { headerFallback: fallback }) };
      const labelled = parseCsvWithInfo(text, options);
      assert.equal(labelled.dataset.length, rows.length);
      assert.deepEqual(Array.from(labelled.dataset.labels), rows.map(([, l]) => l));
      assert.deepEqual([labelled.info.header, labelled.info.headerRule], [false, "numbers"]);
      assert.equal(parseUnlabelledCsv(toText(rows.map(([f]) => f)), options).length, rows.length);
      for (const read of [() => parseCsv(text, { ...options, header: true, headerSource: "--header" }), () => parseUnlabelledCsv(text, { ...options, header: true, headerSource: "--header" })]) {
        assert.throws(read, (error: unknown) => error instanceof DataError && /^new\.csv: line 1 \(.*\) is a row of numbers, not a header, but header is true \(--header\): set header false/.test(error.message));
      }
    }),
  );
});

test("a header line with a name is never read as a sample, whatever the remembered decision", () => {
  const name = fc.constantFrom("a", "x1", "label", "petal length", "f_3");
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 6 }).chain((f) => fc.tuple(table(f), fc.array(fc.oneof(name, fc.integer({ min: 0, max: 9 }).map(String)), { minLength: f, maxLength: f }), name)), fc.constantFrom(undefined, true, false), ([rows, names, lastName], fallback) => {
      const header = [...names.map((n) => (n === "label" ? "y" : n)), lastName === "label" ? "label" : "z"];
      const options = fallback === undefined ? {} : { headerFallback: fallback };
      const { dataset, info } = parseCsvWithInfo(toText([header, ...labelledRows(rows)]), options);
      assert.equal(dataset.length, rows.length);
      assert.deepEqual([info.header, info.headerRule], [true, "names"]);
      assert.equal(parseUnlabelledCsv(toText([header.slice(0, -1).map((n) => `${n}_`), ...rows.map(([f]) => f)]), options).length, rows.length);
    }),
  );
});

test("a line 1 of plain integers that may be either is read as the remembered decision says; without one, 0,1,...,n-1 above integer rows is an error, not a guess", () => {
  // One binary feature and a label: `0,1` is as likely a sample as pandas' header.
  assert.throws(() => parseCsv("0,1\n2,1\n", { source: "bin.csv" }), /bin\.csv: line 1 \(0,1\) could be a header/);
  assert.throws(() => parseUnlabelledCsv("0,1,2,3\n4,5,6,7\n"), /could be a header/);
  assert.deepEqual(Array.from(parseCsv("0,1\n2,1\n", { headerFallback: false }).labels), [1, 1]);
  assert.deepEqual(Array.from(parseCsv("0,1\n2,1\n", { headerFallback: true }).labels), [1]);
  // Numbered from 1 (increasing, not 0,1,...): numbered names when the training file had them.
  assert.equal(parseUnlabelledCsv("1,2,3\n0.5,0.25,0.125\n", { headerFallback: true }).length, 1);
  const read = parseUnlabelledCsvWithInfo("1,2,3\n0.5,0.25,0.125\n", { headerFallback: false });
  assert.deepEqual([read.samples.length, read.info.header, read.info.headerRule], [2, false, "remembered"]);
});

test("a remembered decision never overrules what auto decides: whole numbers not increasing are data, pandas' 0,1,...,n-1 above non-integer rows is a header", () => {
  // The second tester's case: a state trained on a file with a header, a new file without one whose line 1 is whole numbers.
  for (const fallback of [undefined, true, false]) {
    const options = fallback === undefined ? {} : { headerFallback: fallback };
    const read = parseCsvWithInfo("5,11,5,4,1\n6,11,8,11,2\n3,2,1,0,0\n", options);
    assert.deepEqual([read.dataset.length, read.info.header, read.info.headerRule], [3, false, "numbers"]);
    const pandas = parseUnlabelledCsvWithInfo("0,1,2,3\n5.5,6,7,8\n1,2,3,4\n", options);
    assert.deepEqual([pandas.samples.length, pandas.info.header, pandas.info.headerRule], [2, true, "column-numbers"]);
  }
  // As a property: any line 1 of whole numbers with a repeat or a decrease is a sample under every remembered decision.
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 0, max: 50 }), { minLength: 2, maxLength: 6 }).filter((v) => v.some((x, i) => i > 0 && x <= v[i - 1]!)),
      fc.constantFrom(true, false),
      (line1, fallback) => {
        const text = `${line1.join(",")}\n${line1.map((x) => x + 0.5).join(",")}\n`;
        assert.equal(parseUnlabelledCsv(text, { headerFallback: fallback }).length, 2);
      },
    ),
  );
});
