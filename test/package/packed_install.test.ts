import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { createImportProbe, REPORTING_PACKAGES } from "../helpers/import_probe.js";
import { relativeLinks } from "../helpers/markdown_links.js";
import { workflowConfig, workflowFolder } from "../helpers/workflow_files.js";
import { writeConfig } from "../../src/workflow/config.js";
import { startRedisServer } from "../queue/redis_server.js";

// The package as a user gets it: `npm pack` of a clean copy of the repository (so
// the lifecycle's own build runs, as it does for `npm publish` and git installs),
// installed into a fresh project, then used from an ESM script, a TypeScript file
// (nodenext resolution) and the `relearn` bin, and its "relearn/queue" entry with a
// real Redis. The install reuses npm's cache
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
const TSCONFIG = (file: string): string => JSON.stringify({
  compilerOptions: { module: "nodenext", moduleResolution: "nodenext", target: "es2022", strict: true, noEmit: true, skipLibCheck: false },
  files: [file],
});

/** The packed and installed package, shared by the tests below (one pack and install: ~15 s, more on a busy machine). */
interface Installed {
  scratch: string;
  tarball: string;
  /** The tarball's listing: path -> mode string. */
  files: Map<string, string>;
  /** A fresh project with the tarball installed. */
  app: string;
}
let installed: Installed | undefined;

before(async () => {
  const scratch = mkdtempSync(join(tmpdir(), "relearn-pack-"));
  // A copy without dist/: packing must build the code itself.
  const source = join(scratch, "source");
  cpSync(REPO, source, { recursive: true, filter: (path) => !(dirname(path) === REPO && NOT_COPIED.has(basename(path))) });
  symlinkSync(join(REPO, "node_modules"), join(source, "node_modules"), "dir");
  const packed = run("npm", ["pack", "--json", "--pack-destination", scratch], source);
  const tarball = join(scratch, (JSON.parse(packed.stdout) as { filename: string }[])[0]!.filename);
  const listing = run("tar", ["-tvzf", tarball], scratch).stdout.split("\n").filter((line) => line !== "");
  const files = new Map(listing.map((line) => [line.split(/\s+/).at(-1)!, line.split(/\s+/)[0]!]));
  const app = join(scratch, "app");
  mkdirSync(app);
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }));
  run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", tarball], app);
  installed = { scratch, tarball, files, app };
});

after(() => {
  if (installed !== undefined) rmSync(installed.scratch, { recursive: true, force: true });
});

/**
 * tsc -p . in `app` without skipLibCheck: the errors outside tfjs' own declarations (which fail under strict) and
 * the packages `alsoTheirs` (none expected).
 */
function typeCheck(app: string, alsoTheirs: readonly string[] = []): string[] {
  const tsc = spawnSync(process.execPath, [TSC, "-p", "."], { cwd: app, encoding: "utf8", timeout: 240_000, env: ENV });
  assert.equal(tsc.error, undefined);
  const theirs = ["@tensorflow", ...alsoTheirs].map((name) => `node_modules/${name}/`);
  return tsc.stdout.split("\n").filter((line) => /^\S.*error TS/.test(line) && !theirs.some((prefix) => line.startsWith(prefix)));
}

