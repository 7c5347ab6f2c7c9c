/**
 * End-to-end Repeated Distillation on Split Fashion-MNIST (the benchmark
 * issue's protocol: class-incremental 5 x 2, MLP 784-256-256-10, Adam 1e-3,
 * batch 32, memory 500, 5 epochs, seed 0), timed the same work five ways in
 * one run:
 *   - relearn's RepeatedDistillationModelUpdater (wasm, relearn's kernels),
 *     on 1 and on 2 wasm (XNNPACK) threads;
 *   - a plain tfjs-layers `model.fit` loop, stock wasm kernels, then with
 *     relearn's kernel overrides (what a user would write with tfjs);
 *   - bench/end_to_end_torch.py (PyTorch, when /usr/bin/python3 has torch)
 *     on 1 and 2 threads.
 * Each variant runs in its own process, so its peak RSS is its own and no two
 * compete for the cores. The variants run interleaved, --rounds times
 * (A, B, C, A, B, C ...; default 3, 1 with --quick), so a change in the
 * machine's load hits every variant alike: the report gives per variant the
 * median of each time over the rounds and the spread of the total, and each
 * ratio both from the medians and per round (round i of A over round i of B:
 * median and range). The 1-minute load average is printed before each run and
 * its range in the report; peak RSS is the maximum over the rounds; a final
 * accuracy that differs between rounds (same seed) gets a warning line.
 * Then, once, after the rounds: how relearn's update time grows with chunk
 * size (first update) and memory size (second update's consolidation).
 * Progress goes to stderr; the markdown section to stdout (and to --out).
 *
 *   npx tsx bench/end_to_end.ts [--quick] [--rounds N] [--out fragment.md] [--only relearn,relearn-threads,fit-stock,fit-overrides,torch1,torch1-ftz,torch2,growth]
 */
