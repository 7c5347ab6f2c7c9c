import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

/** The commands of the first ```sh block after `heading` in the README, continuation lines joined. */
function shBlock(readme: string, heading: string): string[][] {
  const at = readme.indexOf(heading);
  assert.ok(at >= 0, `README has ${heading}`);
  const block = /```sh\n([\s\S]*?)```/.exec(readme.slice(at))![1]!;
  return block.replace(/\\\n\s*/g, "").split("\n").map((line) => line.replace(/\s+#.*$/, "").trim()).filter(Boolean).map((line) => line.split(/\s+/));
}

// The README's tune and update --tune commands, as written, on the chunks make-chunks writes (smaller: a 16-unit
// model, 1 epoch, 2 trials, flags appended so they win), so the README cannot drift from the CLI.
test("the README's tune and update --tune commands run as written", async () => {
  const readme = await readFile("README.md", "utf8");
  const [update] = shBlock(readme, "### Tuning each update (`update --tune`)");
  const [tune] = shBlock(readme, "## Tuning hyper-parameters (`relearn tune`)");
  assert.deepEqual(tune!.slice(0, 4), ["npm", "run", "relearn", "--"]);
  assert.deepEqual(update!.slice(0, 4), ["npm", "run", "relearn", "--"]);
  const repo = resolve(".");
  const tsx = import.meta.resolve("tsx");
  const cwd = await mkdtemp(join(tmpdir(), "relearn-readme-tune-"));
  const run = (argv: string[]) => {
    const result = spawnSync(process.execPath, ["--import", tsx, ...argv], { cwd, encoding: "utf8", timeout: 300_000 });
    assert.equal(result.status, 0, `${argv.join(" ")}\n${result.stderr}`);
    return result;
  };
  const cli = join(repo, "src/cli/main.ts");
  try {
    run([join(repo, "examples/make-chunks.ts"), "chunks"]);
    run([cli, "init", "--config", "relearn.json", "--model", "mlp:16"]);
    const tuned = run([cli, ...tune!.slice(4), "--trials", "2", "--epochs", "1"]);
    assert.match(tuned.stdout, /best: val_accuracy/);
    const best = JSON.parse(await readFile(join(cwd, "tuning/best.json"), "utf8"));
    assert.equal(best.metric, "val_accuracy");
    run([cli, "update", "--config", "relearn.json", "--data", "chunks/chunk1-images.idx.gz", "--labels", "chunks/chunk1-labels.idx.gz", "--val", "chunks/val1-images.idx.gz", "--val-labels", "chunks/val1-labels.idx.gz", "--output-state", "state/v1", "--epochs", "1"]);
    const updated = run([cli, ...update!.slice(4), "--tune", "2", "--epochs", "1"]);
    assert.match(updated.stdout, /history: 2 rows in state\/v2\/tuning\/history\.csv/);
  } finally {
    await rm(cwd, { recursive: true, force: true });
  }
});
