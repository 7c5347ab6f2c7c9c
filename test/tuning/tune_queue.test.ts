/**
 * Tuning through the queue: the trials of a random search run as "tune-trial" jobs on 2 real worker processes
 * (a real redis-server started by the test), and give exactly the local run's settings, metrics and choice.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import { workflowConfig, workflowFolder } from "../helpers/workflow_files.js";
import { useBackend } from "../helpers/backend.js";
import { parseConfig } from "../../src/workflow/config.js";
import { parseRedisUrl } from "../../src/queue/connection.js";
import { queueTrialExecutor } from "../../src/queue/trial_executor.js";
import { runTuning } from "../../src/tuning/tune.js";
import { startRedisServer, type RedisServer } from "../queue/redis_server.js";
import { killAll, startWorkerProcess, type WorkerProcess } from "../queue/workers.js";

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