import { spawn, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { getThreadsCount } from "@tensorflow/tfjs-backend-wasm";
import { initBackend, TFJS_VERSION } from "../src/backend/backend.js";
import { uninstallWasmKernelOverrides, wasmKernelOverridesInstalled } from "../src/backend/wasm_kernels/index.js";
import type { Dataset } from "../src/data/dataset.js";
import { concatDatasets, filterByClasses, subsetDataset } from "../src/data/dataset_ops.js";
import { FASHION_MNIST_FULL_PATH, loadFashionMnist } from "../src/data/fashion_mnist.js";
import { classIncremental, type ScenarioUpdate } from "../src/data/scenarios.js";
import { buildModel } from "../src/model/continual_model.js";
import { mlp } from "../src/model/spec.js";
import { Random, deriveSeed } from "../src/random.js";
import { predict } from "../src/training/predict.js";
import { RepeatedDistillationModelUpdater, consolidationSchedule } from "../src/updaters/repeated_distillation.js";
import { compareRounds, interleavedOrder, median, spread, type RatioSummary } from "./interleave.js";
import { benchArgs } from "./cli_args.js";

const SELF = fileURLToPath(import.meta.url);
const TORCH_SCRIPT = SELF.replace(/end_to_end\.ts$/, "end_to_end_torch.py");
const PYTHON = "/usr/bin/python3";
const FEATURES = 784;
const CLASSES = 10;
const LEARNING_RATE = 1e-3;
const VARIANTS = ["relearn", "relearn-threads", "fit-stock", "fit-overrides", "torch1", "torch1-ftz", "torch2", "growth"] as const;
type Variant = (typeof VARIANTS)[number];
/** The variants that do the whole protocol (a column of the table each). */
type RunVariant = Exclude<Variant, "growth">;
const LABELS: Record<RunVariant, string> = {
  relearn: "relearn", "relearn-threads": "relearn, 2 wasm threads", "fit-stock": "fit (stock)", "fit-overrides": "fit (overrides)", torch1: "PyTorch 1 thread", "torch1-ftz": "PyTorch 1 thread, flush_denormal", torch2: "PyTorch 2 threads",
};

/** Everything a worker needs to rebuild the same updates; passed as JSON. */
interface Settings {
  tasks: number;
  epochs: number;
  /** Items per chunk (a seeded subsample); null = the whole chunk. */
  chunkLimit: number | null;
  memorySize: number;
  batchSize: number;
  seed: number;
  growthChunks: number[];
  growthMemories: number[];
  /** Chunk size of the memory-growth runs; consolidation cost is the same for any chunk >= memory. */
  growthMemoryChunk: number;
}

const FULL: Settings = {
  tasks: 5, epochs: 5, chunkLimit: null, memorySize: 500, batchSize: 32, seed: 0,
  growthChunks: [3000, 6000, 12000], growthMemories: [200, 500, 2000], growthMemoryChunk: 3000,
};
const QUICK: Settings = {
  tasks: 2, epochs: 1, chunkLimit: 2000, memorySize: 500, batchSize: 32, seed: 0,
  growthChunks: [500, 1000, 2000], growthMemories: [100, 200, 400], growthMemoryChunk: 500,
};

/** Seconds of one update: total and per phase (expert training, consolidation training, other = logits + memory). */
interface UpdateTiming {
  seconds: number;
  phases: { expert: number; consolidation: number; other: number };
}

/** What a worker (node or python) prints as its last stdout line. */
interface RunResult {
  updates: UpdateTiming[];
  /** Peak resident set size of the worker process, KiB. */
  maxRssKiB: number;
  /** Accuracy on the test sets of all updates so far, after the last update (a check that the work is the same). */
  accuracy: number;
  /** Wasm threads (node) or torch threads (python). */
  threads: number;
  torch?: string;
  /** BLAS libraries the python process mapped. */
  blas?: string[];
  leakedTensors?: number;
}

interface GrowthResult {
  chunks: Array<{ size: number; timing: UpdateTiming }>;
  memories: Array<{ size: number; stepsPerEpoch: number; consolidation: number; seconds: number }>;
  maxRssKiB: number;
}

const now = (): number => performance.now() / 1000;
const log = (line: string): void => void process.stderr.write(`${line}\n`);

// ---------------------------------------------------------------- the data

/** Positions kept in a chunk of `length` items: a seeded subsample in increasing order, or null for all. */
function chunkRows(length: number, limit: number | null, seed: number, tag: string | number): Int32Array | null {
  if (limit === null || limit >= length) return null;
  return Random.fromSeed(deriveSeed(seed, "end-to-end-chunk", tag)).permutation(length).subarray(0, limit).sort();
}

function subsample(ds: Dataset, limit: number | null, seed: number, tag: string | number): Dataset {
  const rows = chunkRows(ds.length, limit, seed, tag);
  return rows === null ? ds : subsetDataset(ds, rows);
}

/**
 * The protocol's first `tasks` updates, chunks subsampled to chunkLimit. Each chunk is cut from the full training set
 * when its `train` is read (once per update), as bench/end_to_end_torch.py cuts each chunk just before its update:
 * cutting all five up front holds the training set twice (the chunks together are the whole set again), and V8 may
 * keep the unreferenced full set until a full collection, which raised the peak RSS by about 150 MiB
 * (bench/memory_breakdown.ts, docs/performance.md "Memory"). The class groups and test sets come from the same split
 * over the test set, which holds every class, so the groups are the same.
 */
async function scenario(s: Settings): Promise<ScenarioUpdate[]> {
  const { train, test } = await loadFashionMnist({ source: "full" });
  return classIncremental({ train: test, test, tasks: 5, seed: s.seed })
    .slice(0, s.tasks)
    .map((u, i) => {
      const classes = u.classes!;
      return {
        taskId: u.taskId,
        test: u.test,
        classes,
        get train(): Dataset {
          return subsample(filterByClasses(train, classes), s.chunkLimit, s.seed, i);
        },
      };
    });
}

function timing(seconds: number, expert: number, consolidation: number): UpdateTiming {
  return { seconds, phases: { expert, consolidation, other: seconds - expert - consolidation } };
}

// ---------------------------------------------------------------- relearn

function newUpdater(s: Settings, memorySize: number): RepeatedDistillationModelUpdater {
  const model = buildModel(mlp({ inputShape: [FEATURES], hidden: [256, 256], classes: CLASSES }), { seed: s.seed });
  return new RepeatedDistillationModelUpdater({
    model, backend: "wasm", seed: s.seed, maxEpochs: s.epochs, batchSize: s.batchSize,
    optimizer: { name: "adam", learningRate: LEARNING_RATE }, memorySize,
  });
}

async function relearnUpdate(updater: RepeatedDistillationModelUpdater, update: ScenarioUpdate): Promise<UpdateTiming> {
  const started = now();
  await updater.update(update.train, { taskId: update.taskId });
  const seconds = now() - started;
  const phase = (name: string) => updater.lastUpdatePhases.find((p) => p.phase === name)?.seconds ?? 0;
  return timing(seconds, phase("expert"), phase("consolidation"));
}

async function runRelearn(s: Settings): Promise<RunResult> {
  await initBackend("wasm");
  const updates = await scenario(s);
  const tensorsBefore = tf.memory().numTensors;
  const updater = newUpdater(s, s.memorySize);
  const timings: UpdateTiming[] = [];
  for (const [i, update] of updates.entries()) {
    timings.push(await relearnUpdate(updater, update));
    log(`  relearn update ${i + 1}/${updates.length}: ${timings[i]!.seconds.toFixed(1)} s`);
  }
  const model = updater.model;
  const testSet = concatDatasets(updates.map((u) => u.test));
  const { classes } = await predict(model, testSet, { taskId: updates[0]!.taskId });
  model.dispose();
  return { updates: timings, maxRssKiB: process.resourceUsage().maxRSS, accuracy: accuracyOf(classes, testSet.labels), threads: getThreadsCount(), leakedTensors: tf.memory().numTensors - tensorsBefore };
}

async function runGrowth(s: Settings): Promise<GrowthResult> {
  await initBackend("wasm");
  const updates = await scenario({ ...s, chunkLimit: null, tasks: 2 });
  const first = updates[0]!;
  // The first update of a process also pays for kernel setup and JIT: warm up on a few items so the sizes compare.
  const warmup = newUpdater({ ...s, epochs: 1 }, s.memorySize);
  await warmup.update(subsample(first.train, 4 * s.batchSize, s.seed, "warm-up"), { taskId: first.taskId });
  warmup.model.dispose();
  const chunks: GrowthResult["chunks"] = [];
  for (const size of s.growthChunks) {
    const updater = newUpdater(s, s.memorySize);
    chunks.push({ size, timing: await relearnUpdate(updater, { ...first, train: subsample(first.train, size, s.seed, `growth-${size}`) }) });
    updater.model.dispose();
    log(`  growth: chunk ${size}: ${chunks.at(-1)!.timing.seconds.toFixed(1)} s`);
  }
  const memories: GrowthResult["memories"] = [];
  for (const size of s.growthMemories) {
    const updater = newUpdater(s, size);
    const [a, b] = updates.map((u, i) => ({ ...u, train: subsample(u.train, s.growthMemoryChunk, s.seed, `growth-memory-${i}`) }));
    await relearnUpdate(updater, a!);
    const second = await relearnUpdate(updater, b!);
    const { stepsPerEpoch } = consolidationSchedule({
      batchSize: s.batchSize, memorySize: size, batchMemoryFrac: 0.5, memoryLength: Math.min(size, 2 * s.growthMemoryChunk), chunkLength: s.growthMemoryChunk,
    });
    memories.push({ size, stepsPerEpoch, consolidation: second.phases.consolidation, seconds: second.seconds });
    updater.model.dispose();
    log(`  growth: memory ${size}: consolidation ${second.phases.consolidation.toFixed(1)} s`);
  }
  return { chunks, memories, maxRssKiB: process.resourceUsage().maxRSS };
}

// ---------------------------------------------------------------- plain tfjs fit

/** MLP 784-256-256-10 as a user writes it with tfjs-layers; the last layer gives logits. */
function plainMlp(seed: number): tfl.Sequential {
  const init = (k: number) => tfl.initializers.glorotUniform({ seed: deriveSeed(seed, k) });
  return tfl.sequential({
    layers: [
      tfl.layers.dense({ inputShape: [FEATURES], units: 256, activation: "relu", kernelInitializer: init(0) }),
      tfl.layers.dense({ units: 256, activation: "relu", kernelInitializer: init(1) }),
      tfl.layers.dense({ units: CLASSES, kernelInitializer: init(2) }),
    ],
  });
}

const crossEntropyOnLogits = (oneHot: tf.Tensor, logits: tf.Tensor): tf.Tensor => tf.losses.softmaxCrossEntropy(oneHot, logits);

/** The double distillation loss: 0.5 * mean (z - (t - mean_c t))^2, target centred per row. */
const distillationLoss = (target: tf.Tensor, logits: tf.Tensor): tf.Tensor =>
  tf.tidy(() => tf.mul(0.5, tf.mean(tf.square(tf.sub(logits, tf.sub(target, tf.mean(target, -1, true)))))));

async function predictArray(model: tfl.LayersModel, x: tf.Tensor, batchSize: number): Promise<Float32Array> {
  const logits = model.predict(x, { batchSize }) as tf.Tensor;
  const values = (await logits.data()) as Float32Array;
  logits.dispose();
  return values;
}

/** A reservoir memory (Algorithm R) of features and logit targets, as a user would keep it in typed arrays. */
class PlainReservoir {
  readonly features: Float32Array;
  readonly logits: Float32Array;
  seen = 0;
  constructor(readonly capacity: number, private readonly random: Random) {
    this.features = new Float32Array(capacity * FEATURES);
    this.logits = new Float32Array(capacity * CLASSES);
  }
  get length(): number {
    return Math.min(this.capacity, this.seen);
  }
  add(chunk: Dataset, logits: Float32Array): void {
    for (let i = 0; i < chunk.length; i++, this.seen++) {
      const slot = this.seen < this.capacity ? this.seen : this.random.int(0, this.seen);
      if (slot >= this.capacity) continue;
      this.features.set(chunk.features.subarray(i * FEATURES, (i + 1) * FEATURES), slot * FEATURES);
      this.logits.set(logits.subarray(i * CLASSES, (i + 1) * CLASSES), slot * CLASSES);
    }
  }
}

async function runFit(s: Settings, overrides: boolean): Promise<RunResult> {
  await initBackend("wasm"); // installs relearn's overrides
  if (!overrides) uninstallWasmKernelOverrides();
  if (wasmKernelOverridesInstalled() !== overrides) throw new Error(`fit: kernel overrides should be ${overrides ? "on" : "off"}`);
  const updates = await scenario(s);
  const tensorsBefore = tf.memory().numTensors;
  const memory = new PlainReservoir(s.memorySize, Random.fromSeed(deriveSeed(s.seed, "fit-memory")));
  const consolidationBatch = s.batchSize / 2;
  const timings: UpdateTiming[] = [];
  let student: tfl.Sequential | undefined;
  for (const [i, update] of updates.entries()) {
    const started = now();
    const chunk = update.train;
    const x = tf.tensor2d(chunk.features, [chunk.length, FEATURES]);
    const y = tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(chunk.labels, "int32"), CLASSES), "float32"));
    const expert = plainMlp(deriveSeed(s.seed, "fit", i, "expert"));
    const expertOptimizer = tf.train.adam(LEARNING_RATE);
    expert.compile({ optimizer: expertOptimizer, loss: crossEntropyOnLogits, metrics: ["accuracy"] });
    let phaseStart = now();
    await expert.fit(x, y, { epochs: s.epochs, batchSize: s.batchSize, shuffle: true, verbose: 0 });
    const expertSeconds = now() - phaseStart;
    memory.add(chunk, await predictArray(expert, x, s.batchSize));
    expert.dispose();
    expertOptimizer.dispose();
    tf.dispose([x, y]);

    // `fit` runs ceil(|memory| / 16) steps per epoch: SPEC's count whenever the chunk is at least the memory.
    const schedule = consolidationSchedule({ batchSize: s.batchSize, memorySize: s.memorySize, batchMemoryFrac: 0.5, memoryLength: memory.length, chunkLength: chunk.length });
    if (schedule.batchSize !== consolidationBatch || schedule.stepsPerEpoch !== Math.ceil(memory.length / consolidationBatch)) {
      throw new Error(`fit: consolidation would run ${schedule.stepsPerEpoch} steps per epoch; use chunks of at least ${s.memorySize} items`);
    }
    student?.dispose();
    student = plainMlp(deriveSeed(s.seed, "fit", i, "consolidation"));
    const studentOptimizer = tf.train.adam(LEARNING_RATE);
    student.compile({ optimizer: studentOptimizer, loss: distillationLoss });
    const mx = tf.tensor2d(memory.features.subarray(0, memory.length * FEATURES), [memory.length, FEATURES]);
    const my = tf.tensor2d(memory.logits.subarray(0, memory.length * CLASSES), [memory.length, CLASSES]);
    phaseStart = now();
    await student.fit(mx, my, { epochs: s.epochs, batchSize: consolidationBatch, shuffle: true, verbose: 0 });
    const consolidationSeconds = now() - phaseStart;
    memory.logits.set(await predictArray(student, mx, s.batchSize)); // refresh every stored target
    studentOptimizer.dispose();
    tf.dispose([mx, my]);
    timings.push(timing(now() - started, expertSeconds, consolidationSeconds));
    log(`  fit (${overrides ? "overrides" : "stock"}) update ${i + 1}/${updates.length}: ${timings[i]!.seconds.toFixed(1)} s`);
  }
  const testSet = concatDatasets(updates.map((u) => u.test));
  const testX = tf.tensor2d(testSet.features, [testSet.length, FEATURES]);
  const logits = student!.predict(testX, { batchSize: 256 }) as tf.Tensor;
  const classes = tf.argMax(logits, 1);
  const predicted = (await classes.data()) as Int32Array;
  tf.dispose([testX, logits, classes]);
  student!.dispose();
  return { updates: timings, maxRssKiB: process.resourceUsage().maxRSS, accuracy: accuracyOf(predicted, testSet.labels), threads: getThreadsCount(), leakedTensors: tf.memory().numTensors - tensorsBefore };
}

