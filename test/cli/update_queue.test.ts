/**
 * `relearn update ... --queue URL`: the update is enqueued with the config, the command line's overrides and absolute paths;
 * a Redis that is not there, a bad URL, or queue-only flags without --queue are errors with exit code 1.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { isAbsolute, join, relative } from "node:path";
import { Queue } from "bullmq";
import { workflowFolder } from "../helpers/workflow_files.js";
import { parseRedisUrl, redisOptions } from "../../src/queue/connection.js";
import { QUEUE_NAME } from "../../src/queue/names.js";
import type { UpdateJobData } from "../../src/queue/jobs/update.js";
import { freePort, startRedisServer, type RedisServer } from "../queue/redis_server.js";
import { tempFolders } from "../queue/temp_folders.js";
import { killAll, startWorkerProcess } from "../queue/workers.js";

const folders = tempFolders();

const CLI = ["--import", "tsx", "src/cli/main.ts"];
const runCli = (args: string[]) => spawnSync(process.execPath, [...CLI, ...args], { encoding: "utf8", timeout: 120_000 });

let redis: RedisServer;
before(async () => {
  redis = await startRedisServer();
});
after(async () => {
  await redis.stop();
  await folders.removeAll();
});

test("update --queue enqueues the update (config and overrides, paths absolute) and prints the job id", async () => {
  const dir = folders.track(await workflowFolder(10));
  // Relative paths: the job must carry them absolute (a worker's working directory is another).
  const rel = (name: string) => relative(process.cwd(), join(dir, name));
  assert.ok(!isAbsolute(rel("chunk1.csv")));
  const run = runCli(["update", "--config", rel("relearn.json"), "--data", rel("chunk1.csv"), "--val", rel("test.csv"), "--output-state", rel("s"), "--epochs", "2", "--seed", "7", "--queue", redis.url]);
  assert.equal(run.status, 0, run.stderr);
  const jobId = run.stdout.trim();
  assert.match(run.stderr, new RegExp(`queued job ${jobId} \\(lineage ${join(dir, "s")}, update #1`));
  const queue = new Queue(QUEUE_NAME, { connection: redisOptions(parseRedisUrl(redis.url)) });
  try {
    const job = await queue.getJob(jobId);
    assert.ok(job, `job ${jobId} is in the queue`);
    assert.equal(job.name, "update");
    assert.equal(await job.getState(), "waiting");
    const data = job.data as UpdateJobData;
    assert.deepEqual(data.data, { path: join(dir, "chunk1.csv") });
    assert.deepEqual(data.val, { path: join(dir, "test.csv"), labelsSetting: "--val-labels" });
    assert.equal(data.outputState, join(dir, "s"));
    // The config file as given (the state records it) and the flags as overrides of this update only.
    assert.equal(data.config?.updater, "rd");
    assert.notEqual(data.config?.options.maxEpochs, 2);
    assert.deepEqual(data.overrides, { options: { maxEpochs: 2, seed: 7 } });
    assert.deepEqual(data.lineage, { name: join(dir, "s"), seq: 1 });
    assert.equal(job.opts.attempts, 3);
  } finally {
    await queue.close();
  }
});

test("update --queue without --config enqueues a job without one (the worker takes the input state's when it runs); without --input-state too it is refused", async () => {
  const dir = folders.track(await workflowFolder(10));
  // The input state need not exist yet: an earlier job of the lineage may write it.
  const run = runCli(["update", "--data", join(dir, "chunk2.csv"), "--input-state", join(dir, "s"), "--output-state", join(dir, "s"), "--epochs", "3", "--queue", redis.url]);
  assert.equal(run.status, 0, run.stderr);
  const queue = new Queue(QUEUE_NAME, { connection: redisOptions(parseRedisUrl(redis.url)) });
  try {
    const job = await queue.getJob(run.stdout.trim());
    assert.ok(job);
    const data = job.data as UpdateJobData;
    assert.equal(data.config, undefined);
    assert.deepEqual(data.overrides, { options: { maxEpochs: 3 } });
    assert.equal(data.inputState, join(dir, "s"));
  } finally {
    await queue.close();
  }
  const fresh = runCli(["update", "--data", join(dir, "chunk1.csv"), "--output-state", join(dir, "t"), "--queue", redis.url]);
  assert.equal(fresh.status, 1);
  assert.match(fresh.stderr, /give --config \(relearn init writes one\), or --input-state/);
});

test("update --queue: an unreachable Redis, a bad URL, --wait without --queue are errors (exit 1)", async () => {
  const dir = folders.track(await workflowFolder(10));
  const base = ["update", "--config", join(dir, "relearn.json"), "--data", join(dir, "chunk1.csv"), "--output-state", join(dir, "s")];
  const port = await freePort();
  const unreachable = runCli([...base, "--queue", `redis://127.0.0.1:${port}`]);
  assert.equal(unreachable.status, 1);
  assert.match(unreachable.stderr, new RegExp(`cannot reach Redis at redis://127.0.0.1:${port}/0`));
  // The message names the flag the user typed (--queue), not the worker's --redis (tester F-B): update and tune
  // (benchmark's is in test/queue/benchmark_queue.test.ts).
  const badUrl = runCli([...base, "--queue", "http://127.0.0.1:6379"]);
  assert.equal(badUrl.status, 1);
  assert.match(badUrl.stderr, /^relearn: --queue: "http:\/\/127\.0\.0\.1:6379" has the scheme http:; expected redis:\/\//);
  const notUrl = runCli([...base, "--queue", "127.0.0.1:6379"]);
  assert.equal(notUrl.status, 1);
  assert.match(notUrl.stderr, /^relearn: --queue: "127\.0\.0\.1:6379"/);
  const tune = runCli(["tune", "--config", join(dir, "relearn.json"), "--data", join(dir, "chunk1.csv"), "--val", join(dir, "chunk1.csv"), "--out", join(dir, "t"), "--queue", "http://127.0.0.1:6379"]);
  assert.equal(tune.status, 1);
  assert.match(tune.stderr, /^relearn: --queue: "http:\/\/127\.0\.0\.1:6379" has the scheme http:/);
  // An output state that cannot be a folder is refused before anything is enqueued (tester F-X).
  const fileOut = runCli(["update", "--config", join(dir, "relearn.json"), "--data", join(dir, "chunk1.csv"), "--output-state", join(dir, "chunk1.csv"), "--queue", redis.url]);
  assert.equal(fileOut.status, 1);
  assert.match(fileOut.stderr, /^relearn: --output-state .*chunk1\.csv: is a file; --output-state is a folder/);
  assert.doesNotMatch(fileOut.stderr, /queued job/);
  const waitAlone = runCli([...base, "--wait"]);
  assert.equal(waitAlone.status, 1);
  assert.match(waitAlone.stderr, /--lineage and --wait go with --queue/);
});

test("update --queue --wait: Ctrl-C stops only the waiting and says so, naming the job that keeps running (exit 130)", async () => {
  const dir = folders.track(await workflowFolder(10));
  // No worker on this Redis db: the job waits in the queue, so the signal surely comes while the command waits.
  const url = `${redis.url.replace(/\/\d*$/, "")}/3`;
  const child = spawn(process.execPath, [...CLI, "update", "--config", join(dir, "relearn.json"), "--data", join(dir, "chunk1.csv"), "--output-state", join(dir, "w"), "--queue", url, "--wait", "--json"], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  let stdout = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
    if (/queued job /.test(stderr) && child.signalCode === null && !child.killed) setTimeout(() => child.kill("SIGINT"), 500);
  });
  const status = await new Promise<number | null>((done) => child.on("close", (code) => done(code)));
  assert.equal(status, 130, stderr);
  const jobId = /queued job (\S+)/.exec(stderr)![1]!;
  assert.match(stderr, new RegExp(`SIGINT: stopped waiting; job ${jobId.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} stays queued \\(or running\\) for the workers and will write ${join(dir, "w")}`));
  // With --json, stdout still says which job it was (tester G, F20).
  assert.deepEqual((({ jobId: id, result, stoppedWaiting }) => ({ id, result, stoppedWaiting }))(JSON.parse(stdout) as { jobId: string; result: unknown; stoppedWaiting: string }), { id: jobId, result: null, stoppedWaiting: "SIGINT" });
  // No worker is connected to this db: the command said so before waiting (F-V).
  assert.match(stderr, /note: no relearn worker is connected to this Redis yet: the job waits in the queue until one starts \(relearn worker --redis /);
  const queue = new Queue(QUEUE_NAME, { connection: redisOptions(parseRedisUrl(url)) });
  try {
    assert.equal(await (await queue.getJob(jobId))?.getState(), "waiting", "the job is still queued");
  } finally {
    await queue.close();
  }
});

test("relearn job <id>: a queued update's state, then with --wait its summary once a worker ran it; an unknown id is an error", async () => {
  const dir = folders.track(await workflowFolder(10));
  const url = `${redis.url.replace(/\/\d*$/, "")}/4`; // a db no other test's worker serves
  const queued = runCli(["update", "--config", join(dir, "relearn.json"), "--data", join(dir, "chunk1.csv"), "--output-state", join(dir, "j"), "--epochs", "1", "--queue", url]);
  assert.equal(queued.status, 0, queued.stderr);
  const jobId = queued.stdout.trim();
  let run = runCli(["job", jobId, "--queue", url]);
  assert.equal(run.status, 0, run.stderr);
  assert.equal(run.stdout, `job ${jobId}: waiting; --wait waits for it\n`);
  run = runCli(["job", `${jobId}x`, "--queue", url]);
  assert.equal(run.status, 1);
  assert.match(run.stderr, new RegExp(`no job ${jobId}x at .*: check the id`));

  // A worker on another db of the same Redis does not serve this job: the note must still come (tester G, F14).
  const elsewhere = startWorkerProcess(`${redis.url.replace(/\/\d*$/, "")}/6`);
  await elsewhere.ready;
  const waiting = spawn(process.execPath, [...CLI, "job", jobId, "--queue", url, "--wait"], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  waiting.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  waiting.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((done) => waiting.on("close", (code) => done(code)));
  // Started before any worker: it says none is connected, then waits for the one started now.
  await new Promise((resolve) => setTimeout(resolve, 3000));
  const worker = startWorkerProcess(url);
  try {
    assert.equal(await exited, 0, stderr);
    assert.match(stderr, /note: no relearn worker is connected to this Redis yet/);
    assert.match(stdout, new RegExp(`^relearn update: rd on wasm, update 1 written to ${join(dir, "j")} in `));
    // Done now: without --wait it prints the same summary; --json the status and result.
    run = runCli(["job", jobId, "--queue", url, "--json"]);
    assert.equal(run.status, 0, run.stderr);
    const status = JSON.parse(run.stdout) as { jobId: string; state: string; result: { recovered: boolean; summary: { updatesDone: number } } };
    assert.deepEqual([status.jobId, status.state, status.result.recovered, status.result.summary.updatesDone], [jobId, "completed", false, 1]);
  } finally {
    await killAll([worker, elsewhere]);
  }
});
