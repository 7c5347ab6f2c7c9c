/**
 * Training-step micro-benchmark on the wasm backend: ms per step of stock
 * tfjs (tfjs-layers forward, tf.train optimizer, stock kernels) against
 * relearn (op-chain forward, fused Adam, kernel overrides), for an MLP
 * 784-256-256-10 (SGD at batch 128; Adam at batch 32, RD's expert step) and
 * a small CNN (conv 32 3x3 -> pool -> conv 64 3x3 -> pool -> dense 128 -> 10
 * on 28x28x1, SGD at batch 128). Also measures the plain-matmul ceiling in
 * the same run and how much of it the MLP steps reach: tf.matMul of
 * 128x784 @ 784x256 with a fixed right operand (XNNPACK, its operand packed
 * once), and the same product by relearn's GEMM (gemm.wat, what training
 * uses on one thread), which is a little faster.
 *
 * The MLPs run relearn's step twice: with gradients by tf.variableGrads over
 * the op chain ("relearn") and through the training loop's whole-step path
 * for plain MLPs (training/dense_chain_step.ts: direct kernel calls, no
 * tape; "whole step"), which is what training uses for them.
 *
 * Per configuration the cases run interleaved (ceiling, stock step, relearn
 * step, whole step, ceiling, ... 5 rounds, or --rounds N; each case at least
 * 0.4 s per round, 0.06 s with --quick), so a change in the machine's
 * load hits all of them alike; each time is the median over the rounds, and
 * each ratio (speed-up, share of the ceiling) is given from the medians and
 * as the median and range of the per-round ratios. The 1-minute load average
 * is read before each round and its range printed.
 *
 * --cpu-time times each case by the process's CPU time (user + system)
 * instead of the wall clock: on a machine other work keeps busy, the wall
 * clock also counts the time the process waits for a core, which varies
 * from round to round; CPU time leaves it out (cache contention still
 * counts). Only meaningful on one XNNPACK thread (threads' times add up).
 * PyTorch's CNN steps are then timed by its process's CPU time too.
 *
 * The CNN is also run in PyTorch (bench/train_step_torch.py through
 * /usr/bin/python3, the same number of threads as XNNPACK), one process per
 * round placed in the round like the other cases (it times its own steps
 * after its warm-up, so its start-up is not counted); the table gives
 * PyTorch's ms and relearn / PyTorch. Skipped when that python has no torch
 * or with --no-torch.
 *
 * --only mlp-sgd,mlp-adam,cnn runs only the configurations named.
 *
 *   npx tsx bench/train_step.ts [--quick] [--rounds N] [--cpu-time] [--no-torch] [--only cnn]
 *   RELEARN_WASM_THREADS=1 npx tsx bench/train_step.ts   # on one XNNPACK thread
 */
import { spawnSync } from "node:child_process";
import { loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../src/backend/backend.js";
import { installWasmKernelOverrides, uninstallWasmKernelOverrides } from "../src/backend/wasm_kernels/index.js";
import { gemm } from "../src/backend/wasm_kernels/gemm.js";
import type { WasmBackend } from "../src/backend/wasm_kernels/wasm_heap.js";
import { setChainForwardEnabled } from "../src/model/chain_forward.js";
import { TrainingOptimizer, type OptimizerSpec } from "../src/training/optimizers.js";
import { DEFAULT_TASK_ID, buildModel, type ContinualModel } from "../src/model/continual_model.js";
import { denseChainStep } from "../src/training/dense_chain_step.js";
import { crossEntropyStepLoss } from "../src/training/step_losses.js";
import { cnn, mlp, type ModelSpec } from "../src/model/spec.js";
import { crossEntropyLoss } from "../src/training/losses.js";
import { Random } from "../src/random.js";
import { compareRounds, interleavedOrder, median, spread, type RatioSummary } from "./interleave.js";

const BATCH = 128;
const quick = process.argv.includes("--quick");
/** Each measured case runs at least this long in each round (after warm-up steps). */
const MIN_MS_PER_ROUND = quick ? 60 : 400;

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

/** The clock cases are timed by (ms): the process's CPU time with --cpu-time, else the wall clock. */
const cpuTime = process.argv.includes("--cpu-time");
const now = cpuTime
  ? (): number => {
      const { user, system } = process.cpuUsage();
      return (user + system) / 1000;
    }
  : (): number => performance.now();

/** Interleaved rounds per configuration (--rounds N, default 5); medians over them count. */
const ROUNDS = roundsFlag(process.argv);

/** The configurations to run (--only a,b; default all). */
const ONLY = ((): Set<string> | null => {
  const index = process.argv.indexOf("--only");
  return index < 0 ? null : new Set((process.argv[index + 1] ?? "").split(","));
})();

function roundsFlag(argv: readonly string[]): number {
  const index = argv.indexOf("--rounds");
  if (index < 0) return 5;
  const value = Number(argv[index + 1]);
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`--rounds needs a positive integer, got ${argv[index + 1]}`);
  return value;
}

