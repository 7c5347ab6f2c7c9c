/**
 * Stopping a worker (`relearn worker`): SIGTERM once lets the running job finish, then the worker exits 0;
 * twice stops the job at once: nothing is written, no lock is left, and the job is back in the queue without
 * having spent an attempt, for another worker.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { Queue } from "bullmq";
import { workflowFolder, workflowConfig } from "../helpers/workflow_files.js";
import { parseConfig } from "../../src/workflow/config.js";
import { parseRedisUrl, redisOptions } from "../../src/queue/connection.js";
import { UpdateProducer } from "../../src/queue/enqueue.js";
import { QUEUE_NAME } from "../../src/queue/names.js";
import { startRedisServer, type RedisServer } from "./redis_server.js";
import { killAll, startWorkerProcess, type WorkerProcess } from "./workers.js";
import { tempFolders } from "./temp_folders.js";

const folders = tempFolders();
let redis: RedisServer;
let producer: UpdateProducer;
let queue: Queue;
const workers: WorkerProcess[] = [];
before(async () => {
  redis = await startRedisServer();
  producer = new UpdateProducer(parseRedisUrl(redis.url));
  queue = new Queue(QUEUE_NAME, { connection: redisOptions(parseRedisUrl(redis.url)) });
});
after(async () => {
  await killAll(workers);
  await producer.close();
  await queue.close();
  await redis.stop();
  await folders.removeAll();
});

test("SIGTERM once: the running job finishes, then the worker exits 0", { timeout: 120_000 }, async () => {
  const dir = folders.track(await workflowFolder(10));
  const config = parseConfig(workflowConfig({ maxEpochs: 4, backend: "cpu", memorySize: 20 }));
  const worker = startWorkerProcess(redis.url);
  workers.push(worker);
  await worker.ready;
  const job = await producer.enqueue({ config, data: { path: join(dir, "chunk1.csv") }, outputState: join(dir, "state") });
  await worker.waitForLine(/ started /);
  worker.kill("SIGTERM");
  assert.deepEqual(await worker.exited, { code: 0, signal: null });
  assert.equal(await (await queue.getJob(job.jobId))!.getState(), "completed");
  assert.ok(worker.lines.some((l) => / finished /.test(l.text)));
});

test("SIGTERM twice: the running job stops, writes nothing, and goes back to the queue without spending an attempt", { timeout: 120_000 }, async () => {
  const dir = folders.track(await workflowFolder(10));
  // Long enough that the second signal lands in training.
  const config = parseConfig(workflowConfig({ maxEpochs: 500, backend: "cpu", memorySize: 20 }));
  const worker = startWorkerProcess(redis.url);
  workers.push(worker);
  await worker.ready;
  const job = await producer.enqueue({ config, data: { path: join(dir, "chunk1.csv") }, outputState: join(dir, "state") });
  await worker.waitForLine(/ started /);
  worker.kill("SIGTERM");
  await worker.waitForLine(/taking no new job/);
  worker.kill("SIGTERM");
  assert.deepEqual(await worker.exited, { code: 143, signal: null });
  assert.ok(worker.lines.some((l) => /back in the queue/.test(l.text)), worker.lines.map((l) => l.text).join("\n"));
  const queued = (await queue.getJob(job.jobId))!;
  assert.equal(await queued.getState(), "waiting");
  assert.equal(queued.attemptsMade, 0);
  assert.deepEqual((await readdir(dir)).filter((name) => name.startsWith("state")), [], "no state, no lock, no temporary folder");
});
