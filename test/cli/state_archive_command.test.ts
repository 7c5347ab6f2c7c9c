// relearn export-state / import-state: a state folder as one zip file and back, through the command line.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileSystemStore } from "../../src/state/fs_store.js";

const relearn = (args: string[]) => spawnSync(process.execPath, ["--import", "tsx", "src/cli/main.ts", ...args], { encoding: "utf8", timeout: 120_000 });

async function folderBytes(root: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) out.set(relative(root, join(entry.parentPath, entry.name)), (await readFile(join(entry.parentPath, entry.name))).toString("base64"));
  }
  return out;
}

test("export-state then import-state gives back the folder byte for byte; existing outputs, locks and damage are refused", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "relearn-cli-archive-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const store = fileSystemStore();
  const v1 = join(dir, "v1");
  const manifest = await store.write(v1, {
    kind: "test-updater",
    write: async (files) => {
      await files.writeFile("model/model.json", '{"modelTopology":{}}');
      await files.writeFile("memory/x.bin", Uint8Array.from({ length: 400 }, (_, i) => i % 256));
      return { counters: { updates: 1 } };
    },
  });
  const zip = join(dir, "v1.zip");

  let run = relearn(["export-state", v1, "--out", zip]);
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, new RegExp(`^relearn export-state: test-updater state ${v1} -> ${zip} \\(2 files, 0\\.00 MB; .* manifestSha256 ${manifest.manifestSha256}\\)`));
  const archive = await readFile(zip);

  run = relearn(["export-state", v1, "--out", zip]);
  assert.equal(run.status, 1);
  assert.match(run.stderr, /v1\.zip already exists: choose another --out, or pass --overwrite-output-file/);
  run = relearn(["export-state", v1, "--out", zip, "--overwrite-output-file", "--json"]);
  assert.equal(run.status, 0, run.stderr);
  assert.equal((JSON.parse(run.stdout) as { manifestSha256: string }).manifestSha256, manifest.manifestSha256);
  assert.deepEqual(await readFile(zip), archive, "the same state exports to the same bytes");
  assert.deepEqual((await readdir(dir)).sort(), ["v1", "v1.zip"], "no temporary file is left");

  const v2 = join(dir, "v2");
  run = relearn(["import-state", zip, "--out", v2]);
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, /^relearn import-state: test-updater state .*v2 <- .*v1\.zip/);
  assert.deepEqual(await folderBytes(v2), await folderBytes(v1));

  run = relearn(["import-state", zip, "--out", v2]);
  assert.equal(run.status, 1);
  assert.match(run.stderr, /v2 already holds a state: importing would replace it; .*--overwrite-output-state/);

  const lock = await store.lock(v2);
  try {
    run = relearn(["import-state", zip, "--out", v2, "--overwrite-output-state"]);
    assert.equal(run.status, 1);
    assert.match(run.stderr, /v2/);
    assert.match(run.stderr, /lock/);
  } finally {
    await lock.release();
  }

  const damaged = Buffer.from(archive);
  damaged.write("NOTZIP", damaged.length - 22, "latin1"); // the end-of-central-directory record
  await writeFile(join(dir, "bad.zip"), damaged);
  run = relearn(["import-state", join(dir, "bad.zip"), "--out", join(dir, "v3")]);
  assert.equal(run.status, 1);
  assert.match(run.stderr, /^relearn: bad\.zip is not a readable zip archive/);
  run = relearn(["import-state", join(dir, "missing.zip"), "--out", join(dir, "v3")]);
  assert.equal(run.status, 1);
  assert.match(run.stderr, /cannot read the archive .*missing\.zip/);
  assert.deepEqual((await readdir(dir)).sort(), ["bad.zip", "v1", "v1.zip", "v2"]);
});