test("npm pack ships a working package: ESM import, TypeScript types, one update and the relearn bin", { timeout: 600_000 }, (t) => {
  const { files, app } = installed!;
  const started = Date.now();
  const lap = (what: string): void => t.diagnostic(`${what}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  for (const file of ["dist/index.js", "dist/index.d.ts", "dist/cli/main.js", "LICENSE", "README.md", "package.json"]) {
    assert.ok(files.has(`package/${file}`), `${file} is in the tarball`);
  }
  assert.match(files.get("package/dist/cli/main.js")!, /^-rwx/, "the bin is executable in the tarball");
  const unwanted = [...files.keys()].filter((f) => f.endsWith(".map") || /^package\/(src|test|bench|scripts)\//.test(f));
  assert.deepEqual(unwanted, [], "no source maps (they would point at the unshipped src/) and no sources, tests or benches");

  const installedPackage = join(app, "node_modules", "relearn");
  assert.ok(readFileSync(join(installedPackage, "dist", "cli", "main.js"), "utf8").startsWith("#!/usr/bin/env node\n"), "the bin starts with a shebang");
  const missing = relativeLinks(readFileSync(join(installedPackage, "README.md"), "utf8")).filter((link) => !existsSync(join(installedPackage, link)));
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
  for (const name of [...REPORTING_PACKAGES, "bullmq", "ioredis"]) assert.equal(imports.has(name), false, `import "relearn" loaded ${name}`);

  writeFileSync(join(app, "check.ts"), TS_FILE);
  // One tsc run without skipLibCheck: only tfjs-layers' own declarations may fail under strict,
  // so `skipLibCheck: true` (which the README asks for) leaves no error at all.
  writeFileSync(join(app, "tsconfig.json"), TSCONFIG("check.ts"));
  assert.deepEqual(typeCheck(app), [], "relearn's own declarations and the user's file type-check");
  lap("type-checked");

  const help = run("npx", ["--no", "--", "relearn", "--help"], app);
  assert.match(help.stdout, /^Usage: relearn /m);
  const inspect = JSON.parse(run("npx", ["--no", "--", "relearn", "inspect", state, "--json"], app).stdout) as { updatesDone: number; updater: string };
  assert.deepEqual([inspect.updatesDone, inspect.updater], [1, "repeated-distillation"]);
  lap("ran the bin");
});

// relearn/queue from the installed package: a worker started in the script (its job processes run the installed
// dist/queue/job_process.js), an update enqueued, waited for and its status read; the entry's types resolve.
const QUEUE_SCRIPT = `
import { readConfig } from "relearn";
import { checkRedisReachable, parseRedisUrl, startWorker, UpdateProducer } from "relearn/queue";
const [url, dir] = process.argv.slice(2);
const redis = parseRedisUrl(url);
await checkRedisReachable(redis);
const worker = startWorker({ redis, log: () => {} });
const producer = new UpdateProducer(redis);
try {
  const config = await readConfig(dir + "/relearn.json");
  const job = await producer.enqueue({ config, data: { path: dir + "/chunk1.csv" }, outputState: dir + "/queued-state" });
  const result = await producer.waitFor(job.jobId, 240000);
  const status = await producer.status(job.jobId);
  console.log(JSON.stringify({ seq: job.seq, updatesDone: result.recovered ? null : result.summary.updatesDone, state: status?.state }));
} finally {
  await producer.close();
  await worker.close();
}
`;

const QUEUE_TS_FILE = `
import { parseRedisUrl, UpdateProducer, type EnqueuedUpdate, type UpdateJobResult, type WorkerOptions } from "relearn/queue";

const producer = new UpdateProducer(parseRedisUrl("redis://127.0.0.1:6379"));
const queued: Promise<EnqueuedUpdate> = producer.enqueue({ data: { path: "/data/chunk.csv" }, inputState: "/states/a", outputState: "/states/a" });
const waited: (id: string) => Promise<UpdateJobResult> = (id) => producer.waitFor(id);
const options: WorkerOptions = { redis: parseRedisUrl("redis://127.0.0.1:6379"), concurrency: 2 };
// @ts-expect-error an update needs its output state, so the entry's types really resolve (they are not any)
void producer.enqueue({ data: { path: "/data/chunk.csv" } });
export { queued, waited, options };
`;

test("relearn/queue from the packed package: a worker and an update job through the installed dist, typed", { timeout: 600_000 }, async () => {
  const { files, app } = installed!;
  for (const file of ["dist/queue/index.js", "dist/queue/index.d.ts", "dist/queue/job_process.js"]) assert.ok(files.has(`package/${file}`), `${file} is in the tarball`);
  const redis = await startRedisServer();
  const data = await workflowFolder(10);
  try {
    await writeConfig(join(data, "relearn.json"), workflowConfig({ maxEpochs: 1, consolidationEpochs: 1, backend: "cpu", memorySize: 20 }));
    writeFileSync(join(app, "queue.mjs"), QUEUE_SCRIPT);
    const out = JSON.parse(run(process.execPath, ["queue.mjs", redis.url, data], app).stdout) as Record<string, unknown>;
    assert.deepEqual(out, { seq: 1, updatesDone: 1, state: "completed" });
  } finally {
    await redis.stop();
    rmSync(data, { recursive: true, force: true });
  }
  writeFileSync(join(app, "queue_check.ts"), QUEUE_TS_FILE);
  writeFileSync(join(app, "tsconfig.json"), TSCONFIG("queue_check.ts"));
  // bullmq's and ioredis' declarations need @types/node, which this fresh project does not install; relearn's do not.
  assert.deepEqual(typeCheck(app, ["bullmq", "ioredis"]), [], "relearn/queue's declarations and the user's file type-check");
});