function accuracyOf(predicted: ArrayLike<number>, labels: ArrayLike<number>): number {
  let correct = 0;
  for (let i = 0; i < labels.length; i++) if (predicted[i] === labels[i]) correct++;
  return correct / labels.length;
}

// ---------------------------------------------------------------- running the workers

/** Runs a worker process; resolves with its last stdout line parsed as JSON. */
function runWorker<T>(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "inherit"], env });
    let out = "";
    child.stdout.on("data", (data: Buffer) => (out += data.toString()));
    child.on("error", reject);
    child.on("exit", (code) => {
      const last = out.trim().split("\n").at(-1) ?? "";
      if (code !== 0) reject(new Error(`${command} ${args.slice(0, 4).join(" ")} failed with code ${code}`));
      else resolve(JSON.parse(last) as T);
    });
  });
}

/**
 * Runs a node variant in its own process: every one on 1 wasm thread except
 * "relearn-threads" (relearn on 2 XNNPACK threads, RELEARN_WASM_THREADS = 2).
 */
const nodeWorker = <T>(kind: Variant, s: Settings): Promise<T> =>
  runWorker<T>(
    process.execPath,
    ["--import", "tsx", SELF, "--worker", kind === "relearn-threads" ? "relearn" : kind, "--settings", JSON.stringify(s)],
    { ...process.env, RELEARN_WASM_THREADS: kind === "relearn-threads" ? "2" : "1" },
  );

