// A worker asked to stop while Redis is down and no job runs: one Ctrl-C stops it (exit 0) within seconds; it used
// to wait for Redis to hand back jobs it did not hold, and only a third signal ended it (found by a tester).
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { startRedisServer } from "./redis_server.js";
import { killAll, startWorkerProcess, type WorkerProcess } from "./workers.js";

const workers: WorkerProcess[] = [];
after(async () => {
  await killAll(workers);
});

test("Redis down, no job running: one SIGINT stops the worker within seconds, exit 0", { timeout: 120_000 }, async () => {
  const redis = await startRedisServer();
  const worker = startWorkerProcess(redis.url);
  workers.push(worker);
  await worker.ready;
  await redis.stop();
  const signalled = Date.now();
  worker.kill("SIGINT");
  const exited = await Promise.race([worker.exited, new Promise<"hung">((resolve) => setTimeout(() => resolve("hung"), 45_000).unref())]);
  if (exited === "hung") assert.fail(`still running 45 s after SIGINT:\n${worker.lines.map((l) => l.text).join("\n")}`);
  assert.deepEqual(exited, { code: 0, signal: null });
  assert.ok(Date.now() - signalled < 30_000);
  assert.ok(worker.lines.some((l) => /Redis does not answer and no job is running: exiting without it/.test(l.text)));
});
