/**
 * `relearn benchmark --queue` (issue 15, parts 2 and 5) against a real redis-server and two real `relearn worker`
 * processes, on a tiny grid (2 updaters x 2 seeds, permuted Fashion-MNIST subset, 100 samples per task, mlp:16, 1
 * epoch): the queued results folder equals the local run's (every number; only wall times differ), a rerun reuses
 * the finished cells, a worker killed mid-cell costs a retry and nothing else, and failed cells are listed with a
 * non-zero exit and no results written.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { parseRedisUrl, redisOptions } from "../../src/queue/connection.js";
import { GRID_QUEUE_NAME } from "../../src/queue/benchmark_grid.js";
import { startRedisServer, type RedisServer } from "./redis_server.js";
import { killAll, startWorkerProcess, type WorkerProcess } from "./workers.js";

const MAIN = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));
const GRID = [
  "benchmark", "--dataset", "fashion-mnist-bundled", "--scenario", "permuted", "--tasks", "2", "--train-per-task", "100",
  "--test-per-task", "100", "--epochs", "1", "--model", "mlp:16", "--backend", "wasm", "--updaters", "fine-tuning,er",
  "--memory-sizes", "20", "--seeds", "0,1", "--no-png",
];
const CELLS = 4;
// Short locks: a killed worker's cell goes back to the queue after about 2 x 2 s instead of a minute.
const LOCK_MS = 2000;

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** The CLI in a child process, asynchronously, so a local run and a queued one can run side by side. */
function relearn(args: string[], onStart?: (child: ChildProcess) => void): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", MAIN, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    onStart?.(child);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, stdout, stderr }));
  });
}

/** A results folder's files as text, every field that holds seconds removed (wall times differ between runs). */
async function comparable(dir: string): Promise<Map<string, string>> {
  const withoutSeconds = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(withoutSeconds);
    if (value !== null && typeof value === "object") {
      return Object.fromEntries(Object.entries(value).filter(([key]) => !/seconds/i.test(key)).map(([key, v]) => [key, withoutSeconds(v)]));
    }
    return value;
  };
  const files = new Map<string, string>();
  for (const name of (await readdir(dir)).sort()) {
    if (name === "charts" || name === "report.html") continue; // drawn from summary.json, and they show times
    const text = await readFile(join(dir, name), "utf8");
    if (name === "summary.json") files.set(name, JSON.stringify(withoutSeconds(JSON.parse(text))));
    else if (name === "metrics.jsonl") files.set(name, text.trim().split("\n").map((line) => JSON.stringify(withoutSeconds(JSON.parse(line)))).join("\n"));
    else files.set(name, text);
  }
  return files;
}

function assertSameResults(actual: Map<string, string>, expected: Map<string, string>): void {
  assert.deepEqual([...actual.keys()], [...expected.keys()]);
  for (const [name, text] of expected) assert.equal(actual.get(name), text, `${name} differs from the local run's`);
}

let redis: RedisServer;
let out: string;
const workers: WorkerProcess[] = [];
let local: Map<string, string>;

before(async () => {
  redis = await startRedisServer();
  out = await mkdtemp(join(tmpdir(), "relearn-bench-queue-"));
  workers.push(startWorkerProcess(redis.url, { lockDurationMs: LOCK_MS }), startWorkerProcess(redis.url, { lockDurationMs: LOCK_MS }));
  await Promise.all(workers.map((w) => w.ready));
});
after(async () => {
  await killAll(workers);
  await redis.stop();
  await rm(out, { recursive: true, force: true });
});

test("a grid over 2 workers gives the local run's results exactly; a rerun reuses every finished cell", { timeout: 300_000 }, async () => {
  const [localRun, queued] = await Promise.all([
    relearn([...GRID, "--out", join(out, "local")]),
    relearn([...GRID, "--queue", redis.url, "--out", join(out, "queued")]),
  ]);
  assert.equal(localRun.status, 0, localRun.stderr);
  assert.equal(queued.status, 0, queued.stderr);
  assert.match(queued.stderr, new RegExp(`${CELLS}/${CELLS} cells done, 0 running, 0 failed`));
  assert.match(queued.stdout, /report: .*report\.html/);
  for (const w of workers) assert.ok(w.lines.some((l) => /benchmark-cell finished/.test(l.text)), `every worker ran a cell:\n${w.lines.map((l) => l.text).join("\n")}`);
  local = await comparable(join(out, "local"));
  assert.ok(local.has("accuracy-er-m20-s1.csv") && local.has("summary.json"));
  assertSameResults(await comparable(join(out, "queued")), local);
  assert.ok(existsSync(join(out, "queued", "report.html")) && existsSync(join(out, "queued", "charts")));

  const startedBefore = workers.reduce((n, w) => n + w.lines.filter((l) => /benchmark-cell started/.test(l.text)).length, 0);
  const again = await relearn([...GRID, "--queue", redis.url, "--out", join(out, "again")]);
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stderr, new RegExp(`benchmark: ${CELLS}/${CELLS} cells done`), "the first count already has every cell");
  const startedAfter = workers.reduce((n, w) => n + w.lines.filter((l) => /benchmark-cell started/.test(l.text)).length, 0);
  assert.equal(startedAfter, startedBefore, "no cell ran again");
  assertSameResults(await comparable(join(out, "again")), local);
});