/** One thing to time; `enter` sets the global state it needs (kernel overrides, op chain), untimed. */
interface TimedCase {
  name: string;
  enter(): void;
  step(): void;
  /** A case timed elsewhere (PyTorch): ms per step over at least `minMs`, replacing the timed loop of `step`. */
  measure?(minMs: number): number;
  dispose(): void;
  /** Calls before the first round (later rounds run one untimed call after `enter`). */
  warmup: number;
}

/** What interleavedMs measured: ms per call by case and round (null: the case threw), and the load before each round. */
interface Interleaved {
  ms: Array<number[] | null>;
  loads: number[];
}

/**
 * ms per call of each case, interleaved: ROUNDS rounds of (case 1, case 2,
 * ...), each case running at least MIN_MS_PER_ROUND (and 3 calls) per round;
 * a case's time in a round is its mean over that round. A case that throws
 * is recorded in `failures` and left out of the later rounds.
 */
function interleavedMs(cases: TimedCase[]): Interleaved {
  const ms: Array<number[] | null> = cases.map(() => []);
  const loads: number[] = [];
  const run = (index: number, body: () => void): void => {
    if (ms[index] === null) return;
    try {
      body();
    } catch (error) {
      failures.push(`${cases[index]!.name}: ${(error as Error).message.split("\n")[0] ?? ""}`);
      ms[index] = null;
    }
  };
  cases.forEach((c, i) => run(i, () => {
    c.enter();
    if (c.measure === undefined) for (let k = 0; k < c.warmup; k++) c.step();
  }));
  for (const { round, variant: i } of interleavedOrder(cases.map((_, i) => i), ROUNDS)) {
    if (i === 0) loads[round] = loadavg()[0] ?? 0;
    const c = cases[i]!;
    run(i, () => {
      c.enter();
      if (c.measure !== undefined) {
        ms[i]!.push(c.measure(MIN_MS_PER_ROUND));
        return;
      }
      c.step(); // after the switch: kernels re-registered, weights possibly repacked
      let steps = 0;
      const start = now();
      do {
        c.step();
        steps++;
      } while (now() - start < MIN_MS_PER_ROUND || steps < 3);
      ms[i]!.push((now() - start) / steps);
    });
  }
  return { ms, loads };
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
  /** relearn's whole-step path (training/dense_chain_step.ts) instead of tf.variableGrads (plain MLPs only). */
  wholeStep?: boolean;
  optimizer: "sgd" | "adam";
  batch: number;
}

