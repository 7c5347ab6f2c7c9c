// `relearn init --updater X` writes a config that runs as written, for every updater: POD-ER and Super-ER get their
// layers and a pooling the model allows (a config without them could not run, tester H's H6), memory-free updaters
// get no memorySize (it would be ignored, H7), and an update with a memorySize they ignore says so.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeGaussianBlobs } from "../../src/data/synthetic.js";
import { UPDATER_NAMES, updaterEntry } from "../../src/updaters/registry.js";

const relearn = (args: string[]) => spawnSync(process.execPath, ["--import", "tsx", "src/cli/main.ts", ...args], { encoding: "utf8", timeout: 120_000 });

function blobsCsv(): string {
  const data = makeGaussianBlobs({ numClasses: 3, samplesPerClass: 12, dims: 4, seed: 1, sampleSeed: 2 });
  const rows = Array.from({ length: data.length }, (_, r) => [...Array.from(data.features.subarray(r * 4, r * 4 + 4), (v) => v.toFixed(4)), data.labels[r]].join(","));
  return ["a,b,c,d,label", ...rows].join("\n") + "\n";
}

test("init --updater X writes a config whose first update runs, for every updater; POD layers chosen and named, no memorySize without a memory", { timeout: 600_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), "relearn-init-updaters-"));
  try {
    await writeFile(join(dir, "chunk.csv"), blobsCsv());
    for (const name of UPDATER_NAMES) {
      const config = join(dir, `${name}.json`);
      let run = relearn(["init", "--config", config, "--updater", name, "--input-shape", "4", "--classes", "3", "--model", "mlp:8"]);
      assert.equal(run.status, 0, `${name}: ${run.stderr}`);
      const options = (JSON.parse(await readFile(config, "utf8")) as { options: Record<string, unknown> }).options;
      assert.equal("memorySize" in options, updaterEntry(name).usesMemory, `${name}: memorySize ${JSON.stringify(options["memorySize"])}`);
      if (name === "pod-er") assert.deepEqual([options["layers"], options["distillationType"]], [["dense_0_relu"], "pixel"]);
      if (name === "super-er") assert.deepEqual([options["podLayers"], options["podDistillationType"]], [["dense_0_relu"], "pixel"]);
      if (name === "pod-er" || name === "super-er") assert.match(run.stderr, /note: \S+ will distil layer "dense_0_relu" with "pixel" pooling .*the model's body layers: dense_0, dense_0_relu/);
      run = relearn(["update", "--config", config, "--data", join(dir, "chunk.csv"), "--output-state", join(dir, `${name}-v1`), "--epochs", "1", "--backend", "wasm"]);
      assert.equal(run.status, 0, `${name}: ${run.stderr}`);
      assert.doesNotMatch(run.stderr, /keeps no memory/, name);
    }
    // A memorySize given to an updater without a memory is said to be ignored (not an error: older configs carry one).
    const run = relearn(["update", "--config", join(dir, "lwf.json"), "--data", join(dir, "chunk.csv"), "--output-state", join(dir, "lwf-m"), "--epochs", "1", "--backend", "wasm", "--memory-size", "30"]);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stderr, /updater "lwf" keeps no memory: memorySize 30 \(the config's options, or --memory-size\) is ignored/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("init --model spec.json: --input-shape, --classes or --class-names that disagree with the file are errors naming both (H15)", async () => {
  const dir = await mkdtemp(join(tmpdir(), "relearn-init-spec-"));
  try {
    const spec = join(dir, "spec.json");
    await writeFile(spec, JSON.stringify({ type: "mlp", inputShape: [8], hidden: [16], classes: 6 }));
    let run = relearn(["init", "--model", spec, "--input-shape", "4", "--classes", "3", "--json"]);
    assert.equal(run.status, 1, run.stdout);
    assert.match(run.stderr, /--model \S+spec\.json disagrees with --input-shape 4 \(the file: 8\) and --classes 3 \(the file: 6 classes\): change the file, or leave out the flag/);
    run = relearn(["init", "--model", spec, "--class-names", "a,b", "--json"]);
    assert.match(run.stderr, /disagrees with --class-names \(2 names\) \(the file: 6 classes\)/);
    // Agreeing flags, or none, take the file as it is.
    for (const flags of [[], ["--input-shape", "8", "--classes", "6"]]) {
      run = relearn(["init", "--model", spec, ...flags, "--json"]);
      assert.equal(run.status, 0, run.stderr);
      assert.deepEqual((JSON.parse(run.stdout) as { model: { inputShape: number[]; classes: number } }).model.inputShape, [8]);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