test("a worker killed in the middle of a cell: the cell runs again elsewhere, is counted once, and the results are unchanged", { timeout: 300_000 }, async () => {
  assert.ok(local !== undefined, "needs the first test's local run");
  const client = new Redis(redis.port, "127.0.0.1");
  await client.flushall(); // forget the finished cells: all of them run again
  client.disconnect();
  const [victim, survivor] = workers as [WorkerProcess, WorkerProcess];
  const mark = (w: WorkerProcess) => w.lines.length;
  const victimFrom = mark(victim);
  const survivorFrom = mark(survivor);
  const queued = relearn([...GRID, "--queue", redis.url, "--out", join(out, "killed")]);
  // The victim's next cell: kill it as soon as that cell starts, long before it can finish.
  const started = await new Promise<string>((resolve, reject) => {
    const timer = setInterval(() => {
      const line = victim.lines.slice(victimFrom).find((l) => /benchmark-cell started/.test(l.text));
      if (line !== undefined) {
        clearInterval(timer);
        resolve(line.text);
      }
      if (victim.child.exitCode !== null) reject(new Error("the worker exited by itself"));
    }, 20);
  });
  victim.kill("SIGKILL");
  await victim.exited;
  const killedId = /job (cell-[0-9a-f]+)/.exec(started)![1]!;
  workers.push(startWorkerProcess(redis.url, { lockDurationMs: LOCK_MS })); // so the next test still has 2
  const run = await queued;
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stderr, new RegExp(`${CELLS}/${CELLS} cells done, 0 running, 0 failed`));
  const ranKilled = [...survivor.lines.slice(survivorFrom), ...workers[2]!.lines].filter((l) => l.text.includes(killedId) && /finished/.test(l.text));
  assert.equal(ranKilled.length, 1, `the killed cell ${killedId} finished once, on another worker`);
  assertSameResults(await comparable(join(out, "killed")), local);
  workers.shift(); // the victim
});

