/**
 * Update jobs without a config, through the public entry (src/queue/index.ts, "relearn/queue"): a job that leaves
 * the config out takes the one its input state records when it runs, so it may be enqueued before the job that
 * writes that state; its overrides apply to it only. A job whose config names another updater than its state's
 * fails without retries, and a job with neither a config nor an input state is refused.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { workflowConfig, workflowFolder } from "../helpers/workflow_files.js";
import { parseConfig } from "../../src/workflow/config.js";
import { checkRedisReachable, parseRedisUrl, startWorker, UpdateProducer, type RelearnWorker } from "../../src/queue/index.js";
import { startRedisServer, type RedisServer } from "./redis_server.js";
import { tempFolders } from "./temp_folders.js";

const folders = tempFolders();

let redis: RedisServer;
let worker: RelearnWorker | undefined;
before(async () => {
  redis = await startRedisServer();
});
after(async () => {
  await worker?.close(true);
  await redis.stop();
  await folders.removeAll();
});

test("an update job without a config continues with the config its input state records (written by the job before it)", { timeout: 300_000 }, async () => {
  const dir = folders.track(await workflowFolder(10));
  const config = parseConfig({ ...workflowConfig({ maxEpochs: 1, consolidationEpochs: 1, backend: "cpu", memorySize: 20 }), updater: "rd-budget" });
  const target = parseRedisUrl(redis.url);
  await checkRedisReachable(target);
  const lines: string[] = [];
  worker = startWorker({ redis: target, log: (line) => lines.push(line) });
  const producer = new UpdateProducer(target);
  const state = join(dir, "state");
  try {
    // Both at once: when the second is enqueued, the state it continues does not exist yet.
    const first = await producer.enqueue({ config, data: { path: join(dir, "chunk1.csv") }, outputState: state }, { lineage: "a" });
    const second = await producer.enqueue(
      { data: { path: join(dir, "chunk2.csv") }, inputState: state, outputState: state, overrides: { options: { maxEpochs: 2 } } },
      { lineage: "a" },
    );
    await producer.waitFor(first.jobId, 240_000);
    const result = await producer.waitFor(second.jobId, 240_000);
    assert.equal(result.recovered, false);
    if (!result.recovered) {
      assert.equal(result.summary.updater, "rd-budget", "the recorded registry name, not the kind");
      assert.equal(result.summary.phases[0]?.epochsRun, 2, "the job's override applied");
    }
    assert.equal((await producer.status(second.jobId))?.state, "completed");
    const manifest = JSON.parse(await readFile(join(state, "manifest.json"), "utf8")) as { data: { updatesDone: number; options: { maxEpochs: number }; config: { updater: string; options: { maxEpochs: number } } } };
    assert.equal(manifest.data.updatesDone, 2);
    assert.equal(manifest.data.options.maxEpochs, 2);
    assert.deepEqual([manifest.data.config.updater, manifest.data.config.options.maxEpochs], ["rd-budget", 1], "the override is not recorded");

    // A config naming "rd" for this rd-budget state: an OptionsError, so no retry.
    const rd = parseConfig({ ...config, updater: "rd" });
    const mismatch = await producer.enqueue({ config: rd, data: { path: join(dir, "chunk3.csv") }, inputState: state, outputState: state }, { lineage: "a" });
    await assert.rejects(producer.waitFor(mismatch.jobId, 240_000), /the config names updater "rd", but the input state .* was made by "rd-budget"/);
    const failed = await producer.status(mismatch.jobId);
    assert.equal(failed?.state, "failed");
    assert.equal(lines.filter((line) => line.includes(mismatch.jobId) && / started \(attempt/.test(line)).length, 1, `one attempt only: ${lines.join("\n")}`);

    // Neither a config nor an input state: nothing to run with.
    const fresh = await producer.enqueue({ data: { path: join(dir, "chunk1.csv") }, outputState: join(dir, "fresh") }, { lineage: "b" });
    await assert.rejects(producer.waitFor(fresh.jobId, 240_000), /a fresh start \(no input state\) needs --config/);
    assert.equal(await producer.status("no-such-job"), undefined);
  } finally {
    await producer.close();
  }
});

test("the default lineage is the output state's real path: a symlink to a state folder and the folder are one lineage", { timeout: 60_000 }, async () => {
  const { mkdir, symlink } = await import("node:fs/promises");
  const dir = folders.track(await workflowFolder(10));
  await mkdir(join(dir, "v3"));
  await symlink(join(dir, "v3"), join(dir, "current"));
  const producer = new UpdateProducer(parseRedisUrl(redis.url));
  try {
    const viaLink = await producer.enqueue({ config: parseConfig(workflowConfig()), data: { path: join(dir, "chunk1.csv") }, outputState: join(dir, "current") });
    const direct = await producer.enqueue({ config: parseConfig(workflowConfig()), data: { path: join(dir, "chunk2.csv") }, outputState: join(dir, "v3") });
    assert.equal(viaLink.lineage, direct.lineage);
    assert.deepEqual([viaLink.seq, direct.seq], [1, 2], "ordered one after the other");
    await producer.waitFor(direct.jobId, 50_000).catch(() => {}); // let the worker finish them before the server stops
  } finally {
    await producer.close();
  }
});
