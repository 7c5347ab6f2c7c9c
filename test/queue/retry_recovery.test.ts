/**
 * A retried update job claims "an earlier attempt committed" only for a state that names the job (`queueJob` in
 * its manifest), never because the output folder merely changed: a state changed by another writer between the
 * attempts, or the old state put back after a crash between the two renames of a commit, is updated from, so the
 * chunk is never lost while the job reports success. (Found by a tester: both cases were reported as recovered
 * with the chunk never trained.)
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { workflowConfig, workflowFolder } from "../helpers/workflow_files.js";
import { parseConfig } from "../../src/workflow/config.js";
import { updateFromConfig } from "../../src/workflow/update.js";
import { outputFingerprint, recover, run, type UpdateJobData } from "../../src/queue/jobs/update.js";
import { checkRedisReachable, parseRedisUrl, UpdateProducer } from "../../src/queue/index.js";
import { startRedisServer, type RedisServer } from "./redis_server.js";
import { killAll, startWorkerProcess, type WorkerProcess } from "./workers.js";
import { tempFolders } from "./temp_folders.js";

const folders = tempFolders();
const config = parseConfig(workflowConfig({ maxEpochs: 1, backend: "cpu", memorySize: 20 }));

async function manifestOf(state: string): Promise<{ updatesDone: number; queueJob?: string }> {
  return (JSON.parse(await readFile(join(state, "manifest.json"), "utf8")) as { data: { updatesDone: number; queueJob?: string } }).data;
}

test("a retry finding the output changed by another writer updates from it; only a state naming the job counts as its own", { timeout: 300_000 }, async () => {
  const dir = folders.track(await workflowFolder(10));
  const state = join(dir, "state");
  await updateFromConfig({ config, data: { path: join(dir, "chunk1.csv") }, outputState: state });
  const data: UpdateJobData = { config, data: { path: join(dir, "chunk3.csv") }, inputState: state, outputState: state };
  const first = await outputFingerprint(data);

  // Another writer (a local `relearn update` on the same folder) updates it before the job's retry.
  await updateFromConfig({ config, data: { path: join(dir, "chunk2.csv") }, inputState: state, outputState: state });
  assert.notEqual(await outputFingerprint(data), first, "the folder changed");
  assert.equal((await manifestOf(state)).queueJob, undefined, "a local update names no job");
  assert.equal(await recover(data, { jobId: "job-1", attempt: 2 }), undefined, "not this job's write: not recovered");

  const result = await run(data, () => {}, { jobId: "job-1", attempt: 2 });
  assert.equal(result.recovered, false);
  assert.equal((await manifestOf(state)).updatesDone, 3, "the job's chunk applied on top of the other writer's");
  assert.equal((await manifestOf(state)).queueJob, "job-1");
  assert.deepEqual(await recover(data, { jobId: "job-1", attempt: 3 }), { recovered: true, outputState: state, updatesDone: 3 });
  assert.equal(await recover(data, { jobId: "job-2", attempt: 2 }), undefined, "another job's write is not this job's");

  // The next update by anything but a job clears the marker: it describes the last write only.
  await updateFromConfig({ config, data: { path: join(dir, "chunk1.csv") }, inputState: state, outputState: state });
  assert.equal((await manifestOf(state)).queueJob, undefined);
});

let redis: RedisServer;
const workers: WorkerProcess[] = [];
before(async () => {
  redis = await startRedisServer();
});
after(async () => {
  await killAll(workers);
  await redis.stop();
  await folders.removeAll();
});

test("a job process killed between the two renames of an in-place commit: the retry trains the chunk, it is not 'recovered'", { timeout: 300_000 }, async () => {
  const dir = folders.track(await workflowFolder(10));
  const state = join(dir, "state");
  await updateFromConfig({ config, data: { path: join(dir, "chunk1.csv") }, outputState: state });
  const worker = startWorkerProcess(redis.url, { env: { RELEARN_TEST_CRASH_AT: "between-renames", RELEARN_TEST_CRASH_ONCE: join(dir, "crashed-once") } });
  workers.push(worker);
  await worker.ready;
  const target = parseRedisUrl(redis.url);
  await checkRedisReachable(target);
  const producer = new UpdateProducer(target);
  try {
    const job = await producer.enqueue({ config, data: { path: join(dir, "chunk3.csv") }, inputState: state, outputState: state });
    const result = await producer.waitFor(job.jobId, 240_000);
    assert.ok(worker.lines.some((l) => l.text.includes(job.jobId) && /will retry/.test(l.text)), "the first attempt died mid-commit");
    assert.equal(result.recovered, false, "the old state was put back: the retry must train, not claim the state");
    const manifest = await manifestOf(state);
    assert.equal(manifest.updatesDone, 2);
    assert.equal(manifest.queueJob, job.jobId);
  } finally {
    await producer.close();
  }
});

test("an update job whose input state does not exist fails at once, without retries", { timeout: 120_000 }, async () => {
  const dir = folders.track(await workflowFolder(10));
  const worker = startWorkerProcess(redis.url);
  workers.push(worker);
  await worker.ready;
  const producer = new UpdateProducer(parseRedisUrl(redis.url));
  try {
    const job = await producer.enqueue({ config, data: { path: join(dir, "chunk1.csv") }, inputState: join(dir, "nope"), outputState: join(dir, "out") });
    await assert.rejects(producer.waitFor(job.jobId, 60_000), /the input state folder .*nope does not exist; .* same --lineage/);
    const attempts = workers.flatMap((w) => w.lines).filter((l) => l.text.includes(job.jobId) && / started \(attempt/.test(l.text));
    assert.equal(attempts.length, 1, "one attempt only");
  } finally {
    await producer.close();
  }
});
