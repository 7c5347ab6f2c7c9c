// Every command that writes an output checks it before any work (tester F-X): an existing file where a folder is
// wanted, a folder where a file is wanted, or a path under a file is a one-line error (exit 1) naming the flag, and
// nothing trains, predicts or loads first.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

function relearn(args: string[]) {
  return spawnSync(process.execPath, ["--import", "tsx", "src/cli/main.ts", ...args], { encoding: "utf8", timeout: 300_000 });
}

/** Exit 1, one stderr line (no stack trace, no progress before it) naming the flag and matching `says`. */
function assertRefusedUpFront(run: ReturnType<typeof relearn>, flag: string, says: RegExp): void {
  assert.equal(run.status, 1, `${run.stderr}`);
  const lines = run.stderr.trim().split("\n");
  assert.equal(lines.length, 1, `one line only, before any work:\n${run.stderr}`);
  assert.ok(lines[0]!.startsWith(`relearn: ${flag} `), lines[0]);
  assert.match(lines[0]!, says);
}

test("an unusable output path is refused before any work, exit 1, one line, by every command that writes one", async () => {
  const dir = await mkdtemp(join(tmpdir(), "relearn-outpaths-"));
  try {
    const file = join(dir, "afile");
    const folder = join(dir, "afolder");
    await writeFile(file, "not a folder\n");
    await mkdir(folder);
    const rows = Array.from({ length: 40 }, (_, i) => `${(i % 2) + 0.1 * (i % 5)},${i % 3 === 0 ? 1 : 0.5},${i % 2}`);
    const data = join(dir, "d.csv");
    await writeFile(data, ["f0,f1,label", ...rows].join("\n") + "\n");
    const config = join(dir, "c.json");
    assert.equal(relearn(["init", "--config", config, "--input-shape", "2", "--classes", "2", "--model", "mlp:4"]).status, 0);
    const state = join(dir, "s");
    const made = relearn(["update", "--config", config, "--data", data, "--output-state", state, "--epochs", "1"]);
    assert.equal(made.status, 0, made.stderr);

    const isFile = /is a file; --out is a folder/;
    const isFolder = /is a folder; --out is a file/;
    const underFile = /cannot be created: .*afile is a file, not a folder/;
    const bench = ["benchmark", "--dataset", data, "--test-dataset", data, "--tasks", "2", "--updaters", "fine-tuning", "--model", "mlp:4", "--epochs", "1", "--no-png"];
    assertRefusedUpFront(relearn([...bench, "--out", file]), "--out", isFile);
    assertRefusedUpFront(relearn([...bench, "--out", join(file, "sub")]), "--out", underFile);
    const tune = ["tune", "--config", config, "--data", data, "--val", data, "--trials", "1", "--epochs", "1"];
    assertRefusedUpFront(relearn([...tune, "--out", file]), "--out", isFile);
    assertRefusedUpFront(relearn(["predict", "--state", state, "--data", data, "--out", folder]), "--out", isFolder);
    assertRefusedUpFront(relearn(["predict", "--state", state, "--data", data, "--out", join(file, "p.csv")]), "--out", underFile);
    // --force cannot replace a folder: it is named as a folder, not as "exists; use --force".
    assertRefusedUpFront(relearn(["init", "--config", folder, "--force"]), "--config", /is a folder; --config is a file/);
    assertRefusedUpFront(relearn(["export-model", "--state", state, "--out", file]), "--out", isFile);
    assertRefusedUpFront(relearn(["export-state", state, "--out", folder, "--overwrite-output-file"]), "--out", isFolder);
    assertRefusedUpFront(relearn(["import-state", join(dir, "none.zip"), "--out", file]), "--out", isFile);
    assert.deepEqual(await readdir(folder), [], "nothing written into the refused folder");
    // A folder nothing can be created in (Linux's /proc refuses even root; permission bits would not).
    if (existsSync("/proc/self")) assertRefusedUpFront(relearn([...bench, "--out", "/proc/relearn-results"]), "--out", /cannot be created in \/proc/);

    // A missing folder on the way is created, not refused.
    const predicted = relearn(["predict", "--state", state, "--data", data, "--out", join(dir, "new", "deeper", "p.csv")]);
    assert.equal(predicted.status, 0, predicted.stderr);
    assert.deepEqual(await readdir(join(dir, "new", "deeper")), ["p.csv"]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
