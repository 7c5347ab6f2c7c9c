/**
 * Tuning through the queue: the trials of a random search run as "tune-trial" jobs on 2 real worker processes
 * (a real redis-server started by the test), and give exactly the local run's settings, metrics and choice.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { workflowConfig, workflowFolder } from "../helpers/workflow_files.js";
import { useBackend } from "../helpers/backend.js";
import { parseConfig } from "../../src/workflow/config.js";
import { parseRedisUrl, redisOptions } from "../../src/queue/connection.js";
import { Queue } from "bullmq";
import { QUEUE_NAME } from "../../src/queue/names.js";
import { queueTrialExecutor } from "../../src/queue/trial_executor.js";
import { runTuning } from "../../src/tuning/tune.js";
import { startRedisServer, type RedisServer } from "../queue/redis_server.js";
import { killAll, startWorkerProcess, type WorkerProcess } from "../queue/workers.js";
import { KEPT_MARKER } from "../../src/tuning/work_dir.js";

let redis: RedisServer;
const workers: WorkerProcess[] = [];
before(async () => {
  await useBackend("wasm");
  redis = await startRedisServer();
});
after(async () => {
  await killAll(workers);
  await redis.stop();
});

test("a random search over 2 queue workers gives the local run's trials, metrics and choice exactly", { timeout: 240_000 }, async () => {
  const dir = await workflowFolder(12);
  try {
    const config = parseConfig({ ...workflowConfig({ maxEpochs: 1 }), tuning: { space: { "optimizer.learningRate": { logUniform: [1e-3, 1e-1] } }, trials: 4, seed: 2 } });
    const request = { config, data: { path: join(dir, "chunk1.csv") }, val: { path: join(dir, "test.csv") } };
    const local = await runTuning({ ...request, workDir: await mkdtemp(join(dir, "local-")) });

    workers.push(startWorkerProcess(redis.url), startWorkerProcess(redis.url));
    await Promise.all(workers.map((w) => w.ready));
    const executor = queueTrialExecutor(parseRedisUrl(redis.url), { concurrency: 2 });
    let queued;
    try {
      queued = await runTuning({ ...request, workDir: await mkdtemp(join(dir, "queued-")), executor });
    } finally {
      await executor.close();
    }
    const view = (r: typeof local) => r.outcomes.map((o) => [o.trialId, o.params, o.value, o.status]).sort((a, b) => (a[0] as number) - (b[0] as number));
    assert.deepEqual(view(queued), view(local));
    assert.equal(queued.best.trialId, local.best.trialId);
    assert.equal(queued.best.summary!.updatesDone, 1);
    // Both workers ran trials (2 at a time), each trial once.
    const started = workers.map((w) => w.lines.filter((l) => /tune-trial started \(attempt 1\/3/.test(l.text)).length);
    assert.ok(started.every((n) => n >= 1), `trials per worker: ${started}`);
    assert.equal(started.reduce((a, b) => a + b, 0), 4);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("Ctrl-C on tune --queue: trials not started leave the queue, the running one finishes in its folder, and the message says so", { timeout: 240_000 }, async () => {
  const dir = await workflowFolder(40);
  await killAll(workers.splice(0)); // the first test's workers would take the waiting trial
  const worker = startWorkerProcess(redis.url); // one job at a time: with 2 trials in the queue, one waits
  workers.push(worker);
  try {
    const config = { ...workflowConfig(), tuning: { space: { "optimizer.learningRate": { logUniform: [1e-3, 1e-1] } }, trials: 4, seed: 2 } };
    await writeFile(join(dir, "tune.json"), JSON.stringify(config));
    await worker.ready;
    const out = join(dir, "out");
    const child = spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", "tune", "--config", join(dir, "tune.json"), "--data", join(dir, "chunk1.csv"),
      "--val", join(dir, "test.csv"), "--epochs", "60", "--out", out, "--queue", redis.url, "--queue-concurrency", "2"], { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => void (stderr += chunk.toString()));
    const exited = new Promise<number | null>((done) => child.on("exit", (code) => done(code)));
    const started = await worker.waitForLine(/tune-trial started/);
    const jobId = /job (\S+) tune-trial/.exec(started)![1]!;
    child.kill("SIGINT");
    assert.equal(await exited, 130, stderr);
    assert.doesNotMatch(stderr, /unchanged/);
    const said = /interrupted \(SIGINT\): the search stopped, 1 queued trial\(s\) not started were removed from the queue; nothing written to .*out\. 1 trial\(s\) already running keep running on the workers and write their states to (\S+): remove that folder once they finish\./.exec(stderr);
    assert.ok(said, stderr);
    const trials = said[1]!;
    assert.ok(existsSync(trials), "the running trial's folder is left for it");
    assert.ok(existsSync(join(trials, KEPT_MARKER)), "marked, so the next tune into --out leaves it too");
    // The running trial finishes once, in its folder (not "lost the lock" and retried); no other trial starts.
    await worker.waitForLine(new RegExp(`job ${jobId} tune-trial finished`), 120_000);
    assert.deepEqual(worker.lines.filter((l) => / failed /.test(l.text)).map((l) => l.text), []);
    assert.equal(worker.lines.filter((l) => /tune-trial started/.test(l.text)).length, 1);
    assert.ok((await readdir(trials)).some((name) => name.startsWith("trial-")), "its state is there");
    const queue = new Queue(QUEUE_NAME, { connection: redisOptions(parseRedisUrl(redis.url)) });
    try {
      assert.equal(await queue.getJobCountByTypes("waiting", "delayed", "prioritized", "active"), 0);
    } finally {
      await queue.close();
    }
  } finally {
    worker.kill("SIGKILL");
    await worker.exited;
    await rm(dir, { recursive: true, force: true });
  }
});
