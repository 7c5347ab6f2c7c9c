/**
 * Redis restarted in the middle of `relearn benchmark --queue` (issue 15, part 5): a grid of 4 tiny cells on two
 * workers; once a cell is done, Redis stops for 1.5 s and starts again (its append-only file keeps the queue, as a
 * production Redis with persistence does). The producer and the workers ride it out: the grid finishes with every
 * cell in the results once, and the results folder is written.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startRedisServer, type RedisServer } from "./redis_server.js";
import { killAll, startWorkerProcess, type WorkerProcess } from "./workers.js";

const MAIN = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));

let redis: RedisServer;
let out: string;
const workers: WorkerProcess[] = [];
before(async () => {
  redis = await startRedisServer({ persistent: true });
  out = await mkdtemp(join(tmpdir(), "relearn-bench-restart-"));
});
after(async () => {
  await killAll(workers);
  await redis.stop();
  await rm(out, { recursive: true, force: true });
});

test("Redis restarted mid-grid: the producer and the workers reconnect, and the grid finishes with every cell in its results once", { timeout: 240_000 }, async () => {
  workers.push(startWorkerProcess(redis.url), startWorkerProcess(redis.url));
  await Promise.all(workers.map((w) => w.ready));
  const args = [
    "benchmark", "--dataset", "fashion-mnist-bundled", "--scenario", "permuted", "--tasks", "2", "--train-per-task", "50", "--test-per-task", "50",
    "--epochs", "1", "--model", "mlp:16", "--backend", "wasm", "--updaters", "fine-tuning,er", "--memory-sizes", "20", "--seeds", "0,1", "--no-png",
    "--queue", redis.url, "--out", out,
  ];
  let restarted: Promise<void> | undefined;
  let restartedAt = 0;
  const run = await new Promise<{ status: number | null; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", MAIN, ...args], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
      if (restarted === undefined && /benchmark: [1-3]\/4 cells done/.test(stderr)) {
        restartedAt = Date.now();
        restarted = redis.restart(1500);
      }
    });
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, stderr }));
  });
  assert.ok(restarted !== undefined, `Redis was restarted mid-grid:\n${run.stderr}`);
  await restarted;
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stderr, /4\/4 cells done, 0 running, 0 failed/);
  const summary = JSON.parse(await readFile(join(out, "summary.json"), "utf8")) as { runs: { updater: string; seed: number }[] };
  assert.deepEqual(summary.runs.map((r) => `${r.updater} s${r.seed}`), ["fine-tuning s0", "fine-tuning s1", "er s0", "er s1"]);
  const finished = workers.flatMap((w) => w.lines).filter((l) => /benchmark-cell finished/.test(l.text));
  assert.equal(new Set(finished.map((l) => /job (cell-[0-9a-f]+)/.exec(l.text)![1])).size, 4, "4 distinct cells finished");
  assert.ok(finished.some((l) => l.at > restartedAt), "cells finished after the restart");
});
