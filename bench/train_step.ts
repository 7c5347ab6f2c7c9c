/**
 * Training-step micro-benchmark on the wasm backend: ms per step of stock
 * tfjs (tfjs-layers forward, tf.train optimizer, stock kernels) against
 * relearn (op-chain forward, fused Adam, kernel overrides), for an MLP
 * 784-256-256-10 (SGD at batch 128; Adam at batch 32, RD's expert step) and
 * a small CNN (conv 32 3x3 -> pool -> conv 64 3x3 -> pool -> dense 128 -> 10
 * on 28x28x1, SGD at batch 128). Also measures the plain-matmul ceiling in
 * the same run and how much of it the MLP steps reach.
 *
 *   npx tsx bench/train_step.ts [--quick]
 *   RELEARN_WASM_THREADS=1 npx tsx bench/train_step.ts   # on one XNNPACK thread
 */
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../src/backend/backend.js";
import { installWasmKernelOverrides, uninstallWasmKernelOverrides } from "../src/backend/wasm_kernels/index.js";
import { setChainForwardEnabled } from "../src/model/chain_forward.js";
import { TrainingOptimizer, type OptimizerSpec } from "../src/training/optimizers.js";
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

/** Rounds per measurement; the fastest round counts. */
const ROUNDS = 5;

/**
 * ms per call of `step`: after warm-up, ROUNDS rounds of at least
 * MIN_MS / ROUNDS each; the fastest round's mean. On a shared machine the
 * fastest round is the one least disturbed, and the ceiling is measured the
 * same way, so their ratio compares like with like.
 */
function msPer(step: () => void, warmup = 2): number {
  for (let i = 0; i < warmup; i++) step();
  let best = Number.POSITIVE_INFINITY;
  for (let round = 0; round < ROUNDS; round++) {
    let steps = 0;
    const start = performance.now();
    do {
      step();
      steps++;
    } while (performance.now() - start < MIN_MS / ROUNDS || steps < 3);
    best = Math.min(best, (performance.now() - start) / steps);
  }
  return best;
}

function randomBatch(shape: number[], classes: number, seed: number): { x: tf.Tensor; y: tf.Tensor1D } {
  const random = Random.fromSeed(seed);
  const values = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < values.length; i++) values[i] = random.float();
  const labels = new Int32Array(shape[0] ?? 0);
  for (let i = 0; i < labels.length; i++) labels[i] = random.int(0, classes - 1);
  return { x: tf.tensor(values, shape), y: tf.tensor1d(labels, "int32") };
}

/** What one measured configuration uses. */
interface StepSetup {
  /** relearn's wasm kernel overrides, its op-chain forward and its fused Adam; otherwise stock tfjs throughout. */
  relearn: boolean;
  optimizer: "sgd" | "adam";
  batch: number;
}

