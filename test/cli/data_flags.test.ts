// How a read is described on the command line: the header decision and anything that looked wrong.
import { test } from "node:test";
import assert from "node:assert/strict";
import { describeReading, parseDelimiter } from "../../src/cli/data_flags.js";
import { UNNAMED_FIRST_COLUMN } from "../../src/data/csv.js";

test("describeReading names the header rule (remembered included) and every warning of the read", () => {
  const read = { file: "a.csv", format: "csv" as const, rows: 2, header: false, headerRule: "remembered" as const, labelColumn: null };
  assert.equal(describeReading(read), "CSV, header row: no (auto: line 1 is whole numbers, read as in the state's training file)");
  assert.equal(
    describeReading({ ...read, header: true, headerRule: "names", labelColumn: { index: 4, name: "label" }, warnings: [UNNAMED_FIRST_COLUMN] }),
    `CSV, header row: yes (auto: line 1 has names), label column 5 ("label", index 4); warning: ${UNNAMED_FIRST_COLUMN}`,
  );
});

test("describeReading names a separator other than ',' and how it was chosen; --delimiter takes tab by name", () => {
  const read = { file: "a.tsv", format: "csv" as const, rows: 2, header: true, headerRule: "names" as const, labelColumn: null };
  assert.equal(describeReading({ ...read, delimiter: ",", delimiterRule: "detected" }), "CSV, header row: yes (auto: line 1 has names)");
  assert.equal(describeReading({ ...read, delimiter: "\t", delimiterRule: "detected" }), "CSV (tab-separated, detected), header row: yes (auto: line 1 has names)");
  assert.equal(describeReading({ ...read, delimiter: ";", delimiterRule: "remembered" }), "CSV (';'-separated, remembered), header row: yes (auto: line 1 has names)");
  assert.equal(describeReading({ ...read, delimiter: "|", delimiterRule: "setting" }), "CSV ('|'-separated), header row: yes (auto: line 1 has names)");
  assert.deepEqual(["tab", "\\t", ";", ","].map(parseDelimiter), ["\t", "\t", ";", ","]);
  assert.throws(() => parseDelimiter(";;"), /expected one character/);
});
