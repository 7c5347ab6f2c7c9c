import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

function relearn(args: string[]) {
  return spawnSync(process.execPath, ["--import", "tsx", "src/cli/main.ts", ...args], { encoding: "utf8", timeout: 300_000 });
}

test("relearn benchmark on the bundled data writes the results folder and prints the comparison table", async () => {
  const out = await mkdtemp(join(tmpdir(), "relearn-cli-"));
  try {
    const common = ["benchmark", "--dataset", "fashion-mnist-bundled", "--tasks", "5", "--epochs", "1", "--model", "mlp:16", "--backend", "wasm"];
    const run = relearn([...common, "--updaters", "fine-tuning,rd", "--memory-sizes", "100", "--out", out]);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /fine-tuning/);
    assert.match(run.stdout, /\brd\b/);
    assert.match(run.stdout, /report: .*report\.html/);
    assert.match(run.stderr, /epoch 1\/1/, "one progress line per epoch when stderr is not a terminal");
    const files = await readdir(out);
    for (const f of ["summary.json", "metrics.jsonl", "report.html", "accuracy-fine-tuning-mnone-s0.csv", "accuracy-rd-m100-s0.csv"]) {
      assert.ok(files.includes(f), `${f} in ${files.join(", ")}`);
    }
    const charts = await readdir(join(out, "charts"));
    assert.ok(charts.some((f) => f.endsWith(".svg")) && charts.some((f) => f.endsWith(".png")));
    const lines = (await readFile(join(out, "metrics.jsonl"), "utf8")).trim().split("\n");
    assert.equal(lines.length, 10, "2 runs x 5 updates");
    const csv = (await readFile(join(out, "accuracy-rd-m100-s0.csv"), "utf8")).trim().split("\n");
    assert.equal(csv.length, 6, "header + 5 updates");

    const json = relearn([...common, "--updaters", "fine-tuning", "--out", join(out, "json"), "--json", "--no-png"]);
    assert.equal(json.status, 0, json.stderr);
    const summary = JSON.parse(json.stdout) as { groups: { updater: string }[] };
    assert.equal(summary.groups[0]!.updater, "fine-tuning");
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});

test("relearn benchmark --dataset letter: the tabular benchmark runs, names its tasks by letter, one seed shows no spread", async () => {
  const out = await mkdtemp(join(tmpdir(), "relearn-cli-letter-"));
  try {
    const run = relearn([
      "benchmark", "--dataset", "letter", "--tasks", "13", "--epochs", "1", "--model", "mlp:16", "--backend", "wasm",
      "--updaters", "fine-tuning", "--seeds", "0", "--out", out, "--no-png",
    ]);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stderr, /relearn benchmark: letter \(16000 train \/ 4000 test\), class-incremental x 13/);
    assert.doesNotMatch(run.stdout, /\+\/-/, "one seed: values without a spread");
    assert.match(run.stdout, /FWT in a class-incremental scenario/);
    const summary = JSON.parse(await readFile(join(out, "summary.json"), "utf8")) as { summary: { groups: { taskNames: string[] }[] } };
    const names = summary.summary.groups[0]!.taskNames;
    assert.equal(names.length, 13);
    // Two letters per task, each letter once.
    const letters = names.flatMap((name, i) => {
      const match = new RegExp(`^${i}: ([A-Z]), ([A-Z])$`).exec(name);
      assert.ok(match, name);
      return [match[1], match[2]];
    });
    assert.equal(new Set(letters).size, 26);
    const heatmap = await readFile(join(out, "charts", "heatmap-fine-tuning.svg"), "utf8");
    assert.ok(heatmap.includes(`>${names[12]!}<`), "the heatmap's axis names the letters");
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});

test("relearn benchmark rejects bad input with a message and a non-zero exit code", () => {
  const unknown = relearn(["benchmark", "--dataset", "fashion-mnist-bundled", "--updaters", "nope"]);
  assert.equal(unknown.status, 1);
  assert.match(unknown.stderr, /unknown updater "nope"; known: rd/);
  const badTasks = relearn(["benchmark", "--tasks", "0"]);
  assert.notEqual(badTasks.status, 0);
  assert.match(badTasks.stderr, /positive integer/);
  const badData = relearn(["benchmark", "--dataset", "/nonexistent/folder"]);
  assert.equal(badData.status, 1);
  assert.match(badData.stderr, /unknown dataset/);
});

