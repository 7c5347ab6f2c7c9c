/**
 * UCI Letter Recognition (Slate 1991; CC BY 4.0), a real tabular data set:
 * 20,000 letters A-Z described by 16 integer features (0-15) computed from
 * their glyphs, bundled in data/letter/ (see its README) so the tabular
 * benchmark runs anywhere. Node-only (reads files).
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { DataError } from "../errors.js";
import { parseCsv } from "./csv.js";
import { createDataset, type Dataset } from "./dataset.js";
import { LETTER_CLASSES } from "./letter_classes.js";

export { LETTER_CLASSES };

const BUNDLED_FILE = join("data", "letter", "letter-recognition.csv.gz");
/** The UCI split: the first 16,000 rows train, the last 4,000 test. */
export const LETTER_TRAIN_ROWS = 16_000;
/** The features are integers 0-15; dividing by this puts them in [0, 1] like Fashion-MNIST's pixels. */
const FEATURE_MAX = 15;

/** What `loadLetter` returns: features scaled to [0, 1] (shape [16]), labels 0-25 (see LETTER_CLASSES). */
export interface Letter {
  train: Dataset;
  test: Dataset;
  /** The file the data was read from. */
  path: string;
}

/** The bundled file, found by walking up from this module (src/data/ under tsx, dist/data/ compiled). */
export function bundledLetterPath(): string {
  let folder = dirname(fileURLToPath(import.meta.url));
  for (let level = 0; level < 5; level++) {
    const candidate = join(folder, BUNDLED_FILE);
    if (existsSync(candidate)) return candidate;
    folder = dirname(folder);
  }
  throw new DataError(
    `the bundled Letter Recognition data (${BUNDLED_FILE}) was not found above ${dirname(fileURLToPath(import.meta.url))}; ` +
      `regenerate it with npx tsx scripts/make-letter-csv.ts`,
  );
}

/** Loads the bundled Letter Recognition data, split as UCI does (16,000 train, 4,000 test rows). */
export async function loadLetter(path = bundledLetterPath()): Promise<Letter> {
  const text = new TextDecoder().decode(gunzipSync(await readFile(path)));
  const all = parseCsv(text, { header: true, labelColumn: "label", numClasses: LETTER_CLASSES.length, source: path });
  const width = all.features.length / all.length;
  const split = (from: number, to: number): Dataset =>
    createDataset(
      {
        features: all.features.slice(from * width, to * width).map((v) => v / FEATURE_MAX),
        labels: all.labels.slice(from, to),
        featureShape: all.featureShape,
        numClasses: all.numClasses,
      },
      path,
    );
  if (all.length <= LETTER_TRAIN_ROWS) throw new DataError(`${path}: ${all.length} rows, expected 20,000 (16,000 train + 4,000 test)`);
  return { train: split(0, LETTER_TRAIN_ROWS), test: split(LETTER_TRAIN_ROWS, all.length), path };
}
