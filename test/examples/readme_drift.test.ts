import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

// Runs the README's drift command as written, on the chunks and config of "Keep a model up to date", and checks it
// prints what the README shows (the MMD^2 and length scale digits may differ by backend; the rest may not).
test("the README's 'Has the data drifted?' command prints what the README shows", async () => {
  const readme = await readFile("README.md", "utf8");
  const section = readme.slice(readme.indexOf("## Has the data drifted?"));
  const [, command, shown] = /```sh\n(.*)\n```\n\n```\n([\s\S]*?)```/.exec(section)!;
  const args = command!.split(/\s+/);
  assert.equal(args.slice(0, 4).join(" "), "npm run relearn --");
  const repo = resolve(".");
  const tsx = import.meta.resolve("tsx");
  const cli = (argv: string[]) => spawnSync(process.execPath, ["--import", tsx, ...argv], { cwd, encoding: "utf8", timeout: 300_000 });
  const cwd = await mkdtemp(join(tmpdir(), "relearn-readme-drift-"));
  try {
    assert.equal(cli([join(repo, "examples/make-chunks.ts"), "chunks"]).status, 0);
    assert.equal(cli([join(repo, "src/cli/main.ts"), "init", "--config", "relearn.json"]).status, 0);
    const run = cli([join(repo, "src/cli/main.ts"), ...args.slice(4)]);
    assert.equal(run.status, 0, run.stderr);
    const digitsFree = (text: string) => text.replace(/MMD\^2 [0-9.e-]+, RBF length scale [0-9.]+/, "MMD^2 x, RBF length scale y");
    assert.equal(digitsFree(run.stdout), digitsFree(shown!));
  } finally {
    await rm(cwd, { recursive: true, force: true });
  }
});
