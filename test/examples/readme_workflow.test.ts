import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

// Runs the shell block of the README's "Keep a model up to date" section as written
// (with one training epoch per phase to keep it short), so the README cannot drift from the CLI.
test("the README's 'Keep a model up to date' commands run as written", async () => {
  const readme = await readFile("README.md", "utf8");
  const section = readme.slice(readme.indexOf("## Keep a model up to date"));
  const block = /```sh\n([\s\S]*?)```/.exec(section)![1]!;
  const commands = block
    .replace(/\\\n\s*/g, "")
    .split("\n")
    .map((line) => line.replace(/\s+#.*$/, "").trim())
    .filter(Boolean);
  assert.ok(commands.length >= 8, commands.join("\n"));
  const repo = resolve(".");
  const tsx = import.meta.resolve("tsx"); // an absolute loader URL: the commands run in a temp folder
  const cwd = await mkdtemp(join(tmpdir(), "relearn-readme-"));
  try {
    for (const command of commands) {
      const args = command.split(/\s+/);
      let argv: string[];
      if (args[0] === "npx" && args[1] === "tsx") argv = ["--import", tsx, join(repo, args[2]!), ...args.slice(3)];
      else if (args.slice(0, 4).join(" ") === "npm run relearn --") argv = ["--import", tsx, join(repo, "src/cli/main.ts"), ...args.slice(4)];
      else throw new Error(`unexpected README command: ${command}`);
      if (argv.includes("update")) argv.push("--epochs", "1");
      const run = spawnSync(process.execPath, argv, { cwd, encoding: "utf8", timeout: 300_000 });
      assert.equal(run.status, 0, `${command}\n${run.stderr}`);
    }
    const inspection = spawnSync(process.execPath, ["--import", tsx, join(repo, "src/cli/main.ts"), "inspect", "state/v3", "--json"], { cwd, encoding: "utf8" });
    assert.equal((JSON.parse(inspection.stdout) as { updatesDone: number }).updatesDone, 3);
    const predictions = (await readFile(join(cwd, "predictions.jsonl"), "utf8")).trim().split("\n");
    assert.equal(predictions.length, 2000);
  } finally {
    await rm(cwd, { recursive: true, force: true });
  }
});
