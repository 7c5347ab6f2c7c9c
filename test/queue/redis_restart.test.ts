/**
 * Redis restarted mid-run (issue 15, part 5): update jobs of two lineages run on two workers; after the first
 * finishes, Redis is stopped and started again (its append-only file keeps the queue, as a production Redis
 * with persistence does). The workers and their connections ride it out: every job completes, each lineage's
 * updates all land (their order is lineage_order.test.ts's), and jobs still finish after the restart.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Queue } from "bullmq";
import { workflowFolder, workflowConfig } from "../helpers/workflow_files.js";
import { parseConfig } from "../../src/workflow/config.js";
import { parseRedisUrl, redisOptions } from "../../src/queue/connection.js";
import { UpdateProducer, type EnqueuedUpdate } from "../../src/queue/enqueue.js";
import { QUEUE_NAME } from "../../src/queue/names.js";
import { startRedisServer, type RedisServer } from "./redis_server.js";
import { killAll, startWorkerProcess, type WorkerProcess } from "./workers.js";
import { tempFolders } from "./temp_folders.js";

const folders = tempFolders();

let redis: RedisServer;
const workers: WorkerProcess[] = [];
before(async () => {
  redis = await startRedisServer({ persistent: true });
});
after(async () => {
  await killAll(workers);
  await redis.stop();
  await folders.removeAll();
});

test("Redis restarted mid-run: the workers reconnect and every job finishes and each lineage gets all its updates", { timeout: 240_000 }, async () => {
  const dir = folders.track(await workflowFolder(10));
  const config = parseConfig(workflowConfig({ maxEpochs: 1, backend: "cpu", memorySize: 20 }));
  const target = parseRedisUrl(redis.url);
  workers.push(startWorkerProcess(redis.url), startWorkerProcess(redis.url));
  await Promise.all(workers.map((w) => w.ready));

  const producer = new UpdateProducer(target);
  const jobs: EnqueuedUpdate[] = [];
  try {
    for (let k = 1; k <= 3; k++) {
      for (const lineage of ["A", "B"]) {
        const state = join(dir, `state-${lineage}`);
        jobs.push(await producer.enqueue({
          config,
          data: { path: join(dir, `chunk${k}.csv`) },
          val: { path: join(dir, "test.csv") },
          ...(k === 1 ? {} : { inputState: state }),
          outputState: state,
        }, { lineage }));
      }
    }
  } finally {
    await producer.close();
  }

  await Promise.race(workers.map((w) => w.waitForLine(/ finished /, 120_000)));
  const restartedAt = Date.now();
  await redis.restart(1500);

  // Poll with a fresh connection: what the queue says, not what a listener heard.
  const queue = new Queue(QUEUE_NAME, { connection: redisOptions(target) });
  try {
    const deadline = Date.now() + 180_000;
    for (;;) {
      const states = await Promise.all(jobs.map(async (j) => (await queue.getJob(j.jobId))?.getState() ?? "missing"));
      if (states.every((s) => s === "completed")) break;
      assert.ok(!states.includes("failed"), `a job failed: ${states.join(", ")}`);
      assert.ok(Date.now() < deadline, `jobs not done 180 s after the restart: ${states.join(", ")}`);
      await sleep(500);
    }
  } finally {
    await queue.close();
  }

  for (const w of workers) assert.equal(w.child.exitCode, null, "the worker is still running");
  const finishedAfter = workers.flatMap((w) => w.lines).filter((l) => / finished /.test(l.text) && l.at > restartedAt);
  assert.ok(finishedAfter.length >= 1, "jobs finished after the restart");
  for (const lineage of ["A", "B"]) {
    const manifest = JSON.parse(await readFile(join(dir, `state-${lineage}`, "manifest.json"), "utf8")) as { data: { updatesDone: number } };
    assert.equal(manifest.data.updatesDone, 3, `lineage ${lineage}: all 3 updates applied`);
  }
});
