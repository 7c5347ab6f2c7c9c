/**
 * Cuts the bundled Fashion-MNIST subset into three chunks of new data (classes
 * 0-3, 4-6, 7-9) plus a test set, as gzip IDX files, for the README's "Keep a
 * model up to date" walk-through: `npx tsx examples/make-chunks.ts chunks/`.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { encodeIdx, filterByClasses, loadFashionMnist, type Dataset } from "../src/index.js";

const out = process.argv[2] ?? "chunks";
await mkdir(out, { recursive: true });
const { train, test } = await loadFashionMnist({ source: "bundled" });

async function writeIdx(name: string, data: Dataset): Promise<void> {
  const pixels = Uint8Array.from(data.features, (v) => Math.round(v * 255));
  await writeFile(join(out, `${name}-images.idx.gz`), gzipSync(encodeIdx([data.length, 28, 28], pixels)));
  await writeFile(join(out, `${name}-labels.idx.gz`), gzipSync(encodeIdx([data.length], Uint8Array.from(data.labels))));
}

const groups = [[0, 1, 2, 3], [4, 5, 6], [7, 8, 9]];
for (const [i, classes] of groups.entries()) {
  await writeIdx(`chunk${i + 1}`, filterByClasses(train, classes));
  await writeIdx(`val${i + 1}`, filterByClasses(test, classes));
}
await writeIdx("test", test);
console.log(`wrote chunk1-3, val1-3 and test (images + labels, gzip IDX) to ${out}/`);
