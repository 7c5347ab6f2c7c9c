/**
 * Loads an IDX image/label file pair (MNIST, Fashion-MNIST) from disk as a
 * Dataset. Node-only (node:fs, node:zlib); the byte parsing lives in idx.ts.
 */
import { DataError, OptionsError } from "../errors.js";
import { createDataset, type Dataset, type UnlabelledSamples } from "./dataset.js";
import { checkIdxLength, idxHeaderLength, parseIdx, parseIdxHeader, type IdxArray, type IdxHeader } from "./idx.js";
import { readMaybeGzip, streamMaybeGzip } from "./file_bytes.js";

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
  const images = await readIdxScaled(path, scale);
  const [count, rows, cols, ...rest] = images.dims;
  if (count === undefined || rows === undefined || rest.length > 0 || (cols === undefined && layout === "hwc")) {
    throw new DataError(
      `${path}: images must have dims [n, rows, cols]` + (layout === "flat" ? " or [n, size]" : "") + `, got [${images.dims.join(", ")}]`,
    );
  }
  const featureShape = layout === "hwc" ? [rows, cols!, 1] : [rows * (cols ?? 1)];
  return { features: images.values, featureShape, length: count };
}

/**
 * An IDX file's values times `scale`, as float32. A ubyte file (the pixels of
 * MNIST and Fashion-MNIST) is converted as it streams in, so loading holds the
 * float32 values and a few chunks, never the file's bytes whole: reading it
 * whole held the compressed file, the decompressed one and parseIdx's copy of
 * it (26 + 47 + 47 MB for Fashion-MNIST's 60,000 training images) next to the
 * 188 MB of floats, garbage that lingers until the collector runs. Other
 * types, rare for images, are read whole and parsed by parseIdx.
 */
async function readIdxScaled(path: string, scale: number): Promise<{ dims: number[]; values: Float32Array }> {
  let start: Uint8Array = new Uint8Array(0); // the file's first bytes, until the header is complete
  let header: IdxHeader | undefined;
  let values: Float32Array | undefined;
  /** Value bytes received after the header (more than values.length: trailing bytes, an error at the end). */
  let received = 0;
  /** The whole file, when it is not ubyte. */
  let whole: Uint8Array[] | undefined;
  await streamMaybeGzip(path, (chunk) => {
    if (whole !== undefined) {
      whole.push(chunk);
      return;
    }
    if (header === undefined) {
      start = concatBytes([start, chunk]);
      if (start.length < idxHeaderLength(start)) return;
      header = parseIdxHeader(start, path);
      if (header.type !== "ubyte") {
        whole = [start];
        return;
      }
      values = allocateValues(header, path);
      chunk = start.subarray(header.headerBytes);
    }
    const out = values!;
    const end = Math.min(chunk.length, out.length - received);
    for (let i = 0; i < end; i++) out[received + i] = chunk[i]! * scale;
    received += chunk.length;
  });
  if (whole !== undefined) {
    const { dims, data } = parseIdx(concatBytes(whole), path);
    const converted = new Float32Array(data.length);
    for (let i = 0; i < data.length; i++) converted[i] = data[i]! * scale;
    return { dims, values: converted };
  }
  // No complete header: parseIdxHeader throws the truncation error parseIdx gives.
  const complete = header ?? parseIdxHeader(start, path);
  checkIdxLength(complete, complete.headerBytes + received, path);
  return { dims: complete.dims, values: values ?? new Float32Array(0) };
}

/** The float32 array for a header's values; a corrupt header declaring billions of them is a DataError, not a RangeError. */
function allocateValues(header: IdxHeader, path: string): Float32Array {
  try {
    return new Float32Array(header.count);
  } catch (error) {
    throw new DataError(`${path}: the IDX header declares dims [${header.dims.join(", ")}], ${header.count} values: too many to hold (a corrupt header?)`, { cause: error });
  }
}

function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
