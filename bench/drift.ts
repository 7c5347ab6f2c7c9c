/**
 * Drift detection speed: one MMD test (1000 permutations) and one KS test on
 * the bundled Fashion-MNIST subset, first 1000 training images against the
 * next 1000 (784 raw features), per backend. Also the MMD test's Gram matrix
 * and permutation products at --max-samples 500 and 2000.
 *
 *   npx tsx bench/drift.ts              # wasm and cpu
 *   npx tsx bench/drift.ts --wasm       # wasm only
 */
import { initBackend } from "../src/backend/backend.js";
import { detectSampleDrift, type DriftOptions } from "../src/drift/detector.js";
import { subsetDataset } from "../src/data/dataset_ops.js";
import { loadFashionMnist } from "../src/data/fashion_mnist.js";
import { benchArgs } from "./cli_args.js";

const { train } = await loadFashionMnist({ source: "bundled" });
const rows = (start: number, count: number) => subsetDataset(train, Array.from({ length: count }, (_, i) => start + i));

const backends = benchArgs(import.meta.url, { wasm: { type: "boolean", default: false } }).wasm ? (["wasm"] as const) : (["wasm", "cpu"] as const);
for (const backend of backends) {
  await initBackend(backend);
  const runs: [string, number, DriftOptions][] = [
    ["mmd, 500 + 500 rows", 500, { detector: "mmd", maxSamples: 500 }],
    ["mmd, 1000 + 1000 rows", 1000, { detector: "mmd" }],
    ["mmd, 2000 + 2000 rows", 2000, { detector: "mmd", maxSamples: 2000 }],
    ["ks, 1000 + 1000 rows (asymptotic)", 1000, { detector: "ks", ksMethod: "asymptotic" }],
    ["ks, 1000 + 1000 rows (exact, auto)", 1000, { detector: "ks" }],
  ];
  for (const [name, n, options] of runs) {
    const started = performance.now();
    const report = await detectSampleDrift(rows(0, n), rows(n, n), options);
    const seconds = (performance.now() - started) / 1000;
    console.log(`${backend.padEnd(5)} ${name.padEnd(36)} ${seconds.toFixed(2).padStart(7)} s   p ${report.pValue.toPrecision(3)}`);
  }
}
