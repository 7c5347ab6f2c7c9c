// Data files told by content, not by name (CSV named .txt/.tsv/.dat or gzip'd, IDX named anything), the
// delimiter detected or set (and remembered by the state), and the data.format setting.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import type { Dataset } from "../../src/data/dataset.js";
import { encodeIdx } from "../../src/data/idx.js";
import { makeGaussianBlobs } from "../../src/data/synthetic.js";
import { parseConfig } from "../../src/workflow/config.js";
import { updateFromConfig } from "../../src/workflow/update.js";
import { evaluateState } from "../../src/workflow/evaluate_state.js";
import { predictState } from "../../src/workflow/predict_state.js";
import { inspectState } from "../../src/workflow/inspect_state.js";
import { detectDataKind } from "../../src/data/file_kind.js";
import { useBackend } from "../helpers/backend.js";
import { DIMS, workflowConfig } from "../helpers/workflow_files.js";

before(async () => {
  await useBackend("wasm");
});

const blobs = (samplesPerClass: number, sampleSeed: number) => makeGaussianBlobs({ numClasses: 6, samplesPerClass, dims: DIMS, seed: 3, sampleSeed });

function delimited(data: Dataset, delimiter: string, { header = true, labels = true } = {}): string {
  const names = [...Array.from({ length: DIMS }, (_, i) => `f${i}`), ...(labels ? ["label"] : [])];
  const rows = Array.from({ length: data.length }, (_, r) => [
    ...Array.from(data.features.subarray(r * DIMS, (r + 1) * DIMS), (v) => v.toFixed(5)),
    ...(labels ? [String(data.labels[r])] : []),
  ]);
  return [...(header ? [names] : []), ...rows].map((row) => row.join(delimiter)).join("\n") + "\n";
}

