/**
 * Where the end-to-end RD run's memory goes (issue 14, part 3). The same
 * protocol as bench/end_to_end.ts's "relearn" variant (class-incremental
 * Split Fashion-MNIST, 5 updates, MLP 784-256-256-10, Adam 1e-3, batch 32,
 * memory 500, 5 epochs, seed 0, 1 wasm thread), in this process, with a
 * memory reading at each stage: after node start, after the imports, after
 * initBackend, after loading Fashion-MNIST, after building the scenario, in
 * each update (each training phase's start and end, through the update's
 * callbacks) and after it, and after the final prediction. A reading is
 * process.memoryUsage() (RSS, V8 heap used, external, arrayBuffers), the peak
 * RSS so far (getrusage), tfjs's tf.memory() (bytes and tensors it tracks)
 * and the wasm backend's heap (its WebAssembly.Memory, which only grows).
 * Then what the data alone costs (the float32 arrays the run holds) and the
 * final accuracy (to check a change leaves the results alone).
 *
 *   npx tsx bench/memory_breakdown.ts [--quick] [--gc] [--chunks-on-demand] [--out fragment.md]
 *
 * --quick: 2 updates of 2000 items, 1 epoch (checks the bench, not the
 * numbers). --gc: also a reading after a forced garbage collection at each
 * stage (what is live, not merely not yet collected); the collections may
 * lower the later peaks, so the peak to compare with end_to_end.ts is the
 * one without --gc. --chunks-on-demand: keep the full train set and cut
 * each update's chunk just before the update, as bench/end_to_end_torch.py
 * does, instead of cutting them all up front as end_to_end.ts does (the same
 * chunks, so the same run).
 */
