/**
 * Training-step micro-benchmark on the wasm backend: ms per SGD step with
 * the stock tfjs-backend-wasm kernels against relearn's overrides
 * (src/backend/wasm_kernels), for an MLP 784-256-256-10 and a small CNN
 * (conv 32 3x3 -> pool -> conv 64 3x3 -> pool -> dense 128 -> 10 on
 * 28x28x1), batch 128. Also measures the plain-matmul ceiling in the same
 * run and how much of it the MLP step reaches.
 *
 *   npx tsx bench/train_step.ts [--quick]
 */
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../src/backend/backend.js";
import { installWasmKernelOverrides, uninstallWasmKernelOverrides } from "../src/backend/wasm_kernels/index.js";
import { buildModel, type ContinualModel } from "../src/model/continual_model.js";
import { cnn, mlp, type ModelSpec } from "../src/model/spec.js";
import { crossEntropyLoss } from "../src/training/losses.js";
import { Random } from "../src/random.js";

const BATCH = 128;
const quick = process.argv.includes("--quick");
/** Each measurement runs at least this long (after warm-up steps). */
const MIN_MS = quick ? 300 : 2000;

const MLP_SPEC = mlp({ inputShape: [784], hidden: [256, 256], classes: 10 });
const CNN_SPEC = cnn({
  inputShape: [28, 28, 1],
  conv: [
    { filters: 32, kernelSize: 3, pool: true },
    { filters: 64, kernelSize: 3, pool: true },
  ],
  dense: [128],
  classes: 10,
});

/** Median-free but steady: warm up, then time whole steps until MIN_MS has passed. */
function msPer(step: () => void, warmup = 2): number {
  for (let i = 0; i < warmup; i++) step();
  let steps = 0;
  const start = performance.now();
  do {
    step();
    steps++;
  } while (performance.now() - start < MIN_MS || steps < 3);
  return (performance.now() - start) / steps;
}

function randomBatch(shape: number[], classes: number, seed: number): { x: tf.Tensor; y: tf.Tensor1D } {
  const random = Random.fromSeed(seed);
  const values = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < values.length; i++) values[i] = random.float();
  const labels = new Int32Array(shape[0] ?? 0);
  for (let i = 0; i < labels.length; i++) labels[i] = random.int(0, classes - 1);
  return { x: tf.tensor(values, shape), y: tf.tensor1d(labels, "int32") };
}

/** ms per SGD step of `spec` on the active backend; "throws: ..." when the step fails. */
function timeTrainStep(spec: ModelSpec): number | string {
  const model: ContinualModel = buildModel(spec, { seed: 0 });
  const { x, y } = randomBatch([BATCH, ...spec.inputShape], spec.classes, 1);
  const optimizer = tf.train.sgd(0.01);
  const variables = model.trainableVariables();
  const loss = () => tf.mean(crossEntropyLoss(model.getLogits(x, undefined, true), y)) as tf.Scalar;
  try {
    return msPer(() => tf.dispose(optimizer.minimize(loss, false, variables) ?? []));
  } catch (error) {
    failures.push(`${spec.type}: ${(error as Error).message.split("\n")[0] ?? ""}`);
    return "throws";
  } finally {
    tf.dispose([x, y]);
    optimizer.dispose();
    model.dispose();
  }
}

/** GFLOP/s of a plain [m, k] x [k, n] matmul (fixed right operand, as a forward dense layer). */
function matmulGflops(m: number, k: number, n: number, transposeA = false, transposeB = false): number {
  const a = randomBatch(transposeA ? [k, m] : [m, k], 1, 2).x;
  const b = randomBatch(transposeB ? [n, k] : [k, n], 1, 3).x;
  const ms = msPer(() => tf.matMul(a, b, transposeA, transposeB).dispose(), 3);
  tf.dispose([a, b]);
  return (2 * m * k * n) / (ms * 1e6);
}

/** FLOPs of one MLP training step: forward + two backward matmuls per dense layer. */
function mlpStepFlops(): number {
  const widths = [784, 256, 256, 10];
  let flops = 0;
  for (let i = 0; i + 1 < widths.length; i++) flops += 3 * 2 * BATCH * (widths[i] ?? 0) * (widths[i + 1] ?? 0);
  return flops;
}

