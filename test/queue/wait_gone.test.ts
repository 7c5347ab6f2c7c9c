/**
 * `update --queue --wait` (UpdateProducer.waitFor) with a Redis that restarts without persistence mid-job: BullMQ's
 * event for the job never comes, since its hash is gone. The wait must end: with the result relearn keeps for an
 * applied lineage job, or with an error saying the job is gone, never hang (found by a tester: it waited for ever).
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { workflowConfig, workflowFolder } from "../helpers/workflow_files.js";
import { parseConfig } from "../../src/workflow/config.js";
import { parseRedisUrl, UpdateProducer } from "../../src/queue/index.js";
import { startRedisServer, type RedisServer } from "./redis_server.js";
import { killAll, startWorkerProcess, type WorkerProcess } from "./workers.js";
import { tempFolders } from "./temp_folders.js";

const folders = tempFolders();
let redis: RedisServer;
const workers: WorkerProcess[] = [];
before(async () => {
  redis = await startRedisServer(); // no persistence: a restart forgets every job
});
after(async () => {
  await killAll(workers);
  await redis.stop();
  await folders.removeAll();
});

test("waitFor ends when Redis forgets the job mid-run: the kept result, or a clear 'gone' error", { timeout: 240_000 }, async () => {
  const dir = folders.track(await workflowFolder(30));
  const config = parseConfig(workflowConfig({ maxEpochs: 30, backend: "cpu", memorySize: 20 }));
  const worker = startWorkerProcess(redis.url);
  workers.push(worker);
  await worker.ready;
  const producer = new UpdateProducer(parseRedisUrl(redis.url));
  try {
    const job = await producer.enqueue({ config, data: { path: join(dir, "chunk1.csv") }, outputState: join(dir, "s") });
    const waited = producer.waitFor(job.jobId).then(
      (result) => ({ result }),
      (error: Error) => ({ error }),
    );
    await worker.waitForLine(new RegExp(`job ${job.jobId} .*started`), 120_000);
    await redis.restart(300);
    const outcome = await Promise.race([waited, new Promise<"hung">((resolve) => setTimeout(() => resolve("hung"), 120_000).unref())]);
    if (outcome === "hung") assert.fail("waitFor must notice the job is gone");
    if ("error" in outcome) assert.match(outcome.error.message, new RegExp(`job ${job.jobId} is gone from Redis .*relearn inspect`));
    else assert.equal(outcome.result.recovered ? outcome.result.updatesDone : outcome.result.summary.updatesDone, 1);
  } finally {
    await producer.close();
  }
});
