/**
 * The browser build of relearn's entry (src/browser.ts): one ESM file of
 * relearn's own code with platform.browser.ts in place of platform.ts
 * (esbuild_platform.mjs), its npm dependencies left as imports for the
 * user's bundler to resolve (one tfjs-core for the app and relearn).
 * `nodeImports` lists every `node:` (or Node built-in) import that reached
 * the bundle: the build and test/package/browser_bundle.test.ts fail on any.
 */
import { builtinModules } from "node:module";
import * as esbuild from "esbuild";
import { browserPlatformPlugin } from "./esbuild_platform.mjs";

const NODE_BUILTINS = new Set(builtinModules);

/** Bundles `entry` for browsers; returns the code and what it imports from outside. */
export async function bundleBrowserEntry({ entry = "src/browser.ts", outfile, minify = false } = {}) {
  const result = await esbuild.build({
    entryPoints: [entry],
    bundle: true,
    platform: "browser",
    format: "esm",
    target: "es2022",
    packages: "external",
    minify,
    write: outfile !== undefined,
    ...(outfile === undefined ? {} : { outfile }),
    metafile: true,
    plugins: [browserPlatformPlugin],
    logLevel: "silent",
  });
  const external = new Map();
  for (const [file, info] of Object.entries(result.metafile.inputs)) {
    for (const imported of info.imports) {
      if (!imported.external) continue;
      const users = external.get(imported.path) ?? new Set();
      users.add(file);
      external.set(imported.path, users);
    }
  }
  const nodeImports = [...external.keys()].filter((path) => path.startsWith("node:") || NODE_BUILTINS.has(path.split("/")[0]));
  const packages = [...external.keys()].filter((path) => !nodeImports.includes(path));
  const output = Object.values(result.metafile.outputs)[0];
  return {
    bytes: output?.bytes ?? result.outputFiles?.[0]?.contents.byteLength ?? 0,
    code: result.outputFiles?.[0]?.text,
    nodeImports: nodeImports.map((path) => ({ path, from: [...external.get(path)] })),
    packages,
    inputs: Object.keys(result.metafile.inputs),
  };
}
