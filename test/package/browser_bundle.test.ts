/**
 * The browser build reaches no Node module, and the package's "exports"
 * conditions hand each host its build: browsers (esbuild, and any bundler
 * with the "browser" condition) the bundle of src/browser.ts, Node dist/index.js.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import * as esbuild from "esbuild";
import { bundleBrowserEntry } from "../../scripts/browser_bundle.mjs";

const ROOT = resolve(import.meta.dirname, "../..");

test("the browser entry bundles with zero node: imports (and the check sees them in the Node entry)", async () => {
  const browser = await bundleBrowserEntry({ entry: join(ROOT, "src/browser.ts") });
  assert.deepEqual(browser.nodeImports, [], `node: imports in the browser bundle: ${JSON.stringify(browser.nodeImports)}`);
  assert.ok(browser.inputs.some((file) => file.endsWith("src/platform.browser.ts")), "platform.browser.ts replaced platform.ts");
  assert.ok(!browser.inputs.some((file) => file.endsWith("src/platform.ts")), "platform.ts is not in the browser bundle");
  assert.ok(browser.inputs.some((file) => file.endsWith("src/updaters/repeated_distillation.ts")), "the updaters are in it");
  // The same check on the Node entry finds its node: imports: the test can fail.
  const node = await bundleBrowserEntry({ entry: join(ROOT, "src/index.ts") });
  assert.ok(node.nodeImports.some((i) => i.path === "node:fs/promises"), JSON.stringify(node.nodeImports));
  for (const name of ["@tensorflow/tfjs-core", "@tensorflow/tfjs-layers", "zod"]) assert.ok(browser.packages.includes(name), `${name} left to the app's bundler`);
  assert.ok(!browser.packages.includes("sharp"), "sharp (native) never reaches the browser build");
});

test("platform.ts and platform.browser.ts export the same names", async () => {
  const node = await import("../../src/platform.js");
  const browser = await import("../../src/platform.browser.js");
  assert.deepEqual(Object.keys(browser).sort(), Object.keys(node).sort());
  assert.equal(node.HOST, "node");
  assert.equal(browser.HOST, "browser");
});

test('package.json "exports": a browser bundler gets dist/browser.bundle.js, Node gets dist/index.js', async (t) => {
  assert.ok(existsSync(join(ROOT, "dist/browser.bundle.js")), "dist/ is missing: run `npm run build` first");
  const app = await mkdtemp(join(tmpdir(), "relearn-app-"));
  t.after(() => rm(app, { recursive: true, force: true }));
  await mkdir(join(app, "node_modules"));
  await symlink(ROOT, join(app, "node_modules", "relearn"), "dir");
  await writeFile(join(app, "main.js"), 'import { HOST, createUpdater } from "relearn";\nconsole.log(HOST, typeof createUpdater);\n');
  const result = await esbuild.build({
    entryPoints: [join(app, "main.js")], bundle: true, platform: "browser", format: "esm", write: false, metafile: true,
    external: ["@tensorflow/*", "zod", "pure-rand", "fflate"], logLevel: "silent", preserveSymlinks: true,
  });
  const browserInputs = Object.keys(result.metafile.inputs);
  assert.ok(browserInputs.some((file) => file.endsWith("relearn/dist/browser.bundle.js")), browserInputs.join(", "));
  // Node's own ESM resolution (the package refers to itself by name through the same "exports").
  assert.match(import.meta.resolve("relearn"), /\/dist\/index\.js$/);
});

test("error classes keep their names in a minified bundle (what a page or a worker message shows)", async () => {
  const result = await esbuild.build({
    entryPoints: [join(ROOT, "src/errors.ts")], bundle: true, format: "esm", platform: "browser", minify: true, write: false, logLevel: "silent",
  });
  const code = result.outputFiles[0]!.text;
  const errors = (await import(`data:text/javascript;base64,${Buffer.from(code).toString("base64")}`)) as Record<string, new (message: string) => Error>;
  const names = Object.values(errors).map((ErrorClass) => new ErrorClass("x").name).sort();
  assert.deepEqual(names, ["BackendError", "DataError", "MemoryError", "ModelError", "OptionsError", "RelearnError", "StateBusyError", "StateError", "TrainingError"]);
});
