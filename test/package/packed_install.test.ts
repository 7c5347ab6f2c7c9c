import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { createImportProbe, REPORTING_PACKAGES } from "../helpers/import_probe.js";
import { relativeLinks } from "../helpers/markdown_links.js";

// The package as a user gets it: `npm pack` of a clean copy of the repository (so
// the lifecycle's own build runs, as it does for `npm publish` and git installs),
// installed into a fresh project, then used from an ESM script, a TypeScript file
// (nodenext resolution) and the `relearn` bin. The install reuses npm's cache
// (filled by `npm ci`) and skips audit and funding requests; it takes ~15 s.

const REPO = resolve(".");
// Ignored folders of a working copy (build output, results, states), never packed.
const NOT_COPIED = new Set(["node_modules", "dist", ".git", "results", "state", "tmp", ".scratch_wasm"]);
const TSC = createRequire(import.meta.url).resolve("typescript/bin/tsc");

// A user's shell, not `npm test`'s: npm passes its settings to scripts as npm_* variables
// (npm_config_local_prefix names this repository), which must not steer the fresh project's npm.
// The cache and the user's npmrc stay, so the install reuses what `npm ci` downloaded.
const KEPT_NPM_VARIABLES = new Set(["npm_config_cache", "npm_config_userconfig"]);
const ENV = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.toLowerCase().startsWith("npm_") || KEPT_NPM_VARIABLES.has(key)));

function run(command: string, args: string[], cwd: string, timeout = 240_000): SpawnSyncReturns<string> {
  const result = spawnSync(command, args, { cwd, encoding: "utf8", timeout, env: ENV });
  assert.equal(result.status, 0, `${command} ${args.join(" ")} in ${cwd} failed (${result.error?.message ?? `exit ${result.status}`}):\n${result.stdout}\n${result.stderr}`);
  return result;
}

const ESM_SCRIPT = `
import { RepeatedDistillationModelUpdater, buildModel, mlp, makeGaussianBlobs, evaluateDataset, loadFashionMnist } from "relearn";
const data = makeGaussianBlobs({ numClasses: 2, samplesPerClass: 40, dims: 4, seed: 0 });
const updater = new RepeatedDistillationModelUpdater({
  model: buildModel(mlp({ inputShape: [4], hidden: [8], classes: 2 }), { seed: 0 }),
  memorySize: 20, maxEpochs: 2, batchSize: 16, outputStateFolder: process.argv[2],
});
await updater.update(data);
const bundled = await loadFashionMnist({ source: "bundled" });
console.log(JSON.stringify({ updatesDone: updater.updatesDone, bundledTrain: bundled.train.labels.length, evaluate: typeof evaluateDataset }));
`;

const TS_FILE = `
import { RepeatedDistillationModelUpdater, buildModel, mlp, makeGaussianBlobs, type Dataset, type UpdateSummary } from "relearn";

const data: Dataset = makeGaussianBlobs({ numClasses: 2, samplesPerClass: 10, dims: 4, seed: 0 });
const updater = new RepeatedDistillationModelUpdater({ model: buildModel(mlp({ inputShape: [4], hidden: [8], classes: 2 }), { seed: 0 }), memorySize: 10 });
const items: number = data.labels.length;
const done: UpdateSummary["updatesDone"] = updater.updatesDone;
// @ts-expect-error a misspelt option is a type error, so the package's types really resolve (they are not any)
new RepeatedDistillationModelUpdater({ memorySze: 10 });
export { items, done };
`;

// skipLibCheck off, to see every declaration error there is.
const TSCONFIG = JSON.stringify({
  compilerOptions: { module: "nodenext", moduleResolution: "nodenext", target: "es2022", strict: true, noEmit: true, skipLibCheck: false },
  files: ["check.ts"],
});

