/**
 * Small CSV data files and a config for workflow tests: Gaussian blobs
 * (8 features, 6 classes) cut into class-incremental chunks.
 */
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Dataset } from "../../src/data/dataset.js";
import { filterByClasses } from "../../src/data/dataset_ops.js";
import { makeGaussianBlobs } from "../../src/data/synthetic.js";
import { writeConfig, type RelearnConfigInput } from "../../src/workflow/config.js";

export const DIMS = 8;

export function toCsv(data: Dataset): string {
  const header = [...Array.from({ length: DIMS }, (_, i) => `f${i}`), "label"].join(",");
  const rows = Array.from({ length: data.length }, (_, r) =>
    [...Array.from(data.features.subarray(r * DIMS, (r + 1) * DIMS), (v) => v.toFixed(5)), data.labels[r]].join(","),
  );
  return [header, ...rows].join("\n") + "\n";
}

export function workflowConfig(extra: Partial<RelearnConfigInput["options"]> = {}): RelearnConfigInput {
  return {
    model: { type: "mlp", inputShape: [DIMS], hidden: [16], classes: 6 },
    updater: "rd",
    options: { memorySize: 40, batchSize: 16, maxEpochs: 5, seed: 1, backend: "wasm", optimizer: { name: "adam", learningRate: 1e-2 }, ...extra },
  };
}

/** A temp folder with chunk1-3.csv (classes 0-1, 2-3, 4-5), test.csv and relearn.json. */
export async function workflowFolder(samplesPerClass = 40): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "relearn-workflow-"));
  const train = makeGaussianBlobs({ numClasses: 6, samplesPerClass, dims: DIMS, seed: 3, sampleSeed: 1 });
  const test = makeGaussianBlobs({ numClasses: 6, samplesPerClass: 10, dims: DIMS, seed: 3, sampleSeed: 2 });
  for (let i = 0; i < 3; i++) await writeFile(join(dir, `chunk${i + 1}.csv`), toCsv(filterByClasses(train, [2 * i, 2 * i + 1])));
  await writeFile(join(dir, "test.csv"), toCsv(test));
  await writeConfig(join(dir, "relearn.json"), workflowConfig());
  return dir;
}