test("relearn benchmark --updater-options: each updater's options reach it, and bad ones fail before any training", async () => {
  const out = await mkdtemp(join(tmpdir(), "relearn-cli-options-"));
  try {
    const common = ["benchmark", "--dataset", "fashion-mnist-bundled", "--tasks", "2", "--epochs", "1", "--model", "mlp:16", "--backend", "wasm", "--no-png", "--json"];
    const finalAccuracy = (stdout: string) => (JSON.parse(stdout) as { groups: { finalAverageAccuracy: { mean: number } }[] }).groups[0]!.finalAverageAccuracy.mean;
    const plain = relearn([...common, "--updaters", "cls-er", "--memory-sizes", "50", "--out", join(out, "plain")]);
    assert.equal(plain.status, 0, plain.stderr);
    const asymmetric = relearn([...common, "--updaters", "cls-er", "--memory-sizes", "50", "--out", join(out, "asymmetric"), "--updater-options", '{"cls-er": {"newDataLoss": "asymmetric"}}']);
    assert.equal(asymmetric.status, 0, asymmetric.stderr);
    assert.notEqual(finalAccuracy(asymmetric.stdout), finalAccuracy(plain.stdout), "the option changed the training");

    const failures: [string, RegExp][] = [
      ['{"cls-er": {"newDataLoss": "ace"}}', /invalid ClsExperienceReplayModelUpdater options:[\s\S]*newDataLoss/],
      ['{"cls-er": {"gamma": 1}}', /gamma/],
      ['{"er": {"memoryBatchSize": 8}}', /--updater-options names "er", which is not in --updaters \(cls-er\)/],
      ['{"cls-er": 3}', /expected an object of objects/],
      ["{cls-er", /not JSON/],
    ];
    for (const [json, message] of failures) {
      const run = relearn([...common, "--updaters", "cls-er", "--out", join(out, "bad"), "--updater-options", json]);
      assert.notEqual(run.status, 0, json);
      assert.match(run.stderr, message, json);
      assert.doesNotMatch(run.stderr, /epoch 1\/1/, `${json}: failed before training`);
    }
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});

test("benchmark variants <updater>@<label>: each runs its base with its own --updater-options as its own rows, exactly as the base with those settings; bad variants fail before training", async () => {
  const out = await mkdtemp(join(tmpdir(), "relearn-cli-variants-"));
  try {
    const common = ["benchmark", "--dataset", "fashion-mnist-bundled", "--tasks", "2", "--epochs", "1", "--model", "mlp:16", "--backend", "wasm", "--no-png", "--json", "--memory-sizes", "40"];
    type Summary = { groups: { updater: string; label: string; finalAverageAccuracy: { mean: number } }[] };
    const fast = '{"fine-tuning@lr-high": {"optimizer": {"name": "adam", "learningRate": 0.01}}, "pod-er@alpha=0.5": {"alpha": 0.5}}';
    const run = relearn([...common, "--updaters", "fine-tuning,fine-tuning@lr-high,pod-er@alpha=0.5", "--pod-layers", "dense_0_relu", "--pod-distillation", "pixel", "--updater-options", fast, "--out", join(out, "grid")]);
    assert.equal(run.status, 0, run.stderr);
    const groups = (JSON.parse(run.stdout) as Summary).groups;
    // pod-er's variant got pod-er's flags (--pod-layers is required by pod-er) and its own alpha.
    assert.deepEqual(groups.map((g) => g.label), ["fine-tuning", "fine-tuning@lr-high", "pod-er@alpha=0.5 (m=40)"]);
    assert.notEqual(groups[1]!.finalAverageAccuracy.mean, groups[0]!.finalAverageAccuracy.mean, "the variant's learning rate changed the training");
    assert.ok((await readdir(join(out, "grid"))).includes("accuracy-fine-tuning@lr-high-mnone-s0.csv"));
    // The results folder says what each variant ran with, and the grid's optimizer.
    const saved = JSON.parse(await readFile(join(out, "grid", "summary.json"), "utf8")) as { summary: { optimizer: unknown }; runs: { updater: string; updaterOptions?: unknown }[] };
    assert.deepEqual(saved.summary.optimizer, { name: "adam", learningRate: 0.001 });
    assert.deepEqual(saved.runs.map((r) => [r.updater, r.updaterOptions]), [
      ["fine-tuning", undefined],
      ["fine-tuning@lr-high", { optimizer: { name: "adam", learningRate: 0.01 } }],
      ["pod-er@alpha=0.5", { distillationType: "pixel", layers: ["dense_0_relu"], alpha: 0.5 }],
    ]);
    // So does report.html: the grid's optimizer, and each variant's options (HTML-escaped JSON).
    const html = await readFile(join(out, "grid", "report.html"), "utf8");
    assert.match(html, /<th>optimizer<\/th><td>\{&quot;name&quot;:&quot;adam&quot;,&quot;learningRate&quot;:0\.001\}<\/td>/);
    assert.match(html, /<th>fine-tuning@lr-high<\/th><td><code>\{&quot;optimizer&quot;:\{&quot;name&quot;:&quot;adam&quot;,&quot;learningRate&quot;:0\.01\}\}<\/code><\/td>/);
    assert.match(html, /<th>pod-er@alpha=0\.5<\/th><td><code>\{&quot;distillationType&quot;:&quot;pixel&quot;/);
    assert.doesNotMatch(html, /<th>fine-tuning<\/th><td><code>/, "the base without options has no row");
    // The variant is the base updater with those settings, bit for bit.
    const base = relearn([...common, "--updaters", "fine-tuning", "--lr", "0.01", "--out", join(out, "base")]);
    assert.equal(base.status, 0, base.stderr);
    assert.equal((JSON.parse(base.stdout) as Summary).groups[0]!.finalAverageAccuracy.mean, groups[1]!.finalAverageAccuracy.mean);

    const failures: [string, string | undefined, RegExp][] = [
      ["fine-tuning@x", undefined, /the variant "fine-tuning@x" has no options: give them with --updater-options '\{"fine-tuning@x": \{\.\.\.\}\}'/],
      ["nope@x", '{"nope@x": {}}', /unknown updater "nope"/],
      ["fine-tuning@a b", '{"fine-tuning@a b": {"seed": 1}}', /the variant "fine-tuning@a b" needs a label of letters, digits/],
      ["fine-tuning,fine-tuning", undefined, /--updaters lists "fine-tuning" twice/],
      ["fine-tuning@x", '{"fine-tuning@x": {"alpha": 1}}', /alpha/],
      ["fine-tuning@x", '{"fine-tuning@x": {}}', /the variant "fine-tuning@x" has no options/],
      ["er,er@m100", '{"er@m100": {"memorySize": 100}}', /"er@m100" sets memorySize, which --memory-sizes sets/],
    ];
    for (const [updaters, json, message] of failures) {
      const bad = relearn([...common, "--updaters", updaters, ...(json === undefined ? [] : ["--updater-options", json]), "--out", join(out, "bad")]);
      assert.notEqual(bad.status, 0, updaters);
      assert.match(bad.stderr, message, updaters);
      assert.doesNotMatch(bad.stderr, /epoch 1\/1/, `${updaters}: failed before training`);
    }
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});

test("a flag for updaters none of which is in the grid is an error, as an --updater-options entry is (tester H, H10)", () => {
  const grid = ["benchmark", "--dataset", "fashion-mnist-bundled", "--tasks", "2", "--seeds", "0", "--model", "mlp:16", "--epochs", "1", "--no-png", "--backend", "wasm",
    "--out", join(tmpdir(), "relearn-never-written")];
  for (const [flags, message] of [
    [["--updaters", "er", "--pod-layers", "dense_0_relu"], /--pod-layers applies to pod-er and super-er, and --updaters \(er\) has none: drop --pod-layers, or add such an updater/],
    [["--updaters", "er,lwf", "--pod-distillation", "pixel"], /--pod-distillation applies to pod-er and super-er, and --updaters \(er, lwf\) has none/],
    [["--updaters", "lwf", "--consolidation-epochs", "3"], /--consolidation-epochs applies to rd and rd-budget, and --updaters \(lwf\) has none/],
    // And a scenario that turns images, on images loaded flat, names the flag that loads them as images (H11).
    [["--updaters", "lwf", "--scenario", "rotated", "--train-per-task", "50", "--test-per-task", "20"], /--scenario rotated turns images, but fashion-mnist\S* was loaded flat \(\[784\]\): add --layout hwc/],
  ] as const) {
    const run = relearn([...grid, ...flags]);
    assert.equal(run.status, 1, run.stderr);
    assert.match(run.stderr, message);
  }
});

test("benchmark checks every updater's options (and single-head needs) before the first cell trains (tester F-C)", () => {
  const grid = ["benchmark", "--dataset", "fashion-mnist-bundled", "--scenario", "permuted", "--tasks", "2", "--train-per-task", "100", "--test-per-task", "50",
    "--memory-sizes", "60", "--seeds", "0", "--model", "mlp:16", "--epochs", "1", "--no-png", "--backend", "wasm", "--out", join(tmpdir(), "relearn-never-written")];
  // er is the second updater: its typo must stop the run before fine-tuning's cell trains.
  const typo = relearn([...grid, "--updaters", "fine-tuning,er", "--updater-options", '{"er": {"alpha": 0.3}}']);
  assert.equal(typo.status, 1, typo.stderr);
  assert.match(typo.stderr, /relearn: updater "er" \(memory 60\): invalid ExperienceReplayModelUpdater options:\n✖ Unrecognized key: "alpha"/);
  assert.doesNotMatch(typo.stderr, /\[1\/2\]|epoch 1\/1/, "no cell trained");
  // (Without the per-task counts, which task-incremental refuses: it takes whole classes.)
  const wholeClasses = grid.filter((arg, i) => !/^--(train|test)-per-task$/.test(arg) && !/^--(train|test)-per-task$/.test(grid[i - 1] ?? ""));
  const icarl = relearn([...wholeClasses, "--scenario", "task-incremental", "--updaters", "fine-tuning,icarl"]);
  assert.equal(icarl.status, 1, icarl.stderr);
  assert.match(icarl.stderr, /relearn: updater "icarl" \(memory 60\) needs a single-head model; the task-incremental scenario/);
  assert.doesNotMatch(icarl.stderr, /\[1\/2\]|epoch 1\/1/, "no cell trained");
});
