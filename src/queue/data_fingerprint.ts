/**
 * A fingerprint of the bytes a benchmark grid reads, for the cells' job ids (benchmark_cell.ts). The ids used to
 * hash the data set's name or path only, so regenerating a CSV at the same path (the usual way of fixing data),
 * or a refreshed Fashion-MNIST folder, made a rerun reuse the cells of the old data: old numbers in a new report.
 *
 * Hashed: the CSV train and test files; every file of an IDX folder; the installed full Fashion-MNIST for
 * "fashion-mnist" and "auto". The data sets shipped in the package ("fashion-mnist-bundled", "letter") change only
 * with relearn's version, which the ids hash already. Each file counts with its name, size and SHA-256, so a grid
 * over the full Fashion-MNIST (30 MB) spends about 0.1-0.2 s here, once per run.
 */
import { createHash } from "node:crypto";
import { createReadStream, existsSync } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { basename, join } from "node:path";
import type { BenchmarkData } from "../benchmark/benchmark_spec.js";
import { FASHION_MNIST_FULL_PATH } from "../data/fashion_mnist.js";

/** The files `data` reads whose bytes can change without relearn's version changing, sorted. */
export async function dataFilesOf(data: BenchmarkData): Promise<string[]> {
  const { dataset } = data;
  if (dataset === "fashion-mnist-bundled" || dataset === "letter") return [];
  if (dataset === "fashion-mnist" || dataset === "auto") return existsSync(FASHION_MNIST_FULL_PATH) ? await filesIn(FASHION_MNIST_FULL_PATH) : [];
  if (dataset.toLowerCase().endsWith(".csv")) return [dataset, ...(data.testDataset === undefined ? [] : [data.testDataset])];
  const info = await stat(dataset).catch(() => null);
  return info?.isDirectory() === true ? await filesIn(dataset) : [dataset];
}

async function filesIn(folder: string): Promise<string[]> {
  const entries = await readdir(folder, { withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(folder, e.name)).sort();
}

/** SHA-256 (hex) over each file's name, size and content hash; "none" when the data reads no such file. */
export async function dataFingerprint(data: BenchmarkData): Promise<string> {
  const files = await dataFilesOf(data);
  if (files.length === 0) return "none";
  const all = createHash("sha256");
  for (const file of files) {
    const content = createHash("sha256");
    let size = 0;
    for await (const chunk of createReadStream(file)) {
      content.update(chunk as Buffer);
      size += (chunk as Buffer).length;
    }
    all.update(`${basename(file)}\0${size}\0${content.digest("hex")}\n`);
  }
  return all.digest("hex");
}
