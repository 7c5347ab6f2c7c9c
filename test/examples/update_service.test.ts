/**
 * examples/update-service runs as its README says: a real Redis, one `relearn worker`, the service; chunks POSTed
 * for a lineage become updates of its state, in order; predictions come from the newest state.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { cp, readFile } from "node:fs/promises";
import { join } from "node:path";
import { workflowFolder } from "../helpers/workflow_files.js";
import { writeConfig } from "../../src/workflow/config.js";
import { workflowConfig } from "../helpers/workflow_files.js";
import { startRedisServer, type RedisServer } from "../queue/redis_server.js";
import { killAll, startWorkerProcess, type WorkerProcess } from "../queue/workers.js";
import { tempFolders } from "../queue/temp_folders.js";

const folders = tempFolders();

let redis: RedisServer;
const workers: WorkerProcess[] = [];
const services: ChildProcess[] = [];
before(async () => {
  redis = await startRedisServer();
});
after(async () => {
  for (const service of services) service.kill("SIGTERM");
  await killAll(workers);
  await redis.stop();
  await folders.removeAll();
});

async function startService(args: string[]): Promise<string> {
  const service = spawn(process.execPath, ["--import", "tsx", "examples/update-service/server.ts", ...args], { stdio: ["ignore", "pipe", "inherit"] });
  services.push(service);
  return new Promise((resolve, reject) => {
    let out = "";
    service.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const url = /update service on (http:\/\/\S+)/.exec(out);
      if (url) resolve(url[1]!);
    });
    service.once("exit", (code) => reject(new Error(`the service exited (${code}): ${out}`)));
  });
}

async function post(url: string, body: string, type: string): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(url, { method: "POST", body, headers: { "content-type": type } });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

test("the update service: chunks become in-order updates of the lineage's state; predictions from the newest state", { timeout: 240_000 }, async () => {
  const dir = folders.track(await workflowFolder(10));
  await writeConfig(join(dir, "service.json"), workflowConfig({ maxEpochs: 1, backend: "cpu", memorySize: 20 }));
  workers.push(startWorkerProcess(redis.url));
  const [url] = await Promise.all([
    startService(["--redis", redis.url, "--config", join(dir, "service.json"), "--root", join(dir, "service-data"), "--port", "0"]),
    workers[0]!.ready,
  ]);

  // Before any chunk there is nothing to predict with.
  const early = await post(`${url}/lineages/acme/predict`, await readFile(join(dir, "test.csv"), "utf8"), "text/csv");
  assert.equal(early.status, 404);

  // Two chunks sent back to back (CSV, then JSON rows), without waiting: applied in the order they came.
  const first = await post(`${url}/lineages/acme/chunks`, await readFile(join(dir, "chunk1.csv"), "utf8"), "text/csv");
  const rows = (await readFile(join(dir, "chunk2.csv"), "utf8")).trim().split("\n").slice(1).map((line) => line.split(",").map(Number));
  const second = await post(`${url}/lineages/acme/chunks?wait=1`, JSON.stringify({ rows }), "application/json");
  assert.equal(first.status, 202, JSON.stringify(first.json));
  assert.equal(second.status, 200, JSON.stringify(second.json));
  assert.deepEqual([first.json["seq"], second.json["seq"]], [1, 2]);
  const result = second.json["result"] as { recovered: boolean; summary: { updatesDone: number; data: { items: number } } };
  assert.equal(result.summary.updatesDone, 2, "the second chunk was applied on top of the first");
  assert.equal(result.summary.data.items, rows.length);
  const status = (await (await fetch(`${url}/jobs/${String(first.json["jobId"])}`)).json()) as { state: string };
  assert.equal(status.state, "completed");

  const test = (await readFile(join(dir, "test.csv"), "utf8")).trim().split("\n").slice(1).map((line) => line.split(",").map(Number).slice(0, -1));
  const predicted = await post(`${url}/lineages/acme/predict`, JSON.stringify({ rows: test }), "application/json");
  assert.equal(predicted.status, 200, JSON.stringify(predicted.json));
  const classes = predicted.json["classes"] as number[];
  const probabilities = predicted.json["probabilities"] as number[][];
  assert.equal(classes.length, test.length);
  assert.ok(classes.every((c) => Number.isInteger(c) && c >= 0 && c < 6));
  assert.ok(probabilities.every((p) => Math.abs(p.reduce((a, b) => a + b, 0) - 1) < 1e-4));
  // A CSV body whose line 1 is whole numbers (not the lineage's column names f0..f7) is a row: two rows, two answers.
  const ints = await post(`${url}/lineages/acme/predict`, "1,2,3,4,5,6,7,8\n2,3,4,5,6,7,8,9\n", "text/csv");
  assert.equal((ints.json["classes"] as number[]).length, 2, JSON.stringify(ints.json));
  // JSON rows whose first row is whole numbers: a row too.
  const jsonInts = await post(`${url}/lineages/acme/predict`, JSON.stringify({ rows: [[0, 1, 2, 3, 4, 5, 6, 7], [1, 2, 3, 4, 5, 6, 7, 8]] }), "application/json");
  assert.equal((jsonInts.json["classes"] as number[]).length, 2, JSON.stringify(jsonInts.json));

  const bad = await post(`${url}/lineages/acme/chunks`, JSON.stringify({ rows: [[1, 2], [3]] }), "application/json");
  assert.equal(bad.status, 400);
  const badName = await post(`${url}/lineages/${encodeURIComponent("../x")}/chunks`, "a,b\n", "text/csv");
  assert.equal(badName.status, 400);
});

/** Runs test/helpers/commit_loop.ts: `count` commits over `target`, of `a`'s and `b`'s files in turn. */
function commitLoop(target: string, a: string, b: string, count: number): Promise<void> {
  const writer = spawn(process.execPath, ["--import", "tsx", "test/helpers/commit_loop.ts", target, a, b, String(count)], { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  writer.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  writer.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  return new Promise((resolve, reject) => writer.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`commit loop exited ${code}: ${output}`)))));
}

