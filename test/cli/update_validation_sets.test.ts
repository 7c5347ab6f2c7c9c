// The update summary names every validation set it used: after update 1 the state remembers earlier --val
// files and validates on them again, which the command line of a later update does not show.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { filterByClasses } from "../../src/data/dataset_ops.js";
import { makeGaussianBlobs } from "../../src/data/synthetic.js";
import { parseConfig, writeConfig } from "../../src/workflow/config.js";
import { updateFromConfig } from "../../src/workflow/update.js";
import { useBackend } from "../helpers/backend.js";
import { DIMS, toCsv, workflowConfig, workflowFolder } from "../helpers/workflow_files.js";

const relearn = (args: string[]) => spawnSync(process.execPath, ["--import", "tsx", "src/cli/main.ts", ...args], { encoding: "utf8", timeout: 120_000 });

test("relearn update lists the validation sets of the state, where each came from, and which each phase validated on", async () => {
  const dir = await workflowFolder(10);
  try {
    const config = join(dir, "relearn.json");
    await writeConfig(config, workflowConfig({ maxEpochs: 1 }));
    const val = makeGaussianBlobs({ numClasses: 6, samplesPerClass: 5, dims: DIMS, seed: 3, sampleSeed: 3 });
    await writeFile(join(dir, "val1.csv"), toCsv(filterByClasses(val, [0, 1])));
    await writeFile(join(dir, "val2.csv"), toCsv(filterByClasses(val, [2, 3])));
    const update = (i: number, extra: string[]) =>
      relearn(["update", "--config", config, "--data", join(dir, `chunk${i}.csv`), ...(i > 1 ? ["--input-state", join(dir, `v${i - 1}`)] : []), "--output-state", join(dir, `v${i}`), ...extra]);

    let run = update(1, ["--val", join(dir, "val1.csv")]);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, new RegExp(`validation sets kept in the state \\(1\\):\\n  \\[1\\] ${join(dir, "val1.csv")}, 10 items, from this update\\n`));
    run = update(2, ["--val", join(dir, "val2.csv")]);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, new RegExp(`\\[1\\] ${join(dir, "val1.csv")}, 10 items, from update 1\\n  \\[2\\] ${join(dir, "val2.csv")}, 10 items, from this update\\n`));
    // RD's expert validates on this update's set only; the consolidated model on every set kept.
    assert.match(run.stdout, /expert .* validated on \[2\]\n/);
    assert.match(run.stdout, /consolidation .* validated on \[1\] \[2\]\n/);

    // No --val now: the phases still validate on the remembered sets, and the summary says so.
    run = update(3, ["--json"]);
    assert.equal(run.status, 0, run.stderr);
    const summary = JSON.parse(run.stdout) as { validationSets: unknown[]; phases: { phase: string; validatedOn: number[] }[] };
    assert.deepEqual(summary.validationSets, [
      { source: join(dir, "val1.csv"), taskId: "default_task", items: 10, update: 1, current: false, givenAgain: false },
      { source: join(dir, "val2.csv"), taskId: "default_task", items: 10, update: 2, current: false, givenAgain: false },
    ]);
    assert.deepEqual(summary.phases.map((p) => [p.phase, p.validatedOn]), [["expert", []], ["consolidation", [0, 1]]]);
    run = update(3, ["--overwrite-output-state"]);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /\[1\] .*val1\.csv, 10 items, from update 1\n  \[2\] .*val2\.csv, 10 items, from update 2\n/);
    assert.match(run.stdout, /expert .* validated on none\n/);
    // inspect names them the same way (F-V): file, items, the update that added each.
    run = relearn(["inspect", join(dir, "v3")]);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, new RegExp(`validation sets \\(2; .*\\):\\n  \\[1\\] ${join(dir, "val1.csv")}, 10 items, from update 1\\n  \\[2\\] ${join(dir, "val2.csv")}, 10 items, from update 2\\n`));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("a validation set given again (same file, or the same rows in another file) is kept once, not counted twice (F-M)", async () => {
  const dir = await workflowFolder(10);
  try {
    const config = join(dir, "relearn.json");
    await writeConfig(config, workflowConfig({ maxEpochs: 1 }));
    const val = makeGaussianBlobs({ numClasses: 6, samplesPerClass: 5, dims: DIMS, seed: 3, sampleSeed: 3 });
    await writeFile(join(dir, "val1.csv"), toCsv(filterByClasses(val, [0, 1])));
    await writeFile(join(dir, "val2.csv"), toCsv(filterByClasses(val, [2, 3])));
    // The same rows under another name, with CRLF line ends: the same content, another file.
    await writeFile(join(dir, "copy-of-val1.csv"), toCsv(filterByClasses(val, [0, 1])).replaceAll("\n", "\r\n"));
    const update = (i: number, input: string | undefined, val: string, extra: string[] = []) =>
      relearn(["update", "--config", config, "--data", join(dir, `chunk${i}.csv`), ...(input ? ["--input-state", join(dir, input)] : []), "--output-state", join(dir, `v${i}`), "--val", join(dir, val), ...extra]);
    assert.equal(update(1, undefined, "val1.csv").status, 0);
    assert.equal(update(2, "v1", "val2.csv").status, 0);

    let run = update(3, "v2", "val1.csv");
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, new RegExp(
      `validation sets kept in the state \\(2\\):\n  \\[1\\] ${join(dir, "val1.csv")}, 10 items, from update 1; given again with this update, identical: kept once, so not counted twice\n` +
        `  \\[2\\] ${join(dir, "val2.csv")}, 10 items, from update 2\n`,
    ));
    // It is still this update's set (RD's expert validates on it), and counted once by the consolidation.
    assert.match(run.stdout, /expert .* validated on \[1\]\n/);
    assert.match(run.stdout, /consolidation .* validated on \[1\] \[2\]\n/);

    run = update(3, "v2", "copy-of-val1.csv", ["--overwrite-output-state", "--json"]);
    assert.equal(run.status, 0, run.stderr);
    const summary = JSON.parse(run.stdout) as { validationSets: { source: string; update: number; current: boolean; givenAgain: boolean }[] };
    assert.deepEqual(summary.validationSets.map((v) => [v.source, v.update, v.current, v.givenAgain]), [
      [join(dir, "val1.csv"), 1, true, true],
      [join(dir, "val2.csv"), 2, false, false],
    ]);
    // The state written keeps two sets, so the next update (and inspect) sees two.
    run = relearn(["inspect", join(dir, "v3"), "--json"]);
    assert.equal(run.status, 0, run.stderr);
    assert.equal((JSON.parse(run.stdout) as { validationSets: unknown[] }).validationSets.length, 2);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("an update without any validation set says there is none and how to add one", async () => {
  await useBackend("wasm");
  const dir = await workflowFolder(10);
  try {
    await writeConfig(join(dir, "relearn.json"), workflowConfig({ maxEpochs: 1 }));
    const summary = await updateFromConfig({
      config: parseConfig(workflowConfig({ maxEpochs: 1 })),
      data: { path: join(dir, "chunk1.csv") },
      outputState: join(dir, "v1"),
    });
    assert.deepEqual(summary.validationSets, []);
    assert.deepEqual(summary.phases.map((p) => p.validatedOn), [[], []]);
    const run = relearn(["update", "--config", join(dir, "relearn.json"), "--data", join(dir, "chunk1.csv"), "--output-state", join(dir, "v2")]);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /validation sets: none \(pass --val to validate; the state keeps it for later updates\)/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