test("CSV/TSV by content: .txt, .tsv, .dat, no extension and gzip'd files are read as CSV with their delimiter detected, by update, evaluate and predict", async () => {
  const dir = await mkdtemp(join(tmpdir(), "relearn-dialects-"));
  try {
    const train = blobs(6, 1);
    const test = blobs(2, 2);
    const config = parseConfig(workflowConfig({ maxEpochs: 1 }));
    const cases: [string, string, (text: string) => string | Uint8Array][] = [
      ["data.tsv", "\t", (t) => t],
      ["data.txt", ";", (t) => t],
      ["export.dat", "|", (t) => t],
      ["noextension", ",", (t) => t],
      ["data.csv.gz", ",", (t) => gzipSync(t)],
      ["data.tsv.gz", "\t", (t) => gzipSync(t)],
      ["gzipped-but-named.csv", ";", (t) => gzipSync(t)],
    ];
    for (const [name, delimiter, encode] of cases) {
      await writeFile(join(dir, name), encode(delimited(train, delimiter)));
      await writeFile(join(dir, `test-${name}`), encode(delimited(test, delimiter)));
      await writeFile(join(dir, `new-${name}`), encode(delimited(test, delimiter, { labels: false })));
      const state = join(dir, `state-${name}`);
      const summary = await updateFromConfig({ config, data: { path: join(dir, name) }, outputState: state });
      assert.deepEqual([summary.data.items, summary.data.read.format, summary.data.read.delimiter, summary.data.read.delimiterRule], [train.length, "csv", delimiter, "detected"], name);
      // The state remembers the separator it read (for files whose lines leave a choice).
      assert.equal((await inspectState(state)).dataSettings?.delimiterRead, delimiter, name);
      const evaluation = await evaluateState({ state, data: { path: join(dir, `test-${name}`) } });
      assert.deepEqual([evaluation.items, evaluation.read.delimiter], [test.length, delimiter], name);
      const predictions = await predictState({ state, data: { path: join(dir, `new-${name}`) } });
      assert.equal(predictions.classes.length, test.length, name);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("IDX by content (any name, gzip'd or not); data.format csv/idx checks the content; errors name the setting", async () => {
  const dir = await mkdtemp(join(tmpdir(), "relearn-dialects-"));
  try {
    const n = 12;
    const pixels = Uint8Array.from({ length: n * DIMS }, (_, i) => (i * 37) % 256);
    const labels = Uint8Array.from({ length: n }, (_, i) => i % 6);
    // An [n, 2, 4] image file: 8 pixels, the model's 8 inputs, named like a CSV and gzip'd.
    await writeFile(join(dir, "images.csv"), gzipSync(encodeIdx([n, 2, 4], pixels)));
    await writeFile(join(dir, "labels.bin"), encodeIdx([n], labels));
    await writeFile(join(dir, "text.idx"), delimited(blobs(2, 1), ","));
    const config = parseConfig(workflowConfig({ maxEpochs: 1 }));
    const state = join(dir, "state");
    const summary = await updateFromConfig({ config, data: { path: join(dir, "images.csv"), labels: join(dir, "labels.bin") }, outputState: state });
    assert.deepEqual([summary.data.items, summary.data.read.format], [n, "idx"]);
    // Text named .idx is CSV under "auto"...
    assert.equal((await evaluateState({ state, data: { path: join(dir, "text.idx") } })).read.format, "csv");
    // ... and an error under "idx", naming the setting; IDX under "csv" likewise.
    await assert.rejects(
      evaluateState({ state, data: { path: join(dir, "text.idx") }, format: { format: "idx" } }),
      /text\.idx: the format is set to "idx" but the file does not start with an IDX magic number .*; it is text: set "csv" or "auto" in the config's "data\.format" or --data-format/,
    );
    await assert.rejects(
      updateFromConfig({ config: parseConfig({ ...workflowConfig(), data: { format: "csv" } }), data: { path: join(dir, "images.csv"), labels: join(dir, "labels.bin") }, outputState: join(dir, "x") }),
      /images\.csv: the format is set to "csv" but the file starts with an IDX magic number: set "idx" or "auto"/,
    );
    // A CSV text without labels file is CSV; IDX images without one say which file they need.
    await assert.rejects(evaluateState({ state, data: { path: join(dir, "images.csv") } }), /images\.csv: IDX images .* need their labels file too \(--labels\)/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("detectDataKind: IDX magic, text, and the binary files users pass by mistake", () => {
  assert.equal(detectDataKind(encodeIdx([2], Uint8Array.of(1, 2)), "a"), "idx");
  assert.equal(detectDataKind(new TextEncoder().encode("a;b\n1;2\n"), "a"), "csv");
  assert.equal(detectDataKind(new Uint8Array(0), "a"), "csv");
  assert.throws(() => detectDataKind(Uint8Array.of(0xff, 0xfe, 0x61, 0), "u16.csv"), /u16\.csv: the file is UTF-16 text .* save it as "CSV UTF-8"/);
  assert.throws(() => detectDataKind(Uint8Array.of(0x50, 0x4b, 3, 4, 0), "book.xlsx"), /book\.xlsx: the file is a ZIP archive \(an \.xlsx spreadsheet/);
  assert.throws(() => detectDataKind(Uint8Array.of(1, 2, 0, 4), "blob"), /blob: binary data that is not IDX/);
});

test("a delimiter setting (config data.delimiter) applies as given, and a wrong one gets an error naming it", async () => {
  const dir = await mkdtemp(join(tmpdir(), "relearn-dialects-"));
  try {
    await writeFile(join(dir, "semi.csv"), delimited(blobs(4, 1), ";"));
    const base = workflowConfig({ maxEpochs: 1 });
    await assert.rejects(
      updateFromConfig({ config: parseConfig({ ...base, data: { delimiter: "," } }), data: { path: join(dir, "semi.csv") }, outputState: join(dir, "a") }),
      /semi\.csv: line 1 has 1 column; need at least one feature and a label; is the delimiter ';'\? the file was read with ',': set the config's "data\.delimiter" to ";" \(--delimiter ';'\)/,
    );
    const summary = await updateFromConfig({ config: parseConfig({ ...base, data: { delimiter: ";" } }), data: { path: join(dir, "semi.csv") }, outputState: join(dir, "b") });
    assert.deepEqual([summary.data.read.delimiter, summary.data.read.delimiterRule], [";", "setting"]);
    assert.throws(() => parseConfig({ ...base, data: { delimiter: ";;" } }), /delimiter must be one character/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
