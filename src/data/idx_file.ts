/**
 * Loads an IDX image/label file pair (MNIST, Fashion-MNIST) from disk as a
 * Dataset. Node-only (node:fs, node:zlib); the byte parsing lives in idx.ts.
 */
import { DataError, OptionsError } from "../errors.js";
import { createDataset, type Dataset, type UnlabelledSamples } from "./dataset.js";
import { parseIdx, type IdxArray } from "./idx.js";
import { readMaybeGzip } from "./file_bytes.js";

/** Options of `loadIdx`. */
export interface LoadIdxOptions {
  /** Path of the images file ([n, rows, cols] or [n, size]), plain or gzip. */
  images: string;
  /** Path of the labels file ([n]), plain or gzip. */
  labels: string;
  numClasses?: number;
  /** Multiplies every pixel value (default 1/255: bytes to [0, 1]). */
  scale?: number;
  /** "flat": featureShape [rows * cols]; "hwc": [rows, cols, 1] for convolutional models. */
  layout?: "flat" | "hwc";
}

async function readIdx(path: string): Promise<IdxArray> {
  return parseIdx(await readMaybeGzip(path), path);
}

/** Loads an IDX images/labels pair as a Dataset with float32 features (pixel * scale). */
export async function loadIdx(options: LoadIdxOptions): Promise<Dataset> {
  const { numClasses = 10 } = options;
  if (!Number.isInteger(numClasses) || numClasses <= 0) {
    throw new OptionsError(`loadIdx: numClasses must be a positive integer, got ${numClasses}`);
  }
  const [samples, labels] = await Promise.all([loadIdxImages(options.images, options), readIdx(options.labels)]);
  if (labels.dims.length !== 1) {
    throw new DataError(`${options.labels}: labels must be 1-D [n], got dims [${labels.dims.join(", ")}]`);
  }
  if (labels.dims[0] !== samples.length) {
    throw new DataError(`${options.images} holds ${samples.length} images but ${options.labels} holds ${labels.dims[0]} labels`);
  }
  for (let i = 0; i < samples.length; i++) {
    const label = labels.data[i]!;
    if (!Number.isInteger(label) || label < 0 || label >= numClasses) {
      throw new DataError(`${options.labels}: label ${label} at index ${i} is not an integer in [0, ${numClasses})`);
    }
  }
  return createDataset({ ...samples, labels: Int32Array.from(labels.data), numClasses }, options.images);
}

/** Loads an IDX images file alone (no labels), e.g. new data to predict on. */
export async function loadIdxImages(path: string, options: Pick<LoadIdxOptions, "scale" | "layout"> = {}): Promise<UnlabelledSamples> {
  const { scale = 1 / 255, layout = "flat" } = options;
  if (!Number.isFinite(scale)) throw new OptionsError(`loadIdx: scale must be a finite number, got ${scale}`);
  if (layout !== "flat" && layout !== "hwc") {
    throw new OptionsError(`loadIdx: layout must be "flat" or "hwc", got ${JSON.stringify(layout)}`);
  }
  const images = await readIdx(path);
  const [count, rows, cols, ...rest] = images.dims;
  if (count === undefined || rows === undefined || rest.length > 0 || (cols === undefined && layout === "hwc")) {
    throw new DataError(
      `${path}: images must have dims [n, rows, cols]` + (layout === "flat" ? " or [n, size]" : "") + `, got [${images.dims.join(", ")}]`,
    );
  }
  const features = new Float32Array(images.data.length);
  const pixels = images.data;
  for (let i = 0; i < pixels.length; i++) features[i] = pixels[i]! * scale;
  const featureShape = layout === "hwc" ? [rows, cols!, 1] : [rows * (cols ?? 1)];
  return { features, featureShape, length: count };
}
