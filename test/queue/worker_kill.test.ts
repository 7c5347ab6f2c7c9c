/**
 * A worker SIGKILLed mid-update (issue 15, part 5): the worker process and its job's process are both killed
 * while the update trains, as a lost machine would be. BullMQ's stalled-job check hands the job to the other
 * worker, which takes over the dead process's state lock, runs the update once more from the unchanged input,
 * and writes the same bytes as an update that was never interrupted (same seed). Nothing partial is left.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { QueueEvents } from "bullmq";
import { workflowFolder, workflowConfig } from "../helpers/workflow_files.js";
import { parseConfig } from "../../src/workflow/config.js";
import { updateFromConfig } from "../../src/workflow/update.js";
import { parseRedisUrl, redisOptions } from "../../src/queue/connection.js";
import { UpdateProducer } from "../../src/queue/enqueue.js";
import { QUEUE_NAME } from "../../src/queue/names.js";
import { startRedisServer, type RedisServer } from "./redis_server.js";
import { killAll, startWorkerProcess, type WorkerProcess } from "./workers.js";
import { tempFolders } from "./temp_folders.js";

const folders = tempFolders();

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

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Every file under `dir` (relative path -> bytes). */
async function files(dir: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    out.set(path.slice(dir.length + 1), await readFile(path));
  }
  return out;
}

/**
 * Runs `update` uninterrupted into `reference`, as job `jobId` (the state records the job that wrote it), and checks
 * `state` holds the same files, byte for byte.
 */
async function assertSameAsUninterrupted(update: Parameters<typeof updateFromConfig>[0], state: string, reference: string, jobId: string): Promise<void> {
  await updateFromConfig({ ...update, outputState: reference, queueJob: jobId });
  const [got, want] = [await files(state), await files(reference)];
  assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort());
  for (const [name, bytes] of want) assert.ok(got.get(name)!.equals(bytes), `${name} differs from the uninterrupted run's`);
}

test("a worker SIGKILLed mid-update: another worker retries the job, it finishes once, and the state equals an uninterrupted run's", { timeout: 180_000 }, async () => {
  const dir = folders.track(await workflowFolder(30));
  // Enough epochs that the kill lands in training, on a small MLP.
  const config = parseConfig(workflowConfig({ maxEpochs: 8, backend: "cpu", memorySize: 20 }));
  const target = parseRedisUrl(redis.url);
  // A short lock: a dead worker's job is moved back to wait within about 2 x 2 s.
  workers.push(startWorkerProcess(redis.url, { lockDurationMs: 2000 }), startWorkerProcess(redis.url, { lockDurationMs: 2000 }));
  await Promise.all(workers.map((w) => w.ready));

  const events = new QueueEvents(QUEUE_NAME, { connection: redisOptions(target) });
  await events.waitUntilReady();
  const producer = new UpdateProducer(target);
  try {
    const state = join(dir, "state");
    const update = { config, data: { path: join(dir, "chunk1.csv") }, outputState: state };
    const epochDone = new Promise<void>((resolve) => events.on("progress", ({ data }) => (typeof data === "object" && (data as { epoch?: number }).epoch! >= 1 ? resolve() : undefined)));
    const job = await producer.enqueue(update);

    const started = new RegExp(`job ${job.jobId} .* started .*process (\\d+)`);
    const victim = await Promise.race(workers.map(async (w) => ({ w, line: await w.waitForLine(started) })));
    await epochDone; // training is under way
    const jobProcess = Number(started.exec(victim.line)![1]);
    victim.w.kill("SIGKILL");
    process.kill(jobProcess, "SIGKILL");
    assert.equal((await victim.w.exited).signal, "SIGKILL");

    const result = await producer.waitFor(job.jobId, 120_000);
    assert.equal(result.recovered, false, "killed in training: the retry ran the update");
    assert.equal(result.recovered ? -1 : result.summary.updatesDone, 1);
    const survivor = workers.find((w) => w !== victim.w)!;
    const finished = survivor.lines.filter((l) => l.text.includes(`job ${job.jobId} `) && / finished /.test(l.text));
    assert.equal(finished.length, 1, "finished once, by the other worker");
    // The restart spends no attempt but is not a first start either: the log says so (tester F-U).
    const restarted = survivor.lines.filter((l) => l.text.includes(`job ${job.jobId} `) && / started /.test(l.text));
    assert.equal(restarted.length, 1, survivor.lines.map((l) => l.text).join("\n"));
    assert.match(restarted[0]!.text, /started \(attempt 1\/3, restarted after a stalled worker, process \d+\)/);
    // Every worker line starts with its time, ISO 8601 (tester F-V).
    for (const { text } of survivor.lines) assert.match(text, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z relearn worker: /, text);
    assert.equal(victim.w.lines.filter((l) => / finished /.test(l.text)).length, 0);

    // Nothing partial: the state folder alone (no temporary folder, no lock left), and it checks.
    assert.deepEqual((await readdir(dir)).filter((name) => name.startsWith("state")), ["state"]);

    await assertSameAsUninterrupted(update, state, join(dir, "reference"), job.jobId);
  } finally {
    await producer.close();
    await events.close();
  }
});

