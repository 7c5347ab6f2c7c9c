/**
 * Fashion-MNIST (Xiao et al. 2017, MIT licence): the full set installed by
 * Debian's dataset-fashion-mnist package, or the stratified subset bundled in
 * data/fashion-mnist-subset/ (1000 train and 200 test images per class) so
 * demos and tests run anywhere. Node-only (reads files).
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { DataError, OptionsError } from "../errors.js";
import type { Dataset } from "./dataset.js";
import { loadIdx } from "./idx_file.js";

import { FASHION_MNIST_CLASSES } from "./fashion_mnist_classes.js";

export { FASHION_MNIST_CLASSES };

/** Where Debian's dataset-fashion-mnist package installs the full data. */
export const FASHION_MNIST_FULL_PATH = "/usr/share/datasets/fashion-mnist";

const BUNDLED_FOLDER = join("data", "fashion-mnist-subset");
const TRAIN_IMAGES = "train-images-idx3-ubyte.gz";

/** Options of `loadFashionMnist`. */
export interface FashionMnistOptions {
  /** "auto" (default): the full data when installed, else the bundled subset. */
  source?: "full" | "bundled" | "auto";
  /** "flat" (default): featureShape [784]; "hwc": [28, 28, 1] for convolutional models. */
  layout?: "flat" | "hwc";
  /** Folder of the full data (default /usr/share/datasets/fashion-mnist). */
  fullPath?: string;
}

/** What `loadFashionMnist` returns: pixels scaled to [0, 1], labels 0-9 (see FASHION_MNIST_CLASSES). */
export interface FashionMnist {
  train: Dataset;
  test: Dataset;
  source: "full" | "bundled";
  /** The folder the files were read from. */
  path: string;
}

/**
 * The bundled folder, found by walking up from this module: it sits at the
 * package root, two levels above both src/data/ (tsx) and dist/data/ (compiled).
 */
export function bundledFashionMnistPath(): string {
  let folder = dirname(fileURLToPath(import.meta.url));
  for (let level = 0; level < 5; level++) {
    const candidate = join(folder, BUNDLED_FOLDER);
    if (existsSync(join(candidate, TRAIN_IMAGES))) return candidate;
    folder = dirname(folder);
  }
  throw new DataError(
    `the bundled Fashion-MNIST subset (${BUNDLED_FOLDER}/${TRAIN_IMAGES}) was not found above ` +
      `${dirname(fileURLToPath(import.meta.url))}; regenerate it with npx tsx scripts/make-fashion-mnist-subset.ts`,
  );
}

/** Loads Fashion-MNIST train and test sets from the full installation or the bundled subset. */
export async function loadFashionMnist(options: FashionMnistOptions = {}): Promise<FashionMnist> {
  const { source = "auto", layout = "flat", fullPath = FASHION_MNIST_FULL_PATH } = options;
  if (source !== "full" && source !== "bundled" && source !== "auto") {
    throw new OptionsError(`loadFashionMnist: source must be "full", "bundled" or "auto", got ${JSON.stringify(source)}`);
  }
  if (layout !== "flat" && layout !== "hwc") {
    throw new OptionsError(`loadFashionMnist: layout must be "flat" or "hwc", got ${JSON.stringify(layout)}`);
  }
  const fullInstalled = existsSync(join(fullPath, TRAIN_IMAGES));
  if (source === "full" && !fullInstalled) {
    throw new DataError(
      `loadFashionMnist: the full Fashion-MNIST data is not installed at ${fullPath} ` +
        `(no ${TRAIN_IMAGES}); install it with \`apt-get install dataset-fashion-mnist\` (as root), ` +
        `or use source "bundled" for the 10,000/2,000-image subset shipped with relearn`,
    );
  }
  const chosen = source === "bundled" || (source === "auto" && !fullInstalled) ? "bundled" : "full";
  const path = chosen === "full" ? fullPath : bundledFashionMnistPath();
  const split = (name: "train" | "t10k") =>
    loadIdx({
      images: join(path, `${name}-images-idx3-ubyte.gz`),
      labels: join(path, `${name}-labels-idx1-ubyte.gz`),
      numClasses: FASHION_MNIST_CLASSES.length,
      layout,
    });
  const [train, test] = await Promise.all([split("train"), split("t10k")]);
  return { train, test, source: chosen, path };
}
