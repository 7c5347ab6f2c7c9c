/**
 * Per-lineage order (issue 15, parts 4 and 5): 20 update jobs for 4 lineages, enqueued all at once, over 2
 * worker processes. Each lineage is one state folder updated in place, so two of its updates at once would
 * collide on the state's lock (an attempt fails) or lose an update (both start from the same state), and an
 * update out of order shows in the order the state keeps its validation sets. Checked: every job completed on its
 * first attempt, each state has exactly its 5 updates in enqueue order, and jobs of different lineages did run
 * at the same time.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { workflowFolder, workflowConfig } from "../helpers/workflow_files.js";
import { parseConfig } from "../../src/workflow/config.js";
import { parseRedisUrl } from "../../src/queue/connection.js";
import { UpdateProducer, type EnqueuedUpdate } from "../../src/queue/enqueue.js";
import { startRedisServer, type RedisServer } from "./redis_server.js";
import { killAll, startWorkerProcess, type WorkerProcess } from "./workers.js";
import { tempFolders } from "./temp_folders.js";

const folders = tempFolders();

const LINEAGES = 4;
const UPDATES = 5;

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

test("20 update jobs for 4 lineages over 2 workers: each lineage's updates run one at a time, in enqueue order, none lost", { timeout: 360_000 }, async () => {
  const dir = folders.track(await workflowFolder(10));
  const config = parseConfig(workflowConfig({ maxEpochs: 1, backend: "cpu", memorySize: 20 }));
  // A validation file per update, named after it: the state lists its validation sets in the order its updates ran.
  // Each without one of test.csv's rows, so no two are identical (an identical set is kept once, not listed again).
  const testLines = (await readFile(join(dir, "test.csv"), "utf8")).trimEnd().split("\n");
  for (let l = 1; l <= LINEAGES; l++) {
    for (let k = 1; k <= UPDATES; k++) {
      const dropped = (l - 1) * UPDATES + k; // a data row (line 0 is the header)
      await writeFile(join(dir, `val-L${l}-${k}.csv`), `${testLines.filter((_, i) => i !== dropped).join("\n")}\n`);
    }
  }
  workers.push(startWorkerProcess(redis.url), startWorkerProcess(redis.url));
  await Promise.all(workers.map((w) => w.ready));

  const producer = new UpdateProducer(parseRedisUrl(redis.url));
  try {
    // All 20 at once, lineages interleaved: seq (the lineage's enqueue order) comes from Redis, not from this loop.
    const jobs: { lineage: number; k: number; queued: Promise<EnqueuedUpdate> }[] = [];
    for (let k = 1; k <= UPDATES; k++) {
      for (let l = 1; l <= LINEAGES; l++) {
        const state = join(dir, `state-L${l}`);
        jobs.push({
          lineage: l,
          k,
          queued: producer.enqueue({
            config,
            data: { path: join(dir, `chunk${((k - 1) % 3) + 1}.csv`) },
            val: { path: join(dir, `val-L${l}-${k}.csv`) },
            ...(k === 1 ? {} : { inputState: state }),
            outputState: state,
          }, { lineage: `L${l}` }),
        });
      }
    }
    const queued = await Promise.all(jobs.map(async (j) => ({ ...j, job: await j.queued })));
    await Promise.all(queued.map((j) => producer.waitFor(j.job.jobId, 300_000)));

    for (let l = 1; l <= LINEAGES; l++) {
      const manifest = JSON.parse(await readFile(join(dir, `state-L${l}`, "manifest.json"), "utf8")) as {
        data: { updatesDone: number; validation: { source: string; update: number }[] };
      };
      const bySeq = queued.filter((j) => j.lineage === l).sort((a, b) => a.job.seq - b.job.seq);
      assert.deepEqual(bySeq.map((j) => j.job.seq), [1, 2, 3, 4, 5]);
      assert.equal(manifest.data.updatesDone, UPDATES, `lineage L${l}: updates in its state`);
      assert.deepEqual(
        manifest.data.validation.map((v) => [v.update, v.source]),
        bySeq.map((j, i) => [i + 1, join(dir, `val-L${l}-${j.k}.csv`)]),
        `lineage L${l}: updates applied in enqueue order`,
      );
    }
  } finally {
    await producer.close();
  }

  const events = workers
    .flatMap((w) => w.lines)
    .filter((l) => / (started|finished|failed) /.test(l.text))
    .sort((a, b) => a.at - b.at);
  assert.equal(events.filter((e) => / failed /.test(e.text)).length, 0, `no attempt failed:\n${events.map((e) => e.text).join("\n")}`);
  assert.equal(events.filter((e) => / started /.test(e.text)).length, LINEAGES * UPDATES, "each job started once");
  let running = 0;
  let most = 0;
  for (const e of events) {
    running += / started /.test(e.text) ? 1 : -1;
    most = Math.max(most, running);
  }
  assert.equal(most, 2, "two jobs (of different lineages) ran at the same time");
});