function torchVersion(): string | null {
  const probe = spawnSync(PYTHON, ["-c", "import torch; print(torch.__version__)"], { encoding: "utf8" });
  return probe.status === 0 ? probe.stdout.trim() : null;
}

/** The torch script gets the class groups and the exact chunk positions, so it trains on the same items. */
async function torchRun(s: Settings, threads: number, flushDenormal = false): Promise<RunResult> {
  const { train, test } = await loadFashionMnist({ source: "full" });
  const updates = classIncremental({ train, test, tasks: 5, seed: s.seed }).slice(0, s.tasks);
  const config = {
    ...s,
    dataPath: FASHION_MNIST_FULL_PATH,
    threads,
    flushDenormal,
    groups: updates.map((u) => u.classes ?? []),
    chunkRows: updates.map((u, i) => {
      const rows = chunkRows(u.train.length, s.chunkLimit, s.seed, i);
      return rows === null ? null : Array.from(rows);
    }),
  };
  const env = { ...process.env, OPENBLAS_NUM_THREADS: String(threads), OMP_NUM_THREADS: String(threads), MKL_NUM_THREADS: String(threads) };
  return runWorker<RunResult>(PYTHON, [TORCH_SCRIPT, JSON.stringify(config)], env);
}

// ---------------------------------------------------------------- the report