// Only node modules before the first reading: relearn and tfjs are imported dynamically below.
import { writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { benchArgs } from "./cli_args.js";

interface Reading {
  stage: string;
  rss: number;
  peakRss: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  tfBytes: number | null;
  tfTensors: number | null;
  wasmHeap: number | null;
  /** The same after a forced garbage collection (--gc only). */
  afterGc?: { rss: number; heapUsed: number; arrayBuffers: number };
}

const args = benchArgs(import.meta.url, {
    quick: { type: "boolean", default: false },
    gc: { type: "boolean", default: false },
    "chunks-on-demand": { type: "boolean", default: false },
    out: { type: "string" },
});
const log = (line: string): void => void process.stderr.write(`${line}\n`);

let collect: (() => void) | undefined;
if (args.gc) {
  setFlagsFromString("--expose-gc");
  collect = runInNewContext("gc") as () => void;
}

/** Filled once tfjs is imported and once the wasm backend runs. */
const probes: { tfMemory?: () => { numBytes: number; numTensors: number }; wasmHeapBytes?: () => number } = {};

const readings: Reading[] = [];
async function read(stage: string): Promise<Reading> {
  const m = process.memoryUsage();
  const tfm = probes.tfMemory?.();
  const reading: Reading = {
    stage,
    rss: m.rss,
    peakRss: process.resourceUsage().maxRSS * 1024,
    heapUsed: m.heapUsed,
    external: m.external,
    arrayBuffers: m.arrayBuffers,
    tfBytes: tfm?.numBytes ?? null,
    tfTensors: tfm?.numTensors ?? null,
    wasmHeap: probes.wasmHeapBytes?.() ?? null,
  };
  if (collect) {
    // V8 frees ArrayBuffer backing stores on a background thread after the collection: wait for it.
    collect();
    await new Promise((resolve) => setTimeout(resolve, 200));
    collect();
    const g = process.memoryUsage();
    reading.afterGc = { rss: g.rss, heapUsed: g.heapUsed, arrayBuffers: g.arrayBuffers };
  }
  readings.push(reading);
  log(`  ${stage}: RSS ${mib(reading.rss)} MiB (peak ${mib(reading.peakRss)}), arrayBuffers ${mib(reading.arrayBuffers)}, wasm heap ${reading.wasmHeap === null ? "-" : mib(reading.wasmHeap)}`);
  return reading;
}

const mib = (bytes: number | null | undefined): string => (bytes === null || bytes === undefined ? "-" : (bytes / 2 ** 20).toFixed(1));

await read("node started");

const tf = await import("@tensorflow/tfjs-core");
const { initBackend } = await import("../src/backend/backend.js");
const { concatDatasets } = await import("../src/data/dataset_ops.js");
const { loadFashionMnist } = await import("../src/data/fashion_mnist.js");
const { classIncremental } = await import("../src/data/scenarios.js");
const { buildModel } = await import("../src/model/continual_model.js");
const { mlp } = await import("../src/model/spec.js");
const { Random, deriveSeed } = await import("../src/random.js");
const { filterByClasses, subsetDataset } = await import("../src/data/dataset_ops.js");
const { predict } = await import("../src/training/predict.js");
const { RepeatedDistillationModelUpdater } = await import("../src/updaters/repeated_distillation.js");
type Dataset = import("../src/data/dataset.js").Dataset;
probes.tfMemory = () => tf.memory();
await read("imports");

// bench/end_to_end.ts's settings (FULL and QUICK there).
const s = args.quick
  ? { tasks: 2, epochs: 1, chunkLimit: 2000 as number | null, memorySize: 500, batchSize: 32, seed: 0 }
  : { tasks: 5, epochs: 5, chunkLimit: null as number | null, memorySize: 500, batchSize: 32, seed: 0 };

/** end_to_end.ts's chunk subsample: the same seeded rows. */
function subsample(ds: Dataset, limit: number | null, tag: number): Dataset {
  if (limit === null || limit >= ds.length) return ds;
  const rows = Random.fromSeed(deriveSeed(s.seed, "end-to-end-chunk", tag)).permutation(ds.length).subarray(0, limit).sort();
  return subsetDataset(ds, rows);
}

process.env["RELEARN_WASM_THREADS"] ??= "1"; // end_to_end.ts's "relearn" variant
await initBackend("wasm");
const backend = tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } };
probes.wasmHeapBytes = () => backend.wasm.HEAPU8.buffer.byteLength;
await read("initBackend (wasm)");

let fashion: Awaited<ReturnType<typeof loadFashionMnist>> | undefined = await loadFashionMnist({ source: "full" });
const trainLength = fashion.train.length;
const testLength = fashion.test.length;
const pixels = fashion.train.features.length / trainLength;
await read("Fashion-MNIST loaded");

// Default: every update's chunk cut up front (end_to_end.ts's scenario()), the full sets dropped.
// --chunks-on-demand: the full train set kept and each chunk cut just before its update, as
// bench/end_to_end_torch.py does. The class groups (and test sets) come from classIncremental over the
// test set: it deals the classes present, which the two sets share, so the groups are the same.
const onDemand = args["chunks-on-demand"];
const fullTrain: Dataset | undefined = onDemand ? fashion.train : undefined;
const updates = classIncremental({ train: onDemand ? fashion.test : fashion.train, test: fashion.test, tasks: 5, seed: s.seed })
  .slice(0, s.tasks)
  .map((u, i) => ({ ...u, train: onDemand ? undefined : subsample(u.train, s.chunkLimit, i) }));
const chunkOf = (i: number): Dataset => updates[i]!.train ?? subsample(filterByClasses(fullTrain!, updates[i]!.classes!), s.chunkLimit, i);
fashion = undefined; // end_to_end.ts's scenario() drops the full sets here too
await read("scenario built");

const model = buildModel(mlp({ inputShape: [pixels], hidden: [256, 256], classes: 10 }), { seed: s.seed });
const updater = new RepeatedDistillationModelUpdater({
  model, backend: "wasm", seed: s.seed, maxEpochs: s.epochs, batchSize: s.batchSize,
  optimizer: { name: "adam", learningRate: 1e-3 }, memorySize: s.memorySize,
});
await read("model and updater built");

