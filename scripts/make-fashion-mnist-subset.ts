/**
 * Makes data/fashion-mnist-subset/: a stratified subset of Fashion-MNIST
 * (1000 train and 200 test images per class, drawn with a fixed seed) in the
 * original IDX + gzip format, small enough to commit so demos and tests run
 * without the full data set. Deterministic: the same input gives the same
 * bytes (gzip header without a timestamp or file name).
 *
 * Usage: npx tsx scripts/make-fashion-mnist-subset.ts [sourceDir] [outputDir]
 *   sourceDir defaults to /usr/share/datasets/fashion-mnist (apt-get install dataset-fashion-mnist)
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { encodeIdx, parseIdx, type IdxArray } from "../src/data/idx.js";
import { readMaybeGzip } from "../src/data/file_bytes.js";
import { Random, deriveSeed } from "../src/random.js";

const SEED = 20170825; // Fashion-MNIST's release date; any fixed value would do.
const NUM_CLASSES = 10;
const PER_CLASS = { train: 1000, t10k: 200 } as const;

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const sourceDir = process.argv[2] ?? "/usr/share/datasets/fashion-mnist";
const outputDir = process.argv[3] ?? join(root, "data", "fashion-mnist-subset");

async function readIdxFile(path: string): Promise<IdxArray> {
  return parseIdx(await readMaybeGzip(path), path);
}

/** `perClass` random indices of every class, returned in increasing order (the original order of the set). */
function stratifiedIndices(labels: ArrayLike<number>, perClass: number, random: Random): number[] {
  const chosen: number[] = [];
  for (let label = 0; label < NUM_CLASSES; label++) {
    const ofClass = Int32Array.from(
      Array.from({ length: labels.length }, (_, i) => i).filter((i) => labels[i] === label),
    );
    if (ofClass.length < perClass) {
      throw new Error(`class ${label} has ${ofClass.length} samples, fewer than the ${perClass} wanted`);
    }
    chosen.push(...random.shuffle(ofClass).subarray(0, perClass));
  }
  return chosen.sort((a, b) => a - b);
}

function writeGzip(path: string, bytes: Uint8Array): void {
  // level 9 and zlib's fixed header (mtime 0, no name) make the output a pure function of the input.
  writeFileSync(path, gzipSync(bytes, { level: 9 }));
  console.log(`wrote ${path}`);
}

async function makeSplit(split: keyof typeof PER_CLASS): Promise<void> {
  const images = await readIdxFile(join(sourceDir, `${split}-images-idx3-ubyte.gz`));
  const labels = await readIdxFile(join(sourceDir, `${split}-labels-idx1-ubyte.gz`));
  const [count, rows, cols] = images.dims;
  if (count === undefined || rows === undefined || cols === undefined || labels.dims[0] !== count) {
    throw new Error(`${split}: unexpected dims: images [${images.dims.join(", ")}], labels [${labels.dims.join(", ")}]`);
  }
  const indices = stratifiedIndices(labels.data, PER_CLASS[split], Random.fromSeed(deriveSeed(SEED, split)));
  const pixels = rows * cols;
  const subsetImages = new Uint8Array(indices.length * pixels);
  const subsetLabels = new Uint8Array(indices.length);
  indices.forEach((index, k) => {
    subsetImages.set(images.data.subarray(index * pixels, (index + 1) * pixels) as Uint8Array, k * pixels);
    subsetLabels[k] = labels.data[index]!;
  });
  writeGzip(join(outputDir, `${split}-images-idx3-ubyte.gz`), encodeIdx([indices.length, rows, cols], subsetImages));
  writeGzip(join(outputDir, `${split}-labels-idx1-ubyte.gz`), encodeIdx([indices.length], subsetLabels));
}

mkdirSync(outputDir, { recursive: true });
await makeSplit("train");
await makeSplit("t10k");