test("predictions while the lineage's state is committed over and over: every answer is 200, from the old or the new state (F-N)", { timeout: 240_000 }, async () => {
  const dir = folders.track(await workflowFolder(10));
  await writeConfig(join(dir, "service.json"), workflowConfig({ maxEpochs: 1, backend: "cpu", memorySize: 20 }));
  if (workers.length === 0) workers.push(startWorkerProcess(redis.url));
  const root = join(dir, "service-data");
  const [url] = await Promise.all([startService(["--redis", redis.url, "--config", join(dir, "service.json"), "--root", root, "--port", "0"]), workers[0]!.ready]);
  const live = join(root, "busy", "state");
  const [a, b] = [join(dir, "a"), join(dir, "b")];
  for (const [chunk, copy] of [["chunk1.csv", a], ["chunk2.csv", b]] as const) {
    const done = await post(`${url}/lineages/busy/chunks?wait=1`, await readFile(join(dir, chunk), "utf8"), "text/csv");
    assert.equal(done.status, 200, JSON.stringify(done.json));
    await cp(live, copy, { recursive: true });
  }
  const rows = JSON.stringify({ rows: (await readFile(join(dir, "test.csv"), "utf8")).trim().split("\n").slice(1).map((line) => line.split(",").map(Number).slice(0, -1)) });
  const predict = () => post(`${url}/lineages/busy/predict`, rows, "application/json");
  const fromB = await predict();
  await commitLoop(live, a, b, 1);
  const fromA = await predict();
  assert.equal(fromA.status, 200, JSON.stringify(fromA.json));
  assert.notDeepEqual(fromA.json["probabilities"], fromB.json["probabilities"], "the two states predict differently");
  const expected = [JSON.stringify(fromA.json), JSON.stringify(fromB.json)];

  let running = true;
  const writer = commitLoop(live, a, b, 120).finally(() => (running = false));
  const answers = new Map<string, number>();
  let requests = 0;
  while (running) {
    const { status, json } = await predict();
    requests++;
    const key = status === 200 && expected.includes(JSON.stringify(json)) ? "200 from one of the two states" : `${status} ${JSON.stringify(json).slice(0, 300)}`;
    answers.set(key, (answers.get(key) ?? 0) + 1);
  }
  await writer;
  assert.ok(requests >= 5, `only ${requests} requests overlapped the commits`);
  assert.deepEqual([...answers.keys()], ["200 from one of the two states"], JSON.stringify(Object.fromEntries(answers)));
});
