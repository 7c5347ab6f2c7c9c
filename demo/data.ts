/**
 * The bundled Fashion-MNIST subset, fetched by the page: four gzip'd IDX
 * files, gunzipped with the browser's DecompressionStream and parsed with
 * relearn's parseIdx (the same bytes the Node loader reads).
 */
import { createDataset, type Dataset } from "../src/data/dataset.js";
import { parseIdx } from "../src/data/idx.js";
import { DataError } from "../src/errors.js";

async function fetchIdx(url: string): Promise<{ dims: number[]; data: ArrayLike<number> }> {
  const response = await fetch(url);
  if (!response.ok) throw new DataError(`${url}: HTTP ${response.status} ${response.statusText}`);
  // Read whole before inflating: piping the body straight into DecompressionStream lets Chromium
  // cancel the request once the gzip stream ends, which it reports as a failed (aborted) request.
  const gzipped = new Blob([await response.arrayBuffer()]);
  const bytes = new Uint8Array(await new Response(gzipped.stream().pipeThrough(new DecompressionStream("gzip"))).arrayBuffer());
  return parseIdx(bytes, url);
}

async function loadSplit(base: string, name: "train" | "t10k"): Promise<Dataset> {
  const [images, labels] = await Promise.all([fetchIdx(`${base}${name}-images-idx3-ubyte.gz`), fetchIdx(`${base}${name}-labels-idx1-ubyte.gz`)]);
  const [count, rows, cols] = images.dims;
  if (count === undefined || rows === undefined || cols === undefined || labels.dims[0] !== count) {
    throw new DataError(`${base}${name}: images [${images.dims.join(", ")}] and labels [${labels.dims.join(", ")}] do not match`);
  }
  const features = new Float32Array(images.data.length);
  for (let i = 0; i < features.length; i++) features[i] = images.data[i]! / 255;
  return createDataset({ features, labels: Int32Array.from(labels.data), featureShape: [rows * cols], numClasses: 10 }, `${base}${name}`);
}

/** Train (1000 per class) and test (200 per class) sets of the subset served under `base` (ending in "/"). */
export async function loadFashionMnistSubset(base: string): Promise<{ train: Dataset; test: Dataset }> {
  const [train, test] = await Promise.all([loadSplit(base, "train"), loadSplit(base, "t10k")]);
  return { train, test };
}
