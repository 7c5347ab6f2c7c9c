/**
 * The ways a lineage's order survives a job that cannot simply run, with a worker in this process:
 * - a retry that finds its output already committed by an earlier attempt (in place: updating again would apply
 *   the chunk twice) reports that state instead;
 * - a job that fails for good (bad data) does not block the lineage: the next update runs on the unchanged state;
 * - a place in the lineage whose job never arrived (a producer killed between taking the number and adding the
 *   job) is skipped after the grace.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { workflowFolder, workflowConfig } from "../helpers/workflow_files.js";
import { parseConfig } from "../../src/workflow/config.js";
import { updateFromConfig } from "../../src/workflow/update.js";
import { Queue } from "bullmq";
import { openRedis, parseRedisUrl, redisOptions } from "../../src/queue/connection.js";
import { JOB_NAMES, QUEUE_NAME } from "../../src/queue/names.js";
import { UpdateProducer } from "../../src/queue/enqueue.js";
import { lineageDone, lineageJobId, nextLineageSeq } from "../../src/queue/lineage.js";
import { startWorker, type RelearnWorker } from "../../src/queue/worker.js";
import { startRedisServer, type RedisServer } from "./redis_server.js";
import { tempFolders } from "./temp_folders.js";

const folders = tempFolders();

let redis: RedisServer;
let worker: RelearnWorker;
let producer: UpdateProducer;
const lines: string[] = [];
before(async () => {
  redis = await startRedisServer();
  const target = parseRedisUrl(redis.url);
  worker = startWorker({ redis: target, lineagePollMs: 200, lineageMissingGraceMs: 1500, log: (line) => lines.push(line) });
  producer = new UpdateProducer(target);
});
after(async () => {
  await producer.close();
  await worker.close(true);
  await redis.stop();
  await folders.removeAll();
});

const config = parseConfig(workflowConfig({ maxEpochs: 1, backend: "cpu", memorySize: 20 }));
const manifestHash = async (state: string) => createHash("sha256").update(await readFile(join(state, "manifest.json"))).digest("hex");
const updatesDone = async (state: string) => (JSON.parse(await readFile(join(state, "manifest.json"), "utf8")) as { data: { updatesDone: number } }).data.updatesDone;

test("a retry whose earlier attempt committed the in-place update reports it and does not apply the chunk again", { timeout: 120_000 }, async () => {
  const dir = folders.track(await workflowFolder(10));
  const state = join(dir, "state");
  await updateFromConfig({ config, data: { path: join(dir, "chunk1.csv") }, outputState: state });
  const before = await manifestHash(state);
  // The first attempt of the job: it saw `before`, committed update 2 in place (recording its job id, as a job's
  // update does), and its worker died unacknowledged.
  await updateFromConfig({ config, data: { path: join(dir, "chunk2.csv") }, inputState: state, outputState: state, queueJob: lineageJobId("retried", 1) });
  const committed = await manifestHash(state);
  const client = openRedis(parseRedisUrl(redis.url));
  try {
    await client.set(`relearn:job:${lineageJobId("retried", 1)}:fingerprint`, before);
  } finally {
    client.disconnect();
  }
  const job = await producer.enqueue({ config, data: { path: join(dir, "chunk2.csv") }, inputState: state, outputState: state }, { lineage: "retried" });
  assert.equal(job.jobId, lineageJobId("retried", 1));
  const result = await producer.waitFor(job.jobId, 100_000);
  assert.deepEqual(result, { recovered: true, outputState: state, updatesDone: 2 });
  assert.equal(await manifestHash(state), committed, "the state is the committed one, not updated a third time");
});

test("an update that fails for good is skipped: the lineage's next update runs on the unchanged state", { timeout: 120_000 }, async () => {
  const dir = folders.track(await workflowFolder(10));
  const state = join(dir, "state");
  await writeFile(join(dir, "bad.csv"), "f0,f1,f2,f3,f4,f5,f6,f7,label\n1,2,3,4,5,6,7,NaN,0\n");
  const bad = await producer.enqueue({ config, data: { path: join(dir, "bad.csv") }, outputState: state }, { lineage: "skips" });
  const good = await producer.enqueue({ config, data: { path: join(dir, "chunk1.csv") }, outputState: state }, { lineage: "skips" });
  await assert.rejects(producer.waitFor(bad.jobId, 100_000), /NaN/);
  const result = await producer.waitFor(good.jobId, 100_000);
  assert.equal(result.recovered ? -1 : result.summary.updatesDone, 1);
  assert.equal(await updatesDone(state), 1);
  assert.ok(lines.some((line) => line.includes(bad.jobId) && /failed .*attempt 1\/3, for good/.test(line)), lines.join("\n"));
});

test("a place of the lineage whose job never arrived is skipped after the grace; if it comes later, it fails rather than run out of order", { timeout: 120_000 }, async () => {
  const dir = folders.track(await workflowFolder(10));
  const client = openRedis(parseRedisUrl(redis.url));
  try {
    assert.equal(await nextLineageSeq(client, "gap"), 1); // a producer took place 1 and died before adding its job
    const started = Date.now();
    const job = await producer.enqueue({ config, data: { path: join(dir, "chunk1.csv") }, outputState: join(dir, "state") }, { lineage: "gap" });
    assert.equal(job.seq, 2);
    await producer.waitFor(job.jobId, 100_000);
    assert.ok(Date.now() - started >= 1500, "it waited for the missing job first");
    assert.equal(await lineageDone(client, "gap"), 2);

    // The job of place 1 arrives after all: the lineage went on without it, so it must not run (out of order).
    const queue = new Queue(QUEUE_NAME, { connection: redisOptions(parseRedisUrl(redis.url)) });
    try {
      const late = await queue.add(JOB_NAMES.update, { config, data: { path: join(dir, "chunk2.csv") }, outputState: join(dir, "state"), lineage: { name: "gap", seq: 1 } }, { jobId: lineageJobId("gap", 1), attempts: 3 });
      await assert.rejects(producer.waitFor(late.id!, 100_000), /went on past place 1 without this job/);
      assert.equal((await queue.getJob(late.id!))!.attemptsMade, 1, "failed for good at once, not retried");
    } finally {
      await queue.close();
    }
    assert.equal(await updatesDone(join(dir, "state")), 1, "the late chunk was not applied");
  } finally {
    client.disconnect();
  }
});
