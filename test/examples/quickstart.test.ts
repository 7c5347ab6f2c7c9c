import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtemp, rm, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

// The README's quick start must run as written: examples/quickstart.ts is that code.
test("the README quick start runs: two RD updates, the second resumed from the first one's state", async () => {
  const dir = await mkdtemp(join(tmpdir(), "relearn-quickstart-"));
  try {
    const run = spawnSync(process.execPath, ["--import", "tsx", "examples/quickstart.ts", dir], { encoding: "utf8", timeout: 300_000 });
    assert.equal(run.status, 0, run.stderr);
    const lines = run.stdout.trim().split("\n");
    const first = /after update 1, accuracy on classes 0-4: ([\d.]+)/.exec(run.stdout);
    const second = /after update 2, accuracy on all 10 classes: ([\d.]+)/.exec(run.stdout);
    assert.ok(first && second, lines.join("\n"));
    assert.ok(Number(first[1]) > 0.6, `update 1 learns classes 0-4: ${first[1]}`);
    assert.ok(Number(second[1]) > 0.3, `update 2 knows more than the new half alone: ${second[1]}`);
    assert.equal(run.stderr.includes("Hi, looks like"), false, "the library is silent");
    const manifest = JSON.parse(await readFile(join(dir, "v2", "manifest.json"), "utf8")) as { kind: string; data: { updatesDone: number } };
    assert.equal(manifest.kind, "repeated-distillation");
    assert.equal(manifest.data.updatesDone, 2);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
