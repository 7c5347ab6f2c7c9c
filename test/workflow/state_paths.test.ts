import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { lstat, mkdir, readlink, rm, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { workflowConfig, workflowFolder } from "../helpers/workflow_files.js";
import { StateError } from "../../src/errors.js";
import { parseConfig } from "../../src/workflow/config.js";
import { updateFromConfig } from "../../src/workflow/update.js";
import { readStateFolder } from "../../src/state/read_state.js";

const config = parseConfig(workflowConfig({ maxEpochs: 1 }));

/** One update; counts the epochs trained so a refusal can be shown to come before any training. */
async function update(dir: string, input: string | undefined, output: string, epochs = { count: 0 }) {
  return updateFromConfig({
    config,
    data: { path: join(dir, "chunk1.csv") },
    ...(input === undefined ? {} : { inputState: input }),
    outputState: output,
    callbacks: [{ onEpochEnd: () => void epochs.count++ }],
  });
}

/** Asserts that the update is a StateError matching `message`, raised before any epoch was trained and before the lock was taken. */
async function refusedBeforeTraining(dir: string, input: string | undefined, output: string, message: RegExp): Promise<void> {
  const epochs = { count: 0 };
  await assert.rejects(update(dir, input, output, epochs), (e) => e instanceof StateError && message.test(e.message), output);
  assert.equal(epochs.count, 0, `refused before training: ${output}`);
  assert.equal(existsSync(`${output}.lock`), false, `refused before taking the lock: ${output}`);
}

async function updatesDone(state: string): Promise<number> {
  const read = await readStateFolder(state);
  return (read!.manifest.data as { updatesDone: number }).updatesDone;
}

test("an output folder inside the input state, or containing it (any depth, through symlinks), is refused before training and the lock; the input is untouched", async (t) => {
  const dir = await workflowFolder();
  t.after(() => rm(dir, { recursive: true, force: true }));
  const cc = join(dir, "s", "cc");
  await update(dir, undefined, cc);
  await mkdir(join(dir, "outer", "a"), { recursive: true });
  await update(dir, undefined, join(dir, "outer", "a", "b"));
  await symlink(cc, join(dir, "s", "link"));
  const cases: [string, string, RegExp][] = [
    [cc, join(cc, "next"), /cc\/next is inside the input state folder .*cc: writing it would change the input state/],
    [cc, join(cc, "x", "y", "next"), /is inside the input state folder/],
    [join(dir, "s", "link"), join(dir, "s", "link", "next"), /is inside the input state folder .*link \(.*cc\)/],
    [join(dir, "s", "link"), join(cc, "next"), /is inside the input state folder/],
    [join(dir, "outer", "a", "b"), join(dir, "outer"), /contains the input state folder .*b: replacing it would delete the input state/],
    [join(dir, "outer", "a", "b"), join(dir, "outer", "a"), /contains the input state folder/],
  ];
  for (const [input, output, message] of cases) {
    await refusedBeforeTraining(dir, input, output, message);
    assert.ok(await readStateFolder(input), `the input state ${input} still reads`);
  }
  assert.equal(existsSync(join(cc, "next")), false);
});

test("an output inside any state folder (not only the input), or a non-empty folder that is no state, is refused before training", async (t) => {
  const dir = await workflowFolder();
  t.after(() => rm(dir, { recursive: true, force: true }));
  const other = join(dir, "other");
  await update(dir, undefined, other);
  await mkdir(join(dir, "photos"));
  await writeFile(join(dir, "photos", "a.jpg"), "not a state");
  // another tool's manifest.json (a web app's) does not make a state folder: an output inside it is fine
  await mkdir(join(dir, "app"));
  await writeFile(join(dir, "app", "manifest.json"), JSON.stringify({ name: "my app" }));
  assert.equal((await update(dir, undefined, join(dir, "app", "state"))).updatesDone, 1);
  const cases: [string, RegExp][] = [
    [join(other, "sub", "next"), /next is inside the state folder .*other: writing it would add an unlisted entry/],
    [join(dir, "photos"), /photos is not empty and has no manifest\.json/],
  ];
  for (const [output, message] of cases) await refusedBeforeTraining(dir, undefined, output, message);
  assert.ok(await readStateFolder(other));
});

test("an unlisted entry in a state folder: the message says to move it out, not only to restore a backup", async (t) => {
  const dir = await workflowFolder();
  t.after(() => rm(dir, { recursive: true, force: true }));
  const state = join(dir, "s");
  await update(dir, undefined, state);
  await mkdir(join(state, "next"));
  await assert.rejects(readStateFolder(state), /s\/next is not listed in .*manifest\.json.*Move that folder out of .*s /s);
});

test("symlinked state folders: in place through the link, and link-as-input with its target as output, both work; the link is kept and followed", async (t) => {
  const dir = await workflowFolder();
  t.after(() => rm(dir, { recursive: true, force: true }));
  const c = join(dir, "s", "c");
  const link = join(dir, "s", "link");
  await update(dir, undefined, c);
  await symlink("c", link);
  // in place through the symlink (the state/current -> v3 pattern): the new state is written where it points
  const inPlace = await update(dir, link, link);
  assert.equal(inPlace.updatesDone, 2);
  assert.ok((await lstat(link)).isSymbolicLink(), "the link is kept");
  assert.equal(await readlink(link), "c");
  assert.equal(await updatesDone(c), 2);
  // the link as input, its real folder as output: the same state, so no --overwrite-output-state is needed
  assert.equal((await update(dir, link, c)).updatesDone, 3);
  assert.equal(await updatesDone(link), 3);
  // and the other way round
  assert.equal((await update(dir, c, link)).updatesDone, 4);
  assert.equal(await updatesDone(c), 4);
});

test("a dangling symlink as output is refused before training, naming the symlink", async (t) => {
  const dir = await workflowFolder();
  t.after(() => rm(dir, { recursive: true, force: true }));
  await symlink(join(dir, "nowhere"), join(dir, "current"));
  await refusedBeforeTraining(dir, undefined, join(dir, "current"), /current is a symlink to a folder that does not exist/);
});

test("an output path that cannot be resolved (a symlink loop, a file where a folder must be) is a StateError naming it, before training", async (t) => {
  const dir = await workflowFolder();
  t.after(() => rm(dir, { recursive: true, force: true }));
  await symlink(join(dir, "loop-b"), join(dir, "loop-a"));
  await symlink(join(dir, "loop-a"), join(dir, "loop-b"));
  await refusedBeforeTraining(dir, undefined, join(dir, "loop-a"), /loop-a goes through a loop of symlinks/);
  await writeFile(join(dir, "a-file"), "x");
  await refusedBeforeTraining(dir, undefined, join(dir, "a-file", "sub"), /sub goes through a file where a folder must be/);
});