/** A training step of `spec` to time; `enter` switches the kernels and the forward to stock tfjs or to relearn's. */
function trainStepCase(spec: ModelSpec, setup: StepSetup): TimedCase {
  const model: ContinualModel = buildModel(spec, { seed: 0 });
  const { x, y } = randomBatch([setup.batch, ...spec.inputShape], spec.classes, 1);
  const variables = model.trainableVariables();
  const loss = () => tf.mean(crossEntropyLoss(model.getLogits(x, undefined, true), y)) as tf.Scalar;
  // Stock: tfjs's own optimizer. relearn: the training loop's optimizer (FusedAdam for Adam).
  const stock = setup.relearn ? null : setup.optimizer === "sgd" ? tf.train.sgd(0.01) : tf.train.adam(1e-3);
  const optimizerSpec: OptimizerSpec = setup.optimizer === "sgd" ? { name: "sgd", learningRate: 0.01 } : { name: "adam", learningRate: 1e-3 };
  const ours = setup.relearn ? new TrainingOptimizer(optimizerSpec) : null;
  const chain = setup.wholeStep === true ? model.denseTrainingChain(DEFAULT_TASK_ID) : null;
  if (setup.wholeStep === true && chain === null) throw new Error(`${spec.type}: not a plain dense chain`);
  return {
    name: `${spec.type}, ${setup.relearn ? (chain ? "relearn whole step" : "relearn") : "stock"}`,
    warmup: 2,
    enter: () => useRelearn(setup.relearn),
    step: () => {
      if (stock !== null) {
        tf.dispose(stock.minimize(loss, false, variables) ?? []);
        return;
      }
      // The training loop's two paths (loop.ts), without its metrics: the whole step or tf.variableGrads.
      const { value, grads, logits } = chain !== null ? denseChainStep(chain, crossEntropyStepLoss, { x, labels: y }, null) : { ...tf.variableGrads(loss, variables), logits: null };
      logits?.dispose();
      ours!.step(grads, variables);
      tf.dispose([value, ...Object.values(grads)]);
    },
    dispose: () => {
      tf.dispose([x, y]);
      stock?.dispose();
      ours?.dispose();
      model.dispose();
    },
  };
}

const PYTHON = "/usr/bin/python3";
const TORCH_SCRIPT = fileURLToPath(new URL("./train_step_torch.py", import.meta.url));

/** PyTorch's version when /usr/bin/python3 has torch (and --no-torch is not given); null otherwise. */
function torchVersion(): string | null {
  if (process.argv.includes("--no-torch")) return null;
  const probe = spawnSync(PYTHON, ["-c", "import torch; print(torch.__version__)"], { encoding: "utf8" });
  return probe.status === 0 ? probe.stdout.trim() : null;
}

/** The CNN step in PyTorch on `threads` threads: one python process per round (train_step_torch.py). */
function torchCnnCase(batch: number, threads: number): TimedCase {
  const env = { ...process.env, OPENBLAS_NUM_THREADS: String(threads), OMP_NUM_THREADS: String(threads), MKL_NUM_THREADS: String(threads) };
  return {
    name: "cnn, PyTorch",
    warmup: 0,
    enter: () => {},
    step: () => {},
    measure: (minMs) => {
      const args = [TORCH_SCRIPT, "--batch", String(batch), "--min-ms", String(minMs), "--threads", String(threads), ...(cpuTime ? ["--cpu-time"] : [])];
      const result = spawnSync(PYTHON, args, { encoding: "utf8", env });
      const last = result.stdout.trim().split("\n").at(-1) ?? "";
      if (result.status !== 0 || last === "") throw new Error(`train_step_torch.py failed: ${result.stderr.trim().split("\n").at(-1) ?? ""}`);
      return (JSON.parse(last) as { ms: number }).ms;
    },
    dispose: () => {},
  };
}

/** relearn's kernel overrides and op-chain forward on (its default) or off (stock tfjs). */
function useRelearn(on: boolean): void {
  if (on) installWasmKernelOverrides();
  else uninstallWasmKernelOverrides();
  setChainForwardEnabled(on);
}

/** A plain [m, k] x [k, n] matmul (fixed right operand, as a forward dense layer), with relearn's kernels; flops per call. */
function matmulCase(m: number, k: number, n: number): TimedCase & { flops: number } {
  const a = randomBatch([m, k], 1, 2).x;
  const b = randomBatch([k, n], 1, 3).x;
  return {
    name: `matmul ${m}x${k} @ ${k}x${n}`,
    warmup: 3,
    flops: 2 * m * k * n,
    enter: () => useRelearn(true),
    step: () => tf.matMul(a, b).dispose(),
    dispose: () => tf.dispose([a, b]),
  };
}

/**
 * The same product by relearn's GEMM alone (gemm.wat, what the BatchMatMul
 * override uses on one thread for a new right operand): a second ceiling,
 * since on one thread it runs a little faster than XNNPACK with its operand
 * packed.
 */