/** The kernels one training step spends the most time in. */
async function topKernels(spec: ModelSpec, count = 5): Promise<string> {
  const model = buildModel(spec, { seed: 0 });
  const { x, y } = randomBatch([BATCH, ...spec.inputShape], spec.classes, 1);
  const optimizer = tf.train.sgd(0.01);
  const variables = model.trainableVariables();
  const loss = () => tf.mean(crossEntropyLoss(model.getLogits(x, undefined, true), y)) as tf.Scalar;
  tf.dispose(optimizer.minimize(loss, false, variables) ?? []);
  const profile = await tf.profile(() => tf.dispose(optimizer.minimize(loss, false, variables) ?? []));
  tf.dispose([x, y]);
  optimizer.dispose();
  model.dispose();
  const byName = new Map<string, number>();
  for (const kernel of profile.kernels) {
    // "xxx__op" entries are op wrappers (custom gradients) around kernels listed too.
    if (kernel.name.endsWith("__op")) continue;
    byName.set(kernel.name, (byName.get(kernel.name) ?? 0) + Number(kernel.kernelTimeMs));
  }
  return [...byName]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([name, ms]) => `${name} ${ms.toFixed(1)}`)
    .join(", ");
}

/** Why a step threw, printed under the table. */
const failures: string[] = [];

const fmt = (value: number | string, digits = 1): string => (typeof value === "number" ? value.toFixed(digits) : value);

async function main(): Promise<void> {
  const info = await initBackend("wasm");
  console.log(`backend: ${info.name} (${info.reason}); batch ${BATCH}; node ${process.version}`);

  uninstallWasmKernelOverrides();
  const stockMlp = timeTrainStep(MLP_SPEC);
  const stockCnn = timeTrainStep(CNN_SPEC);
  installWasmKernelOverrides();
  const ceiling = matmulGflops(BATCH, 784, 256);
  const fastMlp = timeTrainStep(MLP_SPEC);
  const fastCnn = timeTrainStep(CNN_SPEC);
  const ceilingAfter = matmulGflops(BATCH, 784, 256);
  const backwardShaped = matmulGflops(784, BATCH, 256, true, false); // dW of the first layer
  const flops = mlpStepFlops();

  const rows: Array<[string, string, string, string]> = [["model (batch 128)", "stock ms/step", "relearn ms/step", "speed-up"]];
  for (const [name, stock, fast] of [
    ["MLP 784-256-256-10", stockMlp, fastMlp],
    ["CNN conv32-conv64-128", stockCnn, fastCnn],
  ] as const) {
    const speedup = typeof stock === "number" && typeof fast === "number" ? `${(stock / fast).toFixed(1)}x` : "-";
    rows.push([name, fmt(stock), fmt(fast), speedup]);
  }
  printTable(rows);
  for (const failure of failures) console.log(`  ${failure}`);

  const meanCeiling = (ceiling + ceilingAfter) / 2;
  console.log("");
  console.log(`plain matmul ceiling 128x784 @ 784x256: ${ceiling.toFixed(1)} GFLOP/s before, ${ceilingAfter.toFixed(1)} after the steps`);
  console.log(`backward-shaped matmul, matMul(a, b, true, false) with a [128,784], b [128,256]: ${backwardShaped.toFixed(1)} GFLOP/s`);
  if (typeof fastMlp === "number") {
    const achieved = flops / (fastMlp * 1e6);
    console.log(
      `MLP step: ${(flops / 1e6).toFixed(0)} MFLOP (3 matmuls per dense layer) -> ${achieved.toFixed(1)} GFLOP/s = ` +
        `${((100 * achieved) / meanCeiling).toFixed(0)}% of the ceiling (stock: ` +
        `${typeof stockMlp === "number" ? ((100 * flops) / (stockMlp * 1e6) / meanCeiling).toFixed(0) : "-"}%)`,
    );
  }
  console.log("");
  console.log(`top kernels, MLP step with overrides (ms): ${await topKernels(MLP_SPEC)}`);
  console.log(`top kernels, CNN step with overrides (ms): ${await topKernels(CNN_SPEC)}`);
}

function printTable(rows: ReadonlyArray<readonly string[]>): void {
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? "").length))) ?? [];
  for (const [index, row] of rows.entries()) {
    console.log(row.map((cell, column) => (column === 0 ? cell.padEnd(widths[column] ?? 0) : cell.padStart(widths[column] ?? 0))).join("  "));
    if (index === 0) console.log(widths.map((width) => "-".repeat(width)).join("  "));
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