test("npm pack ships a working package: ESM import, TypeScript types, one update and the relearn bin", { timeout: 600_000 }, (t) => {
  const scratch = mkdtempSync(join(tmpdir(), "relearn-pack-"));
  const started = Date.now();
  const lap = (what: string): void => t.diagnostic(`${what}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  try {
    // A copy without dist/: packing must build the code itself.
    const source = join(scratch, "source");
    cpSync(REPO, source, { recursive: true, filter: (path) => !(dirname(path) === REPO && NOT_COPIED.has(basename(path))) });
    symlinkSync(join(REPO, "node_modules"), join(source, "node_modules"), "dir");
    const packed = run("npm", ["pack", "--json", "--pack-destination", scratch], source);
    const tarball = join(scratch, (JSON.parse(packed.stdout) as { filename: string }[])[0]!.filename);
    lap("packed");

    const listing = run("tar", ["-tvzf", tarball], scratch).stdout.split("\n").filter((line) => line !== "");
    const files = new Map(listing.map((line) => [line.split(/\s+/).at(-1)!, line.split(/\s+/)[0]!]));
    for (const file of ["dist/index.js", "dist/index.d.ts", "dist/cli/main.js", "LICENSE", "README.md", "package.json"]) {
      assert.ok(files.has(`package/${file}`), `${file} is in the tarball`);
    }
    assert.match(files.get("package/dist/cli/main.js")!, /^-rwx/, "the bin is executable in the tarball");
    const unwanted = [...files.keys()].filter((f) => f.endsWith(".map") || /^package\/(src|test|bench|scripts)\//.test(f));
    assert.deepEqual(unwanted, [], "no source maps (they would point at the unshipped src/) and no sources, tests or benches");

    const app = join(scratch, "app");
    mkdirSync(app);
    writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }));
    run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", tarball], app);
    lap("installed");
    const installed = join(app, "node_modules", "relearn");
    assert.ok(readFileSync(join(installed, "dist", "cli", "main.js"), "utf8").startsWith("#!/usr/bin/env node\n"), "the bin starts with a shebang");
    const missing = relativeLinks(readFileSync(join(installed, "README.md"), "utf8")).filter((link) => !existsSync(join(installed, link)));
    assert.deepEqual(missing, [], "every file the packed README links to is in the package");

    writeFileSync(join(app, "update.mjs"), ESM_SCRIPT);
    const state = join(app, "state", "v1");
    const update = JSON.parse(run(process.execPath, ["update.mjs", state], app).stdout) as Record<string, unknown>;
    assert.deepEqual(update, { updatesDone: 1, bundledTrain: 10_000, evaluate: "function" });
    lap("updated from an ESM script");

    const probe = createImportProbe();
    run(process.execPath, ["--import", probe.registerFile, "--input-type=module", "-e", 'await import("relearn")'], app);
    const imports = probe.specifiers();
    assert.ok(imports.has("relearn"), "the probe saw the import");
    for (const name of REPORTING_PACKAGES) assert.equal(imports.has(name), false, `import "relearn" loaded ${name}`);

    writeFileSync(join(app, "check.ts"), TS_FILE);
    // One tsc run without skipLibCheck: only tfjs-layers' own declarations may fail under strict,
    // so `skipLibCheck: true` (which the README asks for) leaves no error at all.
    writeFileSync(join(app, "tsconfig.json"), TSCONFIG);
    const tsc = spawnSync(process.execPath, [TSC, "-p", "."], { cwd: app, encoding: "utf8", timeout: 240_000, env: ENV });
    assert.equal(tsc.error, undefined);
    const ours = tsc.stdout.split("\n").filter((line) => /^\S.*error TS/.test(line) && !line.startsWith("node_modules/@tensorflow/"));
    assert.deepEqual(ours, [], "relearn's own declarations and the user's file type-check");
    lap("type-checked");

    const help = run("npx", ["--no", "--", "relearn", "--help"], app);
    assert.match(help.stdout, /^Usage: relearn /m);
    const inspect = JSON.parse(run("npx", ["--no", "--", "relearn", "inspect", state, "--json"], app).stdout) as { updatesDone: number; updater: string };
    assert.deepEqual([inspect.updatesDone, inspect.updater], [1, "repeated-distillation"]);
    lap("ran the bin");
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
});
