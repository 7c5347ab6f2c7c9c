import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { chartSpecs } from "../../src/reporting/charts.js";
import { metricsLines } from "../../src/reporting/files.js";
import { summarizeResults } from "../../src/reporting/summary.js";
import { fakeResults } from "./fake_results.js";
import { workflowFolder } from "../helpers/workflow_files.js";

// One convention (docs/design.md): updates are numbered from 1 wherever a person or a
// log line names them: the update summary, inspect, the state's logs, charts and a
// benchmark's metrics.jsonl. "update 1" is the first update everywhere.

function runCli(args: string[]) {
  const run = spawnSync(process.execPath, ["--import", "tsx", "src/cli/main.ts", ...args], { encoding: "utf8", timeout: 120_000 });
  assert.equal(run.status, 0, run.stderr);
  return run.stdout;
}

test("the update summary, inspect (text and JSON) and the state's logs all call the first two updates 1 and 2", async () => {
  const dir = await workflowFolder();
  try {
    const config = join(dir, "relearn.json");
    const update = (chunk: number, extra: string[]) =>
      runCli(["update", "--config", config, "--data", join(dir, `chunk${chunk}.csv`), "--epochs", "1", ...extra]);
    assert.match(update(1, ["--output-state", join(dir, "v1")]), /update 1 written to /);
    assert.match(update(2, ["--input-state", join(dir, "v1"), "--output-state", join(dir, "v2")]), /update 2 written to /);

    const text = runCli(["inspect", join(dir, "v2")]);
    const named = [...text.matchAll(/^ {2}update (\d+) (\S+)/gm)].map((m) => `${m[1]} ${m[2]}`);
    assert.deepEqual(named, ["1 expert", "1 consolidation", "2 expert", "2 consolidation"], text);

    const json = JSON.parse(runCli(["inspect", join(dir, "v2"), "--json"])) as { updatesDone: number; metricsHistory: { update: number }[] };
    assert.equal(json.updatesDone, 2);
    assert.deepEqual([...new Set(json.metricsHistory.map((r) => r.update))], [1, 2]);

    const jsonl = (await readFile(join(dir, "v2", "logs", "metrics.jsonl"), "utf8")).trim().split("\n").map((l) => JSON.parse(l) as { update: number });
    assert.deepEqual([...new Set(jsonl.map((line) => line.update))], [1, 2]);
    const csv = (await readFile(join(dir, "v2", "logs", "metrics.csv"), "utf8")).trim().split("\n").slice(1);
    assert.deepEqual([...new Set(csv.map((line) => line.split(",")[0]))], ["1", "2"]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("charts and a benchmark's metrics.jsonl number updates 1..T, like the summaries (tasks keep their ids from 0)", () => {
  const results = fakeResults();
  const summary = summarizeResults(results);
  const updates = Array.from({ length: results.tasks }, (_, t) => t + 1);
  for (const chart of chartSpecs(summary)) {
    const values = (chart.spec as { data: { values: { update: number; task?: number }[] } }).data.values;
    assert.deepEqual([...new Set(values.map((v) => v.update))].sort((a, b) => a - b), updates, chart.name);
    const tasks = values.flatMap((v) => (v.task === undefined ? [] : [v.task]));
    if (tasks.length > 0) assert.equal(Math.min(...tasks), 0, `${chart.name}: tasks keep their 0-based ids`);
  }
  const lines = metricsLines(results);
  assert.deepEqual([...new Set(lines.map((line) => line.update))], updates);
  assert.ok(lines.filter((line) => line.update === 1).every((line) => line.nfr === null), "no flip rate at update 1: no earlier model");
});
