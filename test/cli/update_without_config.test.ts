/**
 * `relearn update` without --config (src/workflow/state_config.ts): a state records the config that made it (the
 * updater's registry name, so "rd-budget" is not mistaken for "rd", which writes the same kind), and an update
 * leaving --config out continues with it, writing the same bytes as one given that config. Command-line overrides
 * apply to one update and are not recorded. A state recording no config (the library wrote it), a fresh start
 * without a config, and a config naming another updater than the state's are clear errors that write nothing.
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { workflowConfig, workflowFolder } from "../helpers/workflow_files.js";
import { parseConfig, writeConfig } from "../../src/workflow/config.js";
import { updateFromConfig } from "../../src/workflow/update.js";
import { readDataFile } from "../../src/workflow/data_files.js";
import { createUpdater } from "../../src/updaters/registry.js";

const CLI = ["--import", "tsx", "src/cli/main.ts"];
const runCli = (args: string[]) => spawnSync(process.execPath, [...CLI, ...args], { encoding: "utf8", timeout: 180_000 });

const made: string[] = [];
after(async () => {
  for (const dir of made) await rm(dir, { recursive: true, force: true });
});

interface Manifest {
  data: { updatesDone: number; options: Record<string, unknown>; config?: Record<string, unknown> };
}
const manifestOf = async (state: string) => JSON.parse(await readFile(join(state, "manifest.json"), "utf8")) as Manifest;

/** A workflow folder whose relearn.json runs the rd-budget preset (same state kind as rd) for 2 epochs (consolidation set: its budget would be 625). */
async function budgetFolder(): Promise<string> {
  const dir = await workflowFolder(10);
  made.push(dir);
  await writeConfig(join(dir, "relearn.json"), { $schema: "./relearn.schema.json", ...workflowConfig({ maxEpochs: 2, consolidationEpochs: 2, backend: "cpu" }), updater: "rd-budget" });
  return dir;
}

test("update without --config continues with the state's recorded updater and options, byte for byte as with --config", { timeout: 600_000 }, async () => {
  const dir = await budgetFolder();
  const config = join(dir, "relearn.json");
  const first = runCli(["update", "--config", config, "--data", join(dir, "chunk1.csv"), "--output-state", join(dir, "v1")]);
  assert.equal(first.status, 0, first.stderr);
  const v1 = await manifestOf(join(dir, "v1"));
  const recorded = v1.data.config!;
  assert.equal(recorded["updater"], "rd-budget", "the registry name, not the state kind");
  assert.equal((recorded["options"] as Record<string, unknown>)["maxEpochs"], 2);
  assert.equal(recorded["$schema"], undefined, "the config file's $schema path is not recorded");
  assert.deepEqual(recorded["model"], workflowConfig().model);
  const inspected = runCli(["inspect", join(dir, "v1")]);
  assert.match(inspected.stdout, /^updater: repeated-distillation, 1 update/m);
  assert.match(inspected.stdout, /^config: updater rd-budget, recorded \(relearn update continues with it when given no --config\)$/m);
  assert.deepEqual((JSON.parse(runCli(["inspect", join(dir, "v1"), "--json"]).stdout) as { config: unknown }).config, recorded);

  const withConfig = runCli(["update", "--config", config, "--data", join(dir, "chunk2.csv"), "--input-state", join(dir, "v1"), "--output-state", join(dir, "v2-config"), "--json"]);
  assert.equal(withConfig.status, 0, withConfig.stderr);
  const without = runCli(["update", "--data", join(dir, "chunk2.csv"), "--input-state", join(dir, "v1"), "--output-state", join(dir, "v2"), "--json"]);
  assert.equal(without.status, 0, without.stderr);
  assert.equal((JSON.parse(without.stdout) as { updater: string }).updater, "rd-budget");
  assert.equal(
    await readFile(join(dir, "v2", "manifest.json"), "utf8"),
    await readFile(join(dir, "v2-config", "manifest.json"), "utf8"),
    "the same state (every file's checksum is in the manifest) as the update given the config",
  );

  // An override is this update's: the state ran with it, and records the config without it.
  const override = runCli(["update", "--data", join(dir, "chunk3.csv"), "--input-state", join(dir, "v2"), "--output-state", join(dir, "v3"), "--epochs", "1", "--json"]);
  assert.equal(override.status, 0, override.stderr);
  assert.equal((JSON.parse(override.stdout) as { phases: { epochsRun: number }[] }).phases[0]?.epochsRun, 1);
  const v3 = await manifestOf(join(dir, "v3"));
  assert.equal(v3.data.options["maxEpochs"], 1);
  assert.deepEqual(v3.data.config, recorded);
});

