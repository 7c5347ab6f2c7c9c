// IDX images given without their labels file: the error names the flag that gives the labels of that very file
// (--labels for --data, --val-labels for --val), on every command that reads a validation file.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { encodeIdx } from "../../src/data/idx.js";
import { DIMS, workflowFolder } from "../helpers/workflow_files.js";

const relearn = (args: string[]) => spawnSync(process.execPath, ["--import", "tsx", "src/cli/main.ts", ...args], { encoding: "utf8", timeout: 120_000 });

test("IDX images without labels: --data asks for --labels, --val for --val-labels (update and tune)", async () => {
  const dir = await workflowFolder(10);
  try {
    const n = 12;
    await writeFile(join(dir, "images.idx"), encodeIdx([n, DIMS], Uint8Array.from({ length: n * DIMS }, (_, i) => (i * 37) % 256)));
    const config = join(dir, "relearn.json");
    const csv = join(dir, "chunk1.csv");
    const images = join(dir, "images.idx");
    const cases: [string, string[], string][] = [
      ["update --data", ["update", "--config", config, "--data", images, "--output-state", join(dir, "a")], "--labels"],
      ["update --val", ["update", "--config", config, "--data", csv, "--val", images, "--output-state", join(dir, "b")], "--val-labels"],
      ["tune --val", ["tune", "--config", config, "--data", csv, "--val", images, "--trials", "1", "--out", join(dir, "t")], "--val-labels"],
    ];
    const orphan = relearn(["update", "--config", config, "--data", csv, "--val-labels", images, "--output-state", join(dir, "c")]);
    assert.equal(orphan.status, 1);
    assert.match(orphan.stderr, /--val-labels is the labels file of --val: give --val too/);
    for (const [name, args, flag] of cases) {
      const run = relearn(args);
      assert.notEqual(run.status, 0, name);
      assert.match(run.stderr, new RegExp(`images\\.idx: IDX images .* need their labels file too \\(${flag}\\)`), `${name}: ${run.stderr}`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
