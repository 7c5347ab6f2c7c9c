/**
 * A benchmark cell's job id covers the bytes of the data it reads: a CSV regenerated at the same path, or a
 * changed IDX folder, gives new cells (a rerun over new data used to reuse the old data's finished cells).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { dataFilesOf, dataFingerprint } from "../../src/queue/data_fingerprint.js";
import { benchmarkCellId, type BenchmarkCellData } from "../../src/queue/benchmark_cell.js";

const cell = (data: BenchmarkCellData["settings"]["data"]): BenchmarkCellData => ({
  settings: {
    data,
    scenario: "class-incremental",
    tasks: 2,
    model: { type: "mlp", inputShape: [2], hidden: [4], classes: 2 },
    epochs: 1,
    batchSize: 8,
    optimizer: { name: "adam", learningRate: 1e-3 },
    backend: "cpu",
  },
  cell: { updater: "er", memorySize: 10, seed: 0, updaterOptions: {} },
});

test("the cell id changes with the CSV files' bytes, not with their timestamps", async () => {
  const dir = await mkdtemp(join(tmpdir(), "relearn-fingerprint-"));
  try {
    const train = join(dir, "train.csv");
    const testFile = join(dir, "test.csv");
    await writeFile(train, "a,b,label\n1,2,0\n3,4,1\n");
    await writeFile(testFile, "a,b,label\n1,2,0\n");
    const data = { dataset: train, testDataset: testFile, layout: "flat" as const };
    assert.deepEqual(await dataFilesOf(data), [train, testFile]);
    const first = await dataFingerprint(data);
    const id = benchmarkCellId(cell(data), first);
    await writeFile(train, "a,b,label\n1,2,0\n3,4,1\n"); // rewritten, same bytes
    assert.equal(await dataFingerprint(data), first);
    assert.equal(benchmarkCellId(cell(data), await dataFingerprint(data)), id, "same bytes: same cell, reused");
    await writeFile(train, "a,b,label\n1,2,0\n3,5,1\n"); // one value fixed
    assert.notEqual(benchmarkCellId(cell(data), await dataFingerprint(data)), id, "new train bytes: a new cell");
    await writeFile(train, "a,b,label\n1,2,0\n3,4,1\n");
    await writeFile(testFile, "a,b,label\n1,2,1\n");
    assert.notEqual(benchmarkCellId(cell(data), await dataFingerprint(data)), id, "new test bytes: a new cell");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("an IDX folder counts every file in it; the data sets shipped with relearn count by its version alone", async () => {
  const dir = await mkdtemp(join(tmpdir(), "relearn-fingerprint-"));
  try {
    const folder = join(dir, "idx");
    await mkdir(folder);
    await writeFile(join(folder, "train-images-idx3-ubyte"), Buffer.from([1, 2, 3]));
    await writeFile(join(folder, "train-labels-idx1-ubyte"), Buffer.from([4]));
    const data = { dataset: folder, layout: "flat" as const };
    assert.equal((await dataFilesOf(data)).length, 2);
    const before = await dataFingerprint(data);
    await writeFile(join(folder, "train-labels-idx1-ubyte"), Buffer.from([5]));
    assert.notEqual(await dataFingerprint(data), before);
    for (const dataset of ["fashion-mnist-bundled", "letter"]) assert.equal(await dataFingerprint({ dataset, layout: "flat" }), "none");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