const sum = (values: number[]): number => values.reduce((a, b) => a + b, 0);
const f1 = (x: number): string => x.toFixed(1);
const f2 = (x: number): string => x.toFixed(2);
const mib = (kib: number): string => (kib / 1024).toFixed(0);

/** A variant's rounds, in the order they ran. */
type Rounds = RunResult[];
/** The 1-minute load average read before one run. */
interface LoadReading {
  variant: Variant;
  round: number;
  load: number;
}

const totalOf = (r: RunResult): number => sum(r.updates.map((u) => u.seconds));
const phaseOf = (r: RunResult, p: keyof UpdateTiming["phases"]): number => sum(r.updates.map((u) => u.phases[p]));
const totals = (rounds: Rounds): number[] => rounds.map(totalOf);
/** "3.21; per round 3.20 (3.10-3.35)": the ratio of the medians, then the per-round ratios' median and range. */
const ratioText = ({ ofMedians, perRound }: RatioSummary, rounds: number): string =>
  rounds > 1 ? `${f2(ofMedians)}; per round ${f2(perRound.median)} (${f2(perRound.min)}-${f2(perRound.max)})` : f2(ofMedians);

function machine(torch: string | null, threads: number | undefined, loads: LoadReading[]): string[] {
  const model = /model name\s*:\s*(.*)/.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1]?.trim() ?? cpus()[0]?.model ?? "unknown";
  const nproc = spawnSync("nproc", { encoding: "utf8" }).stdout.trim();
  const range = loads.length > 0 ? spread(loads.map((l) => l.load)) : null;
  return [
    `Machine: \`nproc\` = ${nproc}, CPU "${model}", Node ${process.version}, tfjs ${TFJS_VERSION} wasm (${threads ?? "?"} wasm thread(s)), ` +
      `PyTorch ${torch ?? "not available"} (Debian, ${PYTHON}); load average (1 min) ${range ? `${f2(range.min)}-${f2(range.max)} before the runs` : "not read"}, ` +
      `${f2(loadavg()[0] ?? 0)} at the end; ${new Date().toISOString().slice(0, 10)}.`,
  ];
}