for (const [i, update] of updates.entries()) {
  const n = i + 1;
  const phases = {
    onTrainBegin: async (e: { phase: string }) => void (await read(`update ${n}: ${e.phase} start`)),
    onTrainEnd: async (e: { phase: string }) => void (await read(`update ${n}: ${e.phase} end`)),
  };
  await updater.update(chunkOf(i), { taskId: update.taskId, callbacks: [phases] });
  await read(`update ${n} done`);
}

const testSet = concatDatasets(updates.map((u) => u.test));
const { classes } = await predict(updater.model, testSet, { taskId: updates[0]!.taskId });
let correct = 0;
for (let i = 0; i < testSet.length; i++) if (classes[i] === testSet.labels[i]) correct++;
// A checksum of the final weights (float64 sum of every value in order): equal before and after a change means the same run.
const weights = updater.model.snapshotWeights();
let checksum = 0;
for (const w of weights) for (const v of await w.data()) checksum += v;
tf.dispose(weights);
await read("final prediction");

// ---------------------------------------------------------------- the report

const floatBytes = (items: number): number => items * pixels * 4;
const chunkItems = s.chunkLimit === null ? trainLength * (s.tasks / 5) : s.chunkLimit * s.tasks;
const testItems = updates.reduce((sum, u) => sum + u.test.length, 0);
const header = ["stage", "RSS", "peak RSS", "V8 heap used", "external", "arrayBuffers", "tf bytes", "tf tensors", "wasm heap", ...(args.gc ? ["RSS after GC", "arrayBuffers after GC"] : [])];
const rows = readings.map((r) => [
  r.stage, mib(r.rss), mib(r.peakRss), mib(r.heapUsed), mib(r.external), mib(r.arrayBuffers), mib(r.tfBytes), r.tfTensors === null ? "-" : String(r.tfTensors), mib(r.wasmHeap),
  ...(r.afterGc ? [mib(r.afterGc.rss), mib(r.afterGc.arrayBuffers)] : []),
]);
const peak = Math.max(...readings.map((r) => r.peakRss));
const command = ["npx tsx bench/memory_breakdown.ts", ...(args.quick ? ["--quick"] : []), ...(args.gc ? ["--gc"] : []), ...(onDemand ? ["--chunks-on-demand"] : [])].join(" ");
const text = [
  `\`${command}\`: ${s.tasks} update(s), ${args.quick ? `${s.chunkLimit} items per chunk, ` : ""}${s.epochs} epoch(s), memory ${s.memorySize}; ` +
    `Node ${process.version}, load average (1 min) ${loadavg()[0]!.toFixed(2)} at the end; ${new Date().toISOString().slice(0, 10)}. MiB (2^20 bytes).`,
  "",
  `| ${header.join(" | ")} |`,
  `|${header.map((_, i) => (i === 0 ? "---" : "---:")).join("|")}|`,
  ...rows.map((r) => `| ${r.join(" | ")} |`),
  "",
  `- Peak RSS ${mib(peak)} MiB; final accuracy (seen classes) ${(correct / testSet.length).toFixed(4)}, weight checksum ${checksum}.`,
  `- The data as float32: full train set ${trainLength} x ${pixels} = ${mib(floatBytes(trainLength))} MiB, test set ${mib(floatBytes(testLength))} MiB; ` +
    `the scenario's chunks (${chunkItems} items) ${mib(floatBytes(chunkItems))} MiB and test sets (${testItems} items) ${mib(floatBytes(testItems))} MiB; ` +
    `the memory (${s.memorySize} items) ${mib(floatBytes(s.memorySize))} MiB.`,
  "",
].join("\n");
process.stdout.write(`${text}\n`);
if (args.out !== undefined) writeFileSync(args.out, text);
