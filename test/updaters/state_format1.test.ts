import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { workflowConfig, workflowFolder } from "../helpers/workflow_files.js";
import { StateError } from "../../src/errors.js";
import { manifestToJson, type StateManifest } from "../../src/state/format.js";
import { readUpdaterState } from "../../src/updaters/state_kinds.js";
import { parseConfig } from "../../src/workflow/config.js";
import { updateFromConfig } from "../../src/workflow/update.js";
import { evaluateState } from "../../src/workflow/evaluate_state.js";

type Manifest = StateManifest & { data: Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Rewrites manifest.json as a format-1 manifest (no checksum) after `edit`, as someone bypassing the checksum would. */
async function claimFormat1(dir: string, edit: (manifest: Manifest) => void): Promise<void> {
  const path = join(dir, "manifest.json");
  const manifest = JSON.parse(await readFile(path, "utf8")) as Manifest;
  edit(manifest);
  delete manifest.manifestSha256;
  await writeFile(path, manifestToJson({ ...manifest, formatVersion: 1 }));
}

function recorder() {
  const warnings: string[] = [];
  return { warnings, logger: { info: () => {}, warn: (m: string) => void warnings.push(m) } };
}

test("a format-1 manifest holding format-2-only content (data settings, recorded config, task ids) is an error naming manifest.json; a true format-1 state is read with a warning that it has no checksum", async (t) => {
  const dir = await workflowFolder();
  t.after(() => rm(dir, { recursive: true, force: true }));
  const config = parseConfig(workflowConfig({ maxEpochs: 1 }));
  const state = join(dir, "s");
  await updateFromConfig({ config, data: { path: join(dir, "chunk1.csv") }, outputState: state });
  const refused = async (field: RegExp) => {
    for (const read of [
      () => readUpdaterState(state),
      () => updateFromConfig({ config, data: { path: join(dir, "chunk2.csv") }, inputState: state, outputState: join(dir, "next") }),
    ]) {
      await assert.rejects(read(), (e) => e instanceof StateError && /s\/manifest\.json says formatVersion 1/.test(e.message) && field.test(e.message));
    }
  };
  // an edited value, sealed into "format 1": the data settings betray it
  await claimFormat1(state, (m) => void (m.data.updatesDone = 7));
  await refused(/field "data\.data" \(the data settings\)/);
  // without them, the recorded config does
  await claimFormat1(state, (m) => void delete m.data.data);
  await refused(/field "data\.config" \(the recorded config\)/);
  // without it, the memory snapshot version 2 (task ids) does
  await claimFormat1(state, (m) => void delete m.data.config);
  await refused(/field "data\.algorithm\.memory\.meta\.version" = 2/);
  // what 0.1.0 really wrote: memory snapshot version 1, no task column
  await claimFormat1(state, (m) => {
    const memory = m.data.algorithm.memory;
    memory.meta.version = 1;
    delete memory.meta.taskIds;
    delete m.files[`memory/${memory.columns.t.file}`];
    delete memory.columns.t;
  });
  await rm(join(state, "memory", "t.bin"), { force: true });
  const inspected = recorder();
  assert.equal((await readUpdaterState(state, { logger: inspected.logger })).data.updatesDone, 7);
  assert.equal(inspected.warnings.length, 1);
  assert.match(inspected.warnings[0]!, /s\/manifest\.json is state format 1 .*no checksum of its own, so an edit to it cannot be detected/);
  const evaluated = recorder();
  await evaluateState({ state, data: { path: join(dir, "test.csv") }, logger: evaluated.logger });
  assert.match(evaluated.warnings.join("\n"), /is state format 1 .*no checksum of its own/);
  const updated = recorder();
  const summary = await updateFromConfig({ config, data: { path: join(dir, "chunk2.csv") }, inputState: state, outputState: join(dir, "next"), logger: updated.logger });
  assert.equal(summary.updatesDone, 8);
  assert.ok(updated.warnings.some((w) => /is state format 1/.test(w)), updated.warnings.join("\n"));
});
