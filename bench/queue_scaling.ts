/**
 * How a benchmark grid scales over `relearn worker` processes (issue 15, part 6). One grid of tiny cells (default
 * 24: fine-tuning and er x 12 seeds, permuted Fashion-MNIST subset, 200 samples per task, 2 tasks, mlp:16, 1
 * epoch) runs:
 *   - locally, in this process (runBenchmark: what `relearn benchmark` does), once;
 *   - through a redis-server started here on 127.0.0.1 (a free port, nothing kept on disk) on 1, 2 and 4 worker
 *     processes (`relearn worker`, from source), with Redis emptied before each, so every cell runs.
 * Workers are started and ready before the clock starts: the time is enqueue -> all results gathered.
 *
 * Printed (markdown on stdout, progress on stderr), per worker count: wall time, speed-up over the local run and
 * over 1 worker, and the overhead per job, two ways:
 *   - "wall": (wall x min(workers, cores) - local) / cells: the core time a job costs beyond its in-process work;
 *   - "in worker": mean (finishedOn - processedOn) of the jobs minus the local time per cell: the fresh process,
 *     tfjs start, data load and contention, without the queue's waiting.
 * And the projection for a 1,000-cell grid of such cells on N machines, as an estimate from these numbers.
 * The 1-minute load average is printed before each measurement: numbers from a busy machine are not the machine's.
 * Every wasm backend runs on one thread (RELEARN_WASM_THREADS=1, --threads to change it), so N processes compete
 * for cores, not for threads.
 *
 * Cells this tiny (about half a second each on a quiet core) show the queue's overhead; `--train-per-task` and
 * `--epochs` make cells longer, to show the speed-up real cells get. Workers run from source through tsx unless
 * `--main dist/cli/main.js` (after `npm run build`) names the built CLI, as installed workers run it: each job
 * process then skips transpiling.
 *
 *   npx tsx bench/queue_scaling.ts [--seeds 12] [--workers 1,2,4] [--train-per-task 200] [--epochs 1] [--threads 1] [--main dist/cli/main.js]
 */