test("the job's process alone SIGKILLed mid-update: the worker survives, the attempt is retried and takes over the dead process's state lock", { timeout: 180_000 }, async () => {
  const dir = folders.track(await workflowFolder(30));
  const config = parseConfig(workflowConfig({ maxEpochs: 8, backend: "cpu", memorySize: 20 }));
  const target = parseRedisUrl(redis.url);
  const alive = workers.filter((w) => w.child.exitCode === null && w.child.signalCode === null);
  assert.ok(alive.length >= 1, "a worker from the first test is still running");

  const events = new QueueEvents(QUEUE_NAME, { connection: redisOptions(target) });
  await events.waitUntilReady();
  const producer = new UpdateProducer(target);
  try {
    const state = join(dir, "state");
    const update = { config, data: { path: join(dir, "chunk1.csv") }, outputState: state };
    const epochDone = new Promise<void>((resolve) => events.on("progress", ({ data }) => (typeof data === "object" && (data as { epoch?: number }).epoch! >= 1 ? resolve() : undefined)));
    const job = await producer.enqueue(update);
    const started = new RegExp(`job ${job.jobId} .* started .*process (\\d+)`);
    const line = await Promise.race(alive.map((w) => w.waitForLine(started)));
    await epochDone;
    const jobProcess = Number(started.exec(line)![1]);
    process.kill(jobProcess, "SIGKILL");
    while (isAlive(jobProcess)) await sleep(20);
    assert.ok(existsSync(`${state}.lock`), "the killed process left its lock behind, as a crash does"); // the retry starts 2 s later

    const result = await producer.waitFor(job.jobId, 120_000);
    assert.equal(result.recovered, false);
    const log = alive.flatMap((w) => w.lines.map((l) => l.text)).filter((text) => text.includes(`job ${job.jobId} `));
    assert.ok(log.some((text) => /failed .*attempt 1\/3, will retry.*SIGKILL/.test(text)), log.join("\n"));
    assert.equal(log.filter((text) => / finished /.test(text)).length, 1, log.join("\n"));
    assert.deepEqual((await readdir(dir)).filter((name) => name.startsWith("state")), ["state"]);

    await assertSameAsUninterrupted(update, state, join(dir, "reference"), job.jobId);
  } finally {
    await producer.close();
    await events.close();
  }
});

test("a worker on another host SIGKILLed mid-update: the retry here waits for its state lock's lease to run out, takes it over and finishes", { timeout: 180_000 }, async () => {
  const dir = folders.track(await workflowFolder(30));
  const config = parseConfig(workflowConfig({ maxEpochs: 8, backend: "cpu", memorySize: 20 }));
  const target = parseRedisUrl(redis.url);
  // A lease longer than the job's retries (2 s, then 4 s): without waiting for it, every attempt would be refused.
  const lease = { RELEARN_LOCK_LEASE_MS: "30000" };
  await killAll(workers.splice(0)); // the earlier tests' workers would take the job
  const otherHost = `--import ${pathToFileURL(join(process.cwd(), "test/helpers/other_host.mjs")).href}`;
  const remote = startWorkerProcess(redis.url, { lockDurationMs: 2000, env: { ...lease, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ""} ${otherHost}` } });
  workers.push(remote);
  await remote.ready;

  const events = new QueueEvents(QUEUE_NAME, { connection: redisOptions(target) });
  await events.waitUntilReady();
  const producer = new UpdateProducer(target);
  try {
    const state = join(dir, "state");
    const epochDone = new Promise<void>((resolve) => events.on("progress", ({ data }) => (typeof data === "object" && (data as { epoch?: number }).epoch! >= 1 ? resolve() : undefined)));
    const job = await producer.enqueue({ config, data: { path: join(dir, "chunk1.csv") }, outputState: state });
    const line = await remote.waitForLine(new RegExp(`job ${job.jobId} .* started .*process (\\d+)`));
    await epochDone;
    assert.match(await readFile(`${state}.lock`, "utf8"), /"hostname":"elsewhere"/, "the lock names the other host");
    remote.kill("SIGKILL");
    process.kill(Number(/process (\d+)/.exec(line)![1]), "SIGKILL");
    await remote.exited;

    const local = startWorkerProcess(redis.url, { lockDurationMs: 2000, env: lease });
    workers.push(local);
    const result = await producer.waitFor(job.jobId, 120_000);
    assert.equal(result.recovered ? -1 : result.summary.updatesDone, 1);
    assert.ok(local.lines.some((l) => /on host elsewhere .*waiting \d+ s/.test(l.text)), "the retry waited for the lease");
    assert.deepEqual((await readdir(dir)).filter((name) => name.startsWith("state")), ["state"], "nothing partial, no lock left");
  } finally {
    await producer.close();
    await events.close();
  }
});
