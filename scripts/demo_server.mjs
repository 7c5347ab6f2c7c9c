/**
 * Builds the browser demo (demo/) with esbuild and serves it on 127.0.0.1
 * with node:http: the page, its two bundles (page and worker), the bundled
 * Fashion-MNIST subset (data/fashion-mnist-subset/) and tfjs-backend-wasm's
 * .wasm files. Everything is built in memory; nothing is written to disk.
 * Used by scripts/demo-browser.mjs (npm run demo:browser) and by
 * test/browser/demo.test.ts.
 */
import { readFile } from "node:fs/promises";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";
import { browserPlatformPlugin } from "./esbuild_platform.mjs";

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const DATA_DIR = join(ROOT, "data", "fashion-mnist-subset");
const DATA_FILES = new Set([
  "train-images-idx3-ubyte.gz",
  "train-labels-idx1-ubyte.gz",
  "t10k-images-idx3-ubyte.gz",
  "t10k-labels-idx1-ubyte.gz",
]);
const WASM_DIR = dirname(createRequire(import.meta.url).resolve("@tensorflow/tfjs-backend-wasm"));
const TYPES = { ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".map": "application/json", ".wasm": "application/wasm", ".gz": "application/octet-stream" };

/**
 * The page and worker bundles, keyed by URL path ("/main.js", "/worker.js",
 * and their source maps). Throws esbuild's error (file and line) when the demo
 * does not compile.
 */
export async function buildDemo() {
  const result = await esbuild.build({
    entryPoints: { main: join(ROOT, "demo", "main.ts"), worker: join(ROOT, "demo", "worker.ts") },
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    minify: true,
    // Error classes keep their names (RelearnError sets name from the class), so messages say "StateError", not "wt".
    keepNames: true,
    sourcemap: "linked",
    outdir: "/",
    write: false,
    logLevel: "silent",
    plugins: [browserPlatformPlugin],
  });
  return new Map(result.outputFiles.map((file) => [file.path, file.contents]));
}

async function respond(bundles, pathname) {
  if (pathname === "/" || pathname === "/index.html") return { body: await readFile(join(ROOT, "demo", "index.html")), type: TYPES[".html"] };
  const bundle = bundles.get(pathname);
  if (bundle !== undefined) return { body: bundle, type: TYPES[pathname.endsWith(".map") ? ".map" : ".js"] };
  const data = /^\/data\/([^/]+)$/.exec(pathname);
  if (data && DATA_FILES.has(data[1])) return { body: await readFile(join(DATA_DIR, data[1])), type: TYPES[".gz"] };
  const wasm = /^\/wasm\/(tfjs-backend-wasm[a-z-]*\.wasm)$/.exec(pathname);
  if (wasm) return { body: await readFile(join(WASM_DIR, wasm[1])), type: TYPES[".wasm"] };
  return undefined;
}

/** The port to try first: fixed, because IndexedDB is per origin (port included) and the demo resumes from it. */
export const DEFAULT_DEMO_PORT = 8741;

/**
 * Builds the demo and serves it on 127.0.0.1:`port`. With port undefined the
 * default port is tried, then any free one. Resolves to { url, close }.
 */
export async function serveDemo({ port } = {}) {
  const bundles = await buildDemo();
  const server = createServer((request, response) => {
    const pathname = new URL(request.url ?? "/", "http://127.0.0.1").pathname;
    respond(bundles, pathname).then(
      (found) => {
        if (found === undefined) {
          response.writeHead(404, { "content-type": "text/plain" }).end(`not found: ${pathname}\n`);
          return;
        }
        response.writeHead(200, { "content-type": found.type, "cache-control": "no-store" }).end(found.body);
      },
      (error) => response.writeHead(500, { "content-type": "text/plain" }).end(`${error.message}\n`),
    );
  });
  const listen = (p) =>
    new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(p, "127.0.0.1", () => {
        server.off("error", reject);
        resolve(server.address().port);
      });
    });
  let actual;
  if (port !== undefined) {
    actual = await listen(port);
  } else {
    actual = await listen(DEFAULT_DEMO_PORT).catch((error) => {
      if (error.code !== "EADDRINUSE") throw error;
      return listen(0);
    });
  }
  return {
    url: `http://127.0.0.1:${actual}/`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