import { spawn, type ChildProcess } from "node:child_process";
import { cpus, loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { benchmarkConfig, type BenchmarkSpec } from "../src/benchmark/benchmark_spec.js";
import { planRuns, runBenchmark } from "../src/benchmark/run_benchmark.js";
import { loadNamedData } from "../src/data/named_datasets.js";
import { mlp } from "../src/model/spec.js";
import { runQueuedBenchmark } from "../src/queue/benchmark_grid.js";
import { benchmarkCellData, benchmarkCellId } from "../src/queue/benchmark_cell.js";
import { parseRedisUrl, redisOptions } from "../src/queue/connection.js";
import { QUEUE_NAME } from "../src/queue/names.js";
import { startRedisServer } from "../test/queue/redis_server.js";
import { benchArgs } from "./cli_args.js";
import { dataFingerprint } from "../src/queue/data_fingerprint.js";

const args = benchArgs(import.meta.url, {
    seeds: { type: "string", default: "12" },
    workers: { type: "string", default: "1,2,4" },
    "train-per-task": { type: "string", default: "200" },
    epochs: { type: "string", default: "1" },
    threads: { type: "string", default: "1" },
    main: { type: "string" },
});
process.env.RELEARN_WASM_THREADS = args.threads;
const MAIN = args.main ?? fileURLToPath(new URL("../src/cli/main.ts", import.meta.url));
const MAIN_ARGS = MAIN.endsWith(".ts") ? ["--import", "tsx", MAIN] : [MAIN];
const cores = cpus().length;
const log = (line: string) => process.stderr.write(`${line}\n`);
const load = () => loadavg()[0]!.toFixed(2);

const data = await loadNamedData("fashion-mnist-bundled");
const perTask = Number(args["train-per-task"]);
const spec: BenchmarkSpec = {
  data: { dataset: "fashion-mnist-bundled", layout: "flat" },
  scenario: "permuted",
  tasks: 2,
  trainPerTask: perTask,
  testPerTask: perTask,
  model: mlp({ inputShape: [...data.train.featureShape], hidden: [16], classes: data.train.numClasses }),
  epochs: Number(args.epochs),
  batchSize: 32,
  optimizer: { name: "adam", learningRate: 1e-3 },
  backend: "wasm",
  updaters: ["fine-tuning", "er"],
  memorySizes: [50],
  seeds: Array.from({ length: Number(args.seeds) }, (_, i) => i),
  updaterOptions: {},
};
const config = benchmarkConfig(spec, data);
const cells = planRuns(spec).length;
const workerCounts = args.workers.split(",").map(Number);

log(`queue_scaling: ${cells} cells, ${cores} cores, load ${load()}: local run in this process`);
let started = performance.now();
await runBenchmark(config);
const localSeconds = (performance.now() - started) / 1000;
log(`  local: ${localSeconds.toFixed(1)} s`);

const redis = await startRedisServer();
const connection = redisOptions(parseRedisUrl(redis.url));
const rows: { workers: number; load: string; seconds: number; inWorker: number }[] = [];
try {
  for (const n of workerCounts) {
    const client = new Redis(redis.port, "127.0.0.1");
    await client.flushall();
    client.disconnect();
    const workers = await Promise.all(Array.from({ length: n }, () => startWorker(redis.url)));
    try {
      const before = load();
      log(`  ${n} worker(s), load ${before}`);
      started = performance.now();
      await runQueuedBenchmark(spec, config, { connection });
      const seconds = (performance.now() - started) / 1000;
      // The children outlive the grid (kept for reuse): their BullMQ timestamps give the time each spent in a worker.
      const queue = new Queue(QUEUE_NAME, { connection });
      let inWorker = 0;
      const fingerprint = await dataFingerprint(spec.data);
      for (const plan of planRuns(spec)) {
        const job = await queue.getJob(benchmarkCellId(benchmarkCellData(spec, plan), fingerprint));
        inWorker += ((job?.finishedOn ?? 0) - (job?.processedOn ?? 0)) / 1000;
      }
      await queue.close();
      rows.push({ workers: n, load: before, seconds, inWorker: inWorker / cells });
      log(`    ${seconds.toFixed(1)} s`);
    } finally {
      for (const w of workers) w.kill("SIGKILL");
    }
  }
} finally {
  await redis.stop();
}

const localPerCell = localSeconds / cells;
const one = rows.find((r) => r.workers === 1);
const lines = [
  `Grid: ${cells} cells (fine-tuning, er m50 x ${spec.seeds.length} seeds; permuted fashion-mnist-bundled, 2 tasks x ${perTask}, mlp:16, ${spec.epochs} epoch(s)), workers from ${MAIN}, ` +
    `${cores} cores, wasm on ${args.threads} thread(s) per process. Local, in one process: ${localSeconds.toFixed(1)} s (${localPerCell.toFixed(2)} s per cell).`,
  "",
  "| workers | load before | wall (s) | speed-up vs local | speed-up vs 1 worker | overhead per job, wall (s) | overhead per job, in worker (s) |",
  "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ...rows.map((r) =>
    [
      r.workers,
      r.load,
      r.seconds.toFixed(1),
      (localSeconds / r.seconds).toFixed(2),
      one === undefined ? "-" : (one.seconds / r.seconds).toFixed(2),
      ((r.seconds * Math.min(r.workers, cores) - localSeconds) / cells).toFixed(2),
      (r.inWorker - localPerCell).toFixed(2),
    ].join(" | ").replace(/^/, "| ").replace(/$/, " |"),
  ),
];
if (one !== undefined) {
  const perJob = one.seconds / cells; // a cell plus its overhead, on one core
  lines.push(
    "",
    `Estimate: 1,000 such cells take about 1000 x ${perJob.toFixed(2)} s / (machines x cores) if the workers keep every core busy: ` +
      `${((1000 * perJob) / cores / 60).toFixed(1)} min on 1 machine of ${cores} cores, ${((1000 * perJob) / (4 * cores) / 60).toFixed(1)} min on 4.`,
  );
}
process.stdout.write(lines.join("\n") + "\n");
process.exit(0);

/** A `relearn worker` process from source, resolved once it takes jobs. */
function startWorker(url: string): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...MAIN_ARGS, "worker", "--redis", url], { stdio: ["ignore", "ignore", "pipe"], env: process.env });
    let text = "";
    child.stderr!.on("data", (chunk: Buffer) => {
      text += chunk.toString();
      if (text.includes("takes jobs from queue")) resolve(child);
    });
    child.once("exit", (code) => reject(new Error(`worker exited (${code}) before it was ready:\n${text}`)));
  });
}