/** ms per training step of `spec` on the active backend; "throws" when the step fails. */
function timeTrainStep(spec: ModelSpec, setup: StepSetup): number | string {
  if (setup.relearn) installWasmKernelOverrides();
  else uninstallWasmKernelOverrides();
  setChainForwardEnabled(setup.relearn);
  const model: ContinualModel = buildModel(spec, { seed: 0 });
  const { x, y } = randomBatch([setup.batch, ...spec.inputShape], spec.classes, 1);
  const variables = model.trainableVariables();
  const loss = () => tf.mean(crossEntropyLoss(model.getLogits(x, undefined, true), y)) as tf.Scalar;
  // Stock: tfjs's own optimizer. relearn: the training loop's optimizer (FusedAdam for Adam).
  const stock = setup.relearn ? null : setup.optimizer === "sgd" ? tf.train.sgd(0.01) : tf.train.adam(1e-3);
  const optimizerSpec: OptimizerSpec = setup.optimizer === "sgd" ? { name: "sgd", learningRate: 0.01 } : { name: "adam", learningRate: 1e-3 };
  const ours = setup.relearn ? new TrainingOptimizer(optimizerSpec) : null;
  const step = (): void => {
    if (stock !== null) {
      tf.dispose(stock.minimize(loss, false, variables) ?? []);
      return;
    }
    const { value, grads } = tf.variableGrads(loss, variables);
    ours!.step(grads, variables);
    tf.dispose([value, ...Object.values(grads)]);
  };
  try {
    return msPer(step);
  } catch (error) {
    failures.push(`${spec.type}, ${setup.relearn ? "relearn" : "stock"}: ${(error as Error).message.split("\n")[0] ?? ""}`);
    return "throws";
  } finally {
    tf.dispose([x, y]);
    stock?.dispose();
    ours?.dispose();
    model.dispose();
    installWasmKernelOverrides();
    setChainForwardEnabled(true);
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

/**
 * Useful matmul FLOPs of one MLP training step: forward, weight gradient and
 * input gradient per dense layer, except the first layer's input gradient,
 * which nothing needs (PyTorch skips it too).
 */
function mlpStepFlops(batch: number): number {
  const widths = [784, 256, 256, 10];
  let flops = 0;
  for (let i = 0; i + 1 < widths.length; i++) flops += (i === 0 ? 2 : 3) * 2 * batch * (widths[i] ?? 0) * (widths[i + 1] ?? 0);
  return flops;
}

/**
 * The same count for the CNN: per convolution 2 x output pixels x filters x
 * (3 x 3 x input channels) forward, times 3 for training (times 2 for the
 * first layer), then the dense layers as in the MLP; pooling and
 * activations are not counted.
 */
function cnnStepFlops(batch: number): number {
  const convs = [
    { pixels: 28 * 28, filters: 32, inputs: 9 * 1 },
    { pixels: 14 * 14, filters: 64, inputs: 9 * 32 },
  ];
  const dense = [7 * 7 * 64, 128, 10];
  let flops = 0;
  convs.forEach(({ pixels, filters, inputs }, i) => (flops += (i === 0 ? 2 : 3) * 2 * batch * pixels * filters * inputs));
  for (let i = 0; i + 1 < dense.length; i++) flops += 3 * 2 * batch * (dense[i] ?? 0) * (dense[i + 1] ?? 0);
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
  console.log(
    `backend: ${info.name} (${info.reason}), ${info.threads ?? 1} XNNPACK thread(s) (RELEARN_WASM_THREADS); node ${process.version}`,
  );

  const configurations: Array<{ name: string; spec: ModelSpec; optimizer: "sgd" | "adam"; batch: number; flops: number }> = [
    { name: "MLP 784-256-256-10, SGD, batch 128", spec: MLP_SPEC, optimizer: "sgd", batch: BATCH, flops: mlpStepFlops(BATCH) },
    { name: "MLP 784-256-256-10, Adam, batch 32 (RD's expert)", spec: MLP_SPEC, optimizer: "adam", batch: 32, flops: mlpStepFlops(32) },
    { name: "CNN conv32-conv64-128, SGD, batch 128", spec: CNN_SPEC, optimizer: "sgd", batch: BATCH, flops: cnnStepFlops(BATCH) },
  ];
  const ceiling = matmulGflops(BATCH, 784, 256);
  const rows: string[][] = [["training step", "stock tfjs ms", "relearn ms", "speed-up", "relearn GFLOP/s"]];
  const measured = new Map<string, number | string>();
  for (const { name, spec, optimizer, batch, flops } of configurations) {
    const stock = timeTrainStep(spec, { relearn: false, optimizer, batch });
    const fast = timeTrainStep(spec, { relearn: true, optimizer, batch });
    measured.set(name, fast);
    const speedup = typeof stock === "number" && typeof fast === "number" ? `${(stock / fast).toFixed(1)}x` : "-";
    rows.push([name, fmt(stock), fmt(fast), speedup, typeof fast === "number" ? fmt(flops / (fast * 1e6)) : "-"]);
  }
  const ceilingAfter = matmulGflops(BATCH, 784, 256);
  printTable(rows);
  for (const failure of failures) console.log(`  ${failure}`);
  console.log("stock tfjs: tfjs-layers forward, tf.train optimizer, stock wasm kernels; relearn: its op-chain forward, its");
  console.log("optimizer (fused Adam) and its wasm kernel overrides. GFLOP/s counts the useful matmul and convolution work.");

  // The higher of the two: a ceiling lowered by a busy moment would flatter the steps.
  const bestCeiling = Math.max(ceiling, ceilingAfter);
  console.log("");
  console.log(`plain matmul ceiling 128x784 @ 784x256: ${ceiling.toFixed(1)} GFLOP/s before, ${ceilingAfter.toFixed(1)} after the steps`);
  for (const { name, flops } of configurations.filter((c) => c.spec === MLP_SPEC)) {
    const ms = measured.get(name);
    if (typeof ms !== "number") continue;
    const achieved = flops / (ms * 1e6);
    console.log(
      `${name}: ${(flops / 1e6).toFixed(0)} MFLOP of useful matmuls -> ${achieved.toFixed(1)} GFLOP/s = ` +
        `${((100 * achieved) / bestCeiling).toFixed(0)}% of the ceiling (the higher of the two)`,
    );
  }
  console.log("");
  console.log(`top kernels, relearn MLP SGD step (ms): ${await topKernels(MLP_SPEC)}`);
  console.log(`top kernels, relearn CNN SGD step (ms): ${await topKernels(CNN_SPEC)}`);
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