function table(header: string[], rows: string[][]): string[] {
  return [`| ${header.join(" | ")} |`, `|${header.map((_, i) => (i === 0 ? "---" : "---:")).join("|")}|`, ...rows.map((r) => `| ${r.join(" | ")} |`)];
}

interface ReportInput {
  s: Settings;
  command: string;
  torch: string | null;
  rounds: number;
  /** Every variant that ran, in table order, with its rounds. */
  runs: Map<RunVariant, Rounds>;
  loads: LoadReading[];
  growth: GrowthResult | undefined;
}

function report({ s, command, torch, rounds, runs, loads, growth }: ReportInput): string {
  const variants = [...runs.keys()];
  const all = [...runs.values()];
  const med = (f: (r: RunResult) => number) => all.map((rs) => f1(median(rs.map(f))));
  const relearn = runs.get("relearn");
  const versusRelearn = (rs: Rounds) => (relearn ? compareRounds(totals(relearn), totals(rs)) : null);
  const loadOf = (v: Variant, round: number) => loads.find((l) => l.variant === v && l.round === round)?.load;
  const accuracies = all.map((rs) => [...new Set(rs.map((r) => r.accuracy.toFixed(3)))]);
  const lines = [
    `## End-to-end RD on Split Fashion-MNIST${s.chunkLimit === null ? "" : " (quick settings)"}`,
    "",
    `\`${command}\` (bench/end_to_end.ts, PyTorch part bench/end_to_end_torch.py).`,
    ...machine(torch, relearn?.[0]?.threads ?? runs.get("fit-stock")?.[0]?.threads, loads),
    "",
    `Class-incremental ${s.tasks} update(s) of 2 classes${s.chunkLimit === null ? "" : `, ${s.chunkLimit} items per chunk`}, MLP 784-256-256-10, Adam ${LEARNING_RATE}, ` +
      `batch ${s.batchSize} (consolidation ${s.batchSize / 2}), memory ${s.memorySize}, ${s.epochs} epoch(s) per phase, seed ${s.seed}. ` +
      `Each column is its own process; the columns ran interleaved, ${rounds} round(s) (one run of each column per round, in table order), ` +
      "and each time is the median over the rounds (so the phases need not add up to the total). " +
      "\"fit\" is a plain tfjs-layers loop (`model.fit` for the expert and " +
      "the consolidation, `model.predict` for the logits, a reservoir in typed arrays); PyTorch is the same loop in PyTorch " +
      "(OPENBLAS_NUM_THREADS = OMP_NUM_THREADS = threads). Phases: expert and consolidation are the training calls; other is " +
      "logit extraction, memory insertion, model building and data-to-tensor copies. The final accuracy (test sets of the classes " +
      "seen, after the last update) checks that the columns do the same work" +
      (s.epochs < 5 ? "; with these shortened settings it varies a lot with the random init." : ".") +
      " PyTorch on 2 threads only helps when both cores are free (a busy core stalls its thread team).",
    "",
    ...table(
      [`seconds (median of ${rounds})`, ...variants.map((v) => LABELS[v])],
      [
        ["total", ...med(totalOf)],
        ["expert training", ...med((r) => phaseOf(r, "expert"))],
        ["consolidation training", ...med((r) => phaseOf(r, "consolidation"))],
        ["other", ...med((r) => phaseOf(r, "other"))],
        ...(all[0]?.[0]?.updates ?? []).map((_, i) => [`update ${i + 1}`, ...all.map((rs) => (rs.every((r) => r.updates[i]) ? f1(median(rs.map((r) => r.updates[i]!.seconds))) : "-"))]),
        ...(rounds > 1
          ? [
              ["total, min-max over the rounds", ...all.map((rs) => { const { min, max } = spread(totals(rs)); return `${f1(min)}-${f1(max)}`; })],
              ["total, max / min", ...all.map((rs) => f2(spread(totals(rs)).ratio))],
            ]
          : []),
        ["relearn / this (total, medians)", ...all.map((rs) => { const r = versusRelearn(rs); return r ? f2(r.ofMedians) : "-"; })],
        ...(rounds > 1
          ? [["relearn / this, per round: median (range)", ...all.map((rs) => { const r = versusRelearn(rs); return r ? `${f2(r.perRound.median)} (${f2(r.perRound.min)}-${f2(r.perRound.max)})` : "-"; })]]
          : []),
        [`peak RSS, MiB (max over ${rounds} round(s))`, ...all.map((rs) => mib(Math.max(...rs.map((r) => r.maxRssKiB))))],
        ["final accuracy (seen classes)", ...accuracies.map((a) => a.join(" / "))],
      ],
    ),
    "",
  ];
  if (rounds > 1) {
    lines.push(
      "Per round, total seconds (load average, 1 min, read just before the run):",
      "",
      ...table(
        ["round", ...variants.map((v) => LABELS[v])],
        Array.from({ length: rounds }, (_, round) => [
          String(round + 1),
          ...variants.map((v) => `${f1(totalOf(runs.get(v)![round]!))} (${f2(loadOf(v, round) ?? Number.NaN)})`),
        ]),
      ),
      "",
    );
  }
  // Same seed, same work: a variant whose accuracy moves between rounds did not repeat itself exactly.
  for (const [i, v] of variants.entries()) {
    if (accuracies[i]!.length <= 1) continue;
    const why = v === "fit-stock" || v === "fit-overrides" ? " (tfjs-layers' `fit` shuffles with Math.random, which no seed reaches)" : "";
    lines.push(`**Warning:** the final accuracy of ${LABELS[v]} differs between rounds: ${runs.get(v)!.map((r) => r.accuracy.toFixed(3)).join(", ")}${why}.`, "");
  }
  const ratio = (a: RunVariant, b: RunVariant): string | null => {
    const ra = runs.get(a);
    const rb = runs.get(b);
    return ra && rb ? ratioText(compareRounds(totals(ra), totals(rb)), rounds) : null;
  };
  const bullets = [
    ["relearn / PyTorch (1 thread)", ratio("relearn", "torch1"), "; target <= 2"],
    ["relearn / PyTorch (1 thread, flush_denormal)", ratio("relearn", "torch1-ftz"), ""],
    ["relearn / PyTorch (2 threads)", ratio("relearn", "torch2"), ""],
    ["relearn on 2 wasm threads / PyTorch (2 threads)", ratio("relearn-threads", "torch2"), "; target <= 1"],
    ["fit (stock) / relearn", ratio("fit-stock", "relearn"), "; target >= 3"],
    ["fit (overrides) / relearn", ratio("fit-overrides", "relearn"), ""],
    ["fit (stock) / fit (overrides)", ratio("fit-stock", "fit-overrides"), "; the kernels' share"],
  ].filter(([, value]) => value !== null);
  if (bullets.length > 0) {
    lines.push(...bullets.map(([name, value, note]) => `- ${name}: ${value}${note}.`));
    if (rounds > 1) lines.push("", "Each ratio is of the median totals, then the median and (range) of round i over round i.");
    lines.push("");
  }
  if (growth) {
    lines.push(
      `Growth of relearn's update time (same settings, one run after the rounds; chunk sizes: first update on a subsample of the first chunk; ` +
        `memory sizes: second update, chunks of ${s.growthMemoryChunk} items so the memory is full, consolidation phase only):`,
      "",
      ...table(
        ["chunk size", "update s", "expert s", "consolidation s", "other s", "ms per chunk item"],
        growth.chunks.map(({ size, timing: t }) => [String(size), f1(t.seconds), f1(t.phases.expert), f2(t.phases.consolidation), f2(t.phases.other), f2((1000 * t.seconds) / size)]),
      ),
      "",
      ...table(
        ["memory size", "consolidation steps per epoch", "consolidation s", "ms per step", "second update s"],
        growth.memories.map((m) => [String(m.size), String(m.stepsPerEpoch), f2(m.consolidation), f2((1000 * m.consolidation) / (m.stepsPerEpoch * s.epochs)), f1(m.seconds)]),
      ),
      "",
    );
  }
  const blas = runs.get("torch1")?.[0]?.blas ?? runs.get("torch2")?.[0]?.blas;
  if (blas !== undefined) {
    lines.push(`PyTorch's BLAS: ${blas.map((p) => `\`${p}\``).join(", ") || "none mapped"}.`);
    // Debian's reference BLAS (package libblas3) runs a 32x784 @ 784x256 matmul at about 5 GFLOP/s, far from OpenBLAS.
    if (blas.some((p) => p.includes("/blas/libblas.so"))) {
      lines.push(
        "**Warning:** that is the reference BLAS (Debian's libblas3), not OpenBLAS, so the PyTorch columns are far slower than " +
          "PyTorch normally is; install `libopenblas0-pthread` (as root; it takes over libblas.so.3) for the baseline the issue means.",
      );
    }
    lines.push("");
  }
  const leaks = [...runs].flatMap(([v, rs]) => rs.map((r, i) => [v, i, r.leakedTensors ?? 0] as const)).filter(([, , n]) => n !== 0);
  if (leaks.length > 0) lines.push(`Tensors left after the run (should be 0): ${leaks.map(([v, i, n]) => `${LABELS[v]} round ${i + 1}: ${n}`).join(", ")}.`, "");
  return lines.join("\n");
}

// ---------------------------------------------------------------- main

const args = benchArgs(import.meta.url, {
    quick: { type: "boolean", default: false },
    rounds: { type: "string" },
    out: { type: "string" },
    only: { type: "string" },
    worker: { type: "string" },
    settings: { type: "string" },
});

async function worker(kind: string, s: Settings): Promise<unknown> {
  switch (kind) {
    case "relearn": return runRelearn(s);
    case "fit-stock": return runFit(s, false);
    case "fit-overrides": return runFit(s, true);
    case "growth": return runGrowth(s);
    default: throw new Error(`unknown worker ${kind}`);
  }
}

/** One whole-protocol run of a variant, in its own process. */
const runVariant = (v: RunVariant, s: Settings): Promise<RunResult> =>
  v === "torch1" || v === "torch1-ftz" || v === "torch2" ? torchRun(s, v === "torch2" ? 2 : 1, v === "torch1-ftz") : nodeWorker<RunResult>(v, s);

async function main(): Promise<void> {
  if (args.worker !== undefined) {
    const result = await worker(args.worker, JSON.parse(args.settings ?? "null") as Settings);
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  const s = args.quick ? QUICK : FULL;
  const rounds = args.rounds === undefined ? (args.quick ? 1 : 3) : Number(args.rounds);
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds: expected a positive integer, got "${args.rounds}"`);
  const only = (args.only?.split(",") ?? [...VARIANTS]) as Variant[];
  for (const v of only) if (!VARIANTS.includes(v)) throw new Error(`--only: unknown variant "${v}"; choose from ${VARIANTS.join(", ")}`);
  const torch = torchVersion();
  const command = ["npx tsx bench/end_to_end.ts", ...(args.quick ? ["--quick"] : []), ...(args.rounds ? ["--rounds", args.rounds] : []), ...(args.only ? ["--only", args.only] : [])].join(" ");
  // Table order, whatever order --only names them in; growth is not compared with anything and runs once at the end.
  const timed = VARIANTS.filter((v): v is RunVariant => v !== "growth" && only.includes(v)).filter((v) => {
    if ((v === "torch1" || v === "torch1-ftz" || v === "torch2") && torch === null) {
      log(`${v}: skipped (${PYTHON} cannot import torch)`);
      return false;
    }
    return true;
  });
  const runs = new Map<RunVariant, Rounds>(timed.map((v) => [v, []]));
  const loads: LoadReading[] = [];
  const readLoad = (variant: Variant, round: number): string => {
    const load = loadavg()[0] ?? 0;
    loads.push({ variant, round, load });
    return `load average (1 min) ${f2(load)}`;
  };
  for (const { round, variant } of interleavedOrder(timed, rounds)) {
    log(`${variant}, round ${round + 1}/${rounds}: started, ${readLoad(variant, round)}`);
    const started = now();
    runs.get(variant)!.push(await runVariant(variant, s));
    log(`${variant}, round ${round + 1}/${rounds}: finished in ${f1(now() - started)} s`);
  }
  let growth: GrowthResult | undefined;
  if (only.includes("growth")) {
    log(`growth: started, ${readLoad("growth", 0)}`);
    const started = now();
    growth = await nodeWorker<GrowthResult>("growth", s);
    log(`growth: finished in ${f1(now() - started)} s`);
  }
  const text = report({ s, command, torch, rounds, runs, loads, growth });
  process.stdout.write(`${text}\n`);
  if (args.out !== undefined) {
    writeFileSync(args.out, `${text}\n`);
    log(`wrote ${args.out}`);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