function gemmCase(m: number, k: number, n: number): TimedCase & { flops: number } {
  const a = randomBatch([m, k], 1, 2).x;
  const b = randomBatch([k, n], 1, 3).x;
  return {
    name: `gemm.wat ${m}x${k} @ ${k}x${n}`,
    warmup: 3,
    flops: 2 * m * k * n,
    enter: () => useRelearn(true),
    step: () => {
      const backend = tf.backend() as WasmBackend;
      backend.disposeData(gemm(backend, a, b, []).dataId);
    },
    dispose: () => tf.dispose([a, b]),
  };
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
    // "xxx__op" entries are op wrappers (custom gradients) around kernels listed too; so is "unnamed scope"
    // (tf.customGrad's, e.g. the fused conv blocks of model/conv_bias_relu.ts).
    if (kernel.name.endsWith("__op") || kernel.name === "unnamed scope") continue;
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

const f1 = (x: number): string => x.toFixed(1);
/** "5.6x; per round 5.5x (5.1-6.0)": ratio of the medians, then the per-round ratios' median and range. */
const ratioText = ({ ofMedians, perRound }: RatioSummary, unit = "x", scale = 1): string =>
  `${f1(scale * ofMedians)}${unit}; per round ${f1(scale * perRound.median)}${unit} (${f1(scale * perRound.min)}-${f1(scale * perRound.max)})`;

async function main(): Promise<void> {
  const info = await initBackend("wasm");
  console.log(
    `backend: ${info.name} (${info.reason}), ${info.threads ?? 1} XNNPACK thread(s) (RELEARN_WASM_THREADS); node ${process.version}; ` +
      `times: ${cpuTime ? "process CPU time (--cpu-time)" : "wall clock"}`,
  );

  // The MLP steps are compared with the plain-matmul ceiling; the CNN's work is mostly convolutions, so it has none.
  type Configuration = { key: string; name: string; spec: ModelSpec; optimizer: "sgd" | "adam"; batch: number; flops: number; ceiling: boolean };
  const all: Configuration[] = [
    { key: "mlp-sgd", name: "MLP 784-256-256-10, SGD, batch 128", spec: MLP_SPEC, optimizer: "sgd", batch: BATCH, flops: mlpStepFlops(BATCH), ceiling: true },
    { key: "mlp-adam", name: "MLP 784-256-256-10, Adam, batch 32 (RD's expert)", spec: MLP_SPEC, optimizer: "adam", batch: 32, flops: mlpStepFlops(32), ceiling: true },
    { key: "cnn", name: "CNN conv32-conv64-128, SGD, batch 128", spec: CNN_SPEC, optimizer: "sgd", batch: BATCH, flops: cnnStepFlops(BATCH), ceiling: false },
  ];
  const configurations = all.filter(({ key }) => ONLY === null || ONLY.has(key));
  const torch = torchVersion();
  const threads = info.threads ?? 1;
  console.log(torch === null ? "PyTorch: not run (--no-torch, or /usr/bin/python3 has no torch)" : `PyTorch ${torch} (${PYTHON}), ${threads} thread(s)`);
  const rows: string[][] = [
    ["training step", "stock tfjs ms", "relearn ms", "whole step ms", "PyTorch ms", "speed-up", "whole step / relearn", "relearn / PyTorch", "best GFLOP/s", "load (1 min)"],
  ];
  const notes: string[] = [];
  const allLoads: number[] = [];
  for (const { name, spec, optimizer, batch, flops, ceiling } of configurations) {
    // The MLPs also run the training loop's whole-step path (the CNN is no plain dense chain).
    const matmul = ceiling ? matmulCase(BATCH, 784, 256) : null;
    const gemmCeiling = ceiling ? gemmCase(BATCH, 784, 256) : null;
    const cases = [
      ...(matmul && gemmCeiling ? [matmul, gemmCeiling] : []),
      trainStepCase(spec, { relearn: false, optimizer, batch }),
      trainStepCase(spec, { relearn: true, optimizer, batch }),
      ...(spec.type === "mlp" ? [trainStepCase(spec, { relearn: true, wholeStep: true, optimizer, batch })] : []),
      // PyTorch runs the CNN only (the MLP's PyTorch comparison is bench/end_to_end.ts).
      ...(spec.type === "cnn" && torch !== null ? [torchCnnCase(batch, threads)] : []),
    ];
    const { ms, loads } = interleavedMs(cases);
    cases.forEach((c) => c.dispose());
    useRelearn(true);
    allLoads.push(...loads);
    const [stock, fast, third] = ms.slice(matmul ? 2 : 0);
    const whole = spec.type === "mlp" ? third : undefined;
    const pytorch = spec.type === "cnn" ? third : undefined;
    const best = whole ?? fast;
    const load = spread(loads);
    rows.push([
      name,
      stock ? f1(median(stock)) : "throws",
      fast ? f1(median(fast)) : "throws",
      whole ? f1(median(whole)) : whole === null ? "throws" : "-",
      pytorch ? f1(median(pytorch)) : pytorch === null ? "fails" : "-",
      stock && best ? ratioText(compareRounds(stock, best)) : "-",
      fast && whole ? ratioText(compareRounds(fast, whole)) : "-",
      best && pytorch ? ratioText(compareRounds(best, pytorch)) : "-",
      best ? f1(flops / (median(best) * 1e6)) : "-",
      `${load.min.toFixed(2)}-${load.max.toFixed(2)}`,
    ]);
    const ceilingMs = matmul ? ms[0] : null;
    const gemmMs = gemmCeiling ? ms[1] : null;
    if (matmul && ceilingMs) {
      // Share of the ceiling = (flops / step ms) / (matmul flops / matmul ms); per round, the two measured next to each other.
      const gflops = ceilingMs.map((t) => matmul.flops / (t * 1e6));
      const share = (reference: number[], times: number[]): string => ratioText(compareRounds(reference.map((t) => t / matmul.flops), times.map((t) => t / flops)), "%", 100);
      const shares = (reference: number[]): string =>
        [fast ? `relearn ${share(reference, fast)}` : null, whole ? `whole step ${share(reference, whole)}` : null].filter((t) => t !== null).join("; ");
      notes.push(
        `${name}: ${(flops / 1e6).toFixed(0)} MFLOP of useful matmuls; ceiling ${f1(median(gflops))} GFLOP/s ` +
          `(${f1(Math.min(...gflops))}-${f1(Math.max(...gflops))}); share of the ceiling: ${shares(ceilingMs)}`,
      );
      if (gemmMs) {
        const gemmGflops = gemmMs.map((t) => matmul.flops / (t * 1e6));
        notes.push(
          `  the same product by relearn's GEMM (gemm.wat): ${f1(median(gemmGflops))} GFLOP/s (${f1(Math.min(...gemmGflops))}-${f1(Math.max(...gemmGflops))}); ` +
            `share of it: ${shares(gemmMs)}`,
        );
      }
    }
  }
  printTable(rows);
  for (const failure of failures) console.log(`  ${failure}`);
  console.log("stock tfjs: tfjs-layers forward, tf.train optimizer, stock wasm kernels; relearn: its op-chain forward, its");
  console.log("optimizer (fused Adam) and its wasm kernel overrides, gradients by tf.variableGrads; whole step: the same with");
  console.log("the training loop's whole-step path for plain MLPs (direct kernel calls, no tape). GFLOP/s counts the useful matmul");
  console.log(`and convolution work of the fastest relearn column. Times: median of ${ROUNDS} interleaved rounds; speed-up (stock over the`);
  console.log("fastest relearn column), whole step / relearn and relearn / PyTorch (fastest relearn column over PyTorch, same thread");
  console.log("count; PyTorch: bench/train_step_torch.py, one process per round): ratio of the medians, then the median (range) of");
  console.log("the per-round ratios.");
  console.log("");
  if (notes.length > 0) console.log("plain matmul ceiling 128x784 @ 784x256 (tf.matMul, right operand kept packed by XNNPACK), interleaved with each MLP step (median GFLOP/s, range over the rounds):");
  for (const note of notes) console.log(note);
  const load = spread(allLoads);
  console.log(`load average (1 min) before the rounds: ${load.min.toFixed(2)}-${load.max.toFixed(2)}`);
  console.log("");
  if (configurations.some(({ spec }) => spec.type === "mlp")) console.log(`top kernels, relearn MLP SGD step (ms): ${await topKernels(MLP_SPEC)}`);
  if (configurations.some(({ spec }) => spec.type === "cnn")) console.log(`top kernels, relearn CNN SGD step (ms): ${await topKernels(CNN_SPEC)}`);
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