test("cells that fail are listed, the command exits with 1, and nothing is written", { timeout: 120_000 }, async () => {
  await Promise.all(workers.map((w) => w.ready));
  const dir = join(out, "failing");
  // A misnamed option is refused before any cell is enqueued (tester F-C): every updater's options are checked first.
  const typo = await relearn([...GRID, "--updater-options", '{"er": {"noSuchOption": 1}}', "--queue", redis.url, "--out", dir]);
  assert.equal(typo.status, 1, typo.stderr);
  assert.match(typo.stderr, /relearn: updater "er" \(memory 20\): invalid ExperienceReplayModelUpdater options:\n.*noSuchOption/);
  assert.doesNotMatch(typo.stderr, /cells done/, "nothing enqueued");
  // A failure only training finds (er diverges at this learning rate): in the workers, for the two er cells.
  const run = await relearn([...GRID, "--updater-options", '{"er": {"optimizer": {"name": "sgd", "learningRate": 1e38}}}', "--queue", redis.url, "--out", dir]);
  assert.equal(run.status, 1, run.stderr);
  assert.match(run.stderr, /2 of 4 benchmark cells failed after all attempts; no results were written/);
  assert.match(run.stderr, /er m20 s0 \(job cell-[0-9a-f]+\): .*training diverged/);
  assert.match(run.stderr, /er m20 s1 \(job cell-[0-9a-f]+\)/);
  assert.doesNotMatch(run.stderr, /fine-tuning s\d \(job/);
  assert.equal(existsSync(dir), false, "no results folder");

  const badUrl = await relearn([...GRID, "--queue", "http://127.0.0.1:1", "--out", dir]);
  assert.equal(badUrl.status, 1);
  assert.match(badUrl.stderr, /--queue: "http:\/\/127\.0\.0\.1:1" has the scheme http:; expected redis:\/\//);
  assert.doesNotMatch(badUrl.stderr, /relearn benchmark: fashion-mnist/, "checked before the data loads");
});

test("a grid that overlaps an interrupted one waits for the shared cell and gets its result; the interrupted one's rerun collects at once", { timeout: 180_000 }, async () => {
  // Database 1: the workers of the tests above serve database 0, so these cells wait until a worker is started here.
  const url = `${redis.url}/1`;
  const tiny = ["benchmark", "--dataset", "fashion-mnist-bundled", "--scenario", "permuted", "--tasks", "2", "--train-per-task", "50", "--test-per-task", "50",
    "--epochs", "1", "--model", "mlp:16", "--backend", "wasm", "--updaters", "fine-tuning", "--no-png", "--queue", url];
  let first: ChildProcess | undefined;
  let stderr = "";
  const interrupted = relearn([...tiny, "--seeds", "0", "--out", join(out, "first")], (child) => {
    first = child;
    child.stderr!.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
      if (stderr.includes("0/1 cells done") && !child.killed) child.kill("SIGINT"); // enqueued: stop waiting (once)
    });
  });
  const stopped = await interrupted;
  assert.equal(stopped.status, 130, stopped.stderr);
  assert.ok(first !== undefined);
  assert.match(stopped.stderr, /stopped waiting; the cells stay queued \(or running\) for the workers/);
  // The workers of the tests above serve db 0 only: the note counts workers of this db, and names its URL.
  assert.match(stopped.stderr, /note: no relearn worker is connected to this Redis yet: the cells wait in the queue until one starts \(relearn worker --redis redis:\/\/\S+\/1\)/);

  const overlapping = relearn([...tiny, "--seeds", "0,1", "--out", join(out, "overlapping")]);
  const worker = startWorkerProcess(url, { lockDurationMs: LOCK_MS });
  workers.push(worker);
  const run = await overlapping;
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stderr, /2\/2 cells done, 0 running, 0 failed/);
  const summary = JSON.parse(await readFile(join(out, "overlapping", "summary.json"), "utf8")) as { runs: { seed: number }[] };
  assert.deepEqual(summary.runs.map((r) => r.seed), [0, 1]);

  const rerun = await relearn([...tiny, "--seeds", "0", "--out", join(out, "first")]);
  assert.equal(rerun.status, 0, rerun.stderr);
  assert.match(rerun.stderr, /benchmark: 1\/1 cells done/, "the first count already has the cell");
  assert.equal(worker.lines.filter((l) => /benchmark-cell started/.test(l.text)).length, 2, "each cell ran once");
});

test("a grid whose job vanished from Redis (removed by another producer of the same grid, or a flush) is reported with both causes, exit 1", { timeout: 120_000 }, async () => {
  // Database 2: no worker serves it, so the grid waits with its job in Redis until this test removes it.
  const url = `${redis.url}/2`;
  const tiny = ["benchmark", "--dataset", "fashion-mnist-bundled", "--scenario", "permuted", "--tasks", "2", "--train-per-task", "50", "--test-per-task", "50",
    "--epochs", "1", "--model", "mlp:16", "--backend", "wasm", "--updaters", "fine-tuning", "--seeds", "0", "--no-png", "--queue", url];
  const grids = new Queue(GRID_QUEUE_NAME, { connection: redisOptions(parseRedisUrl(url)) });
  try {
    let stderr = "";
    let removed: Promise<void> | undefined;
    const run = await relearn([...tiny, "--out", join(out, "vanished")], (child) => {
      child.stderr!.on("data", (chunk: Buffer) => {
        stderr += chunk.toString();
        if (removed === undefined && stderr.includes("0/1 cells done")) {
          removed = (async () => {
            const [grid] = await grids.getJobs(["waiting-children", "waiting"]);
            assert.ok(grid, "the grid's job is in Redis");
            await grid.remove({ removeChildren: false });
          })();
        }
      });
    });
    await removed;
    assert.equal(run.status, 1, run.stderr);
    assert.match(run.stderr, /the grid's job \S+ is gone from Redis: another `relearn benchmark --queue` of the same grid took it over .*or Redis restarted without persistence or was flushed\. Rerun the same command/);
  } finally {
    await grids.close();
  }
});