test("update: a config naming another updater than the state's, a fresh start without a config, a state recording none: clear errors, nothing written", { timeout: 600_000 }, async () => {
  const dir = await budgetFolder();
  const first = runCli(["update", "--config", join(dir, "relearn.json"), "--data", join(dir, "chunk1.csv"), "--output-state", join(dir, "v1")]);
  assert.equal(first.status, 0, first.stderr);

  // rd and rd-budget write the same state kind: only the recorded name tells them apart.
  await writeConfig(join(dir, "rd.json"), workflowConfig({ maxEpochs: 2, backend: "cpu" }));
  const mismatch = runCli(["update", "--config", join(dir, "rd.json"), "--data", join(dir, "chunk2.csv"), "--input-state", join(dir, "v1"), "--output-state", join(dir, "v2")]);
  assert.equal(mismatch.status, 1, mismatch.stderr);
  assert.match(mismatch.stderr, /the config names updater "rd", but the input state .*v1 was made by "rd-budget"/);
  assert.match(mismatch.stderr, /Leave out --config/);
  assert.ok(!existsSync(join(dir, "v2")));

  const fresh = runCli(["update", "--data", join(dir, "chunk1.csv"), "--output-state", join(dir, "fresh")]);
  assert.equal(fresh.status, 1, fresh.stderr);
  assert.match(fresh.stderr, /give --config .*or --input-state/);
  assert.ok(!existsSync(join(dir, "fresh")));

  const missing = runCli(["update", "--data", join(dir, "chunk2.csv"), "--input-state", join(dir, "nope"), "--output-state", join(dir, "v2")]);
  assert.equal(missing.status, 1, missing.stderr);
  assert.match(missing.stderr, /input state folder .*nope does not exist/);

  // A state the library wrote (as a relearn from before states recorded their config did) records none.
  const updater = createUpdater("rd", { ...workflowConfig({ maxEpochs: 1, backend: "cpu" }).options, model: workflowConfig().model, outputStateFolder: join(dir, "library") });
  try {
    await updater.update((await readDataFile({ path: join(dir, "chunk1.csv") }, { layout: "flat" }, { featureShape: [8] })));
  } finally {
    updater.dispose();
  }
  assert.equal((await manifestOf(join(dir, "library"))).data.config, undefined);
  const old = runCli(["update", "--data", join(dir, "chunk2.csv"), "--input-state", join(dir, "library"), "--output-state", join(dir, "library-v2")]);
  assert.equal(old.status, 1, old.stderr);
  assert.match(old.stderr, /records no config .*pass --config/s);
  assert.ok(!existsSync(join(dir, "library-v2")));
  // With --config it continues, and the state it writes records the config from then on.
  const given = runCli(["update", "--config", join(dir, "rd.json"), "--data", join(dir, "chunk2.csv"), "--input-state", join(dir, "library"), "--output-state", join(dir, "library-v2")]);
  assert.equal(given.status, 0, given.stderr);
  assert.equal((await manifestOf(join(dir, "library-v2"))).data.config?.["updater"], "rd");
});

test("a state's recorded config survives a resume and save unchanged: the re-saved state is byte-identical", { timeout: 300_000 }, async () => {
  const dir = await budgetFolder();
  const config = parseConfig({ ...workflowConfig({ maxEpochs: 1, consolidationEpochs: 1, backend: "cpu" }), updater: "rd-budget" });
  await updateFromConfig({ config, data: { path: join(dir, "chunk1.csv") }, outputState: join(dir, "v1") });
  const updater = createUpdater("rd-budget", { ...config.options, inputStateFolder: join(dir, "v1") });
  try {
    await updater.prepare();
    await updater.saveState(join(dir, "copy"));
  } finally {
    updater.dispose();
  }
  const original = await readFile(join(dir, "v1", "manifest.json"), "utf8");
  assert.equal(await readFile(join(dir, "copy", "manifest.json"), "utf8"), original);
  assert.equal((JSON.parse(original) as Manifest).data.config?.["updater"], "rd-budget");
});
