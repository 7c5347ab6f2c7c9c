/**
 * The real-browser test harness (Node only): bundles a page or worker entry
 * with esbuild exactly as a browser app would get relearn, serves it on
 * 127.0.0.1, and drives Chromium (playwright-core) and Firefox ESR
 * (puppeteer-core over WebDriver BiDi) through one small interface.
 *
 * Browsers come from Debian (`apt-get install chromium chromium-headless-shell
 * firefox-esr`), never from a playwright/puppeteer download. A missing Chromium
 * is a failure, never a skip: CI must not pass without having run the browser
 * tests. Firefox may be left out only on request (RELEARN_SKIP_FIREFOX=1), and
 * the test output then says so.
 *
 * Every console error and uncaught page error of a page is collected; tests
 * call `assertNoProblems` (or `TestPage.problems`) so a page that logged an
 * error fails even when its result looks right.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { readFile, realpath } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { dirname, extname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";
import { chromium } from "playwright-core";
import puppeteer from "puppeteer-core";

/** The repository root (the folder of package.json). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** The browsers the tests run in. */
export type BrowserName = "chromium" | "firefox";

/** Set to "1" to leave Firefox out (CI time); the output then says it did not run. */
export const SKIP_FIREFOX_VARIABLE = "RELEARN_SKIP_FIREFOX";

/** Why Firefox is not run, or undefined when it is. */
export function firefoxSkipReason(): string | undefined {
  return process.env[SKIP_FIREFOX_VARIABLE] === "1"
    ? `Firefox ESR NOT run: ${SKIP_FIREFOX_VARIABLE}=1 is set`
    : undefined;
}

// ---------------------------------------------------------------------------
// Bundling

/** Options of `bundle`. */
export interface BundleOptions {
  /** Minify (bench: the size a user ships). Default false (readable stack traces in test failures). */
  minify?: boolean;
}

/**
 * Bundles `entry` (a path relative to the repository root, or absolute) for
 * the browser: ESM, everything inlined (tfjs included), relearn's host
 * modules swapped for their `.browser.ts` siblings. Returns the JavaScript.
 * Throws with esbuild's messages when a module cannot be bundled (a `node:`
 * import reaching the browser build is one).
 */
export async function bundle(entry: string, options: BundleOptions = {}): Promise<string> {
  const result = await esbuild.build({
    entryPoints: [resolve(REPO_ROOT, entry)],
    absWorkingDir: REPO_ROOT,
    bundle: true,
    platform: "browser",
    format: "esm",
    target: "es2022",
    minify: options.minify ?? false,
    write: false,
    logLevel: "silent",
    plugins: [await platformPlugin()],
  }).catch((error: unknown) => {
    const failure = error as { errors?: esbuild.Message[] };
    const messages = (failure.errors ?? []).map((m) => `  ${m.location?.file ?? "?"}: ${m.text}`);
    throw new Error(`esbuild could not bundle ${entry} for the browser:\n${messages.join("\n")}`, { cause: error });
  });
  const output = result.outputFiles[0];
  if (output === undefined) throw new Error(`esbuild produced no output for ${entry}`);
  return output.text;
}

/**
 * The plugin every browser build of relearn uses (scripts/esbuild_platform.mjs).
 * Imported through a variable specifier: it is plain JavaScript without types.
 */
async function platformPlugin(): Promise<esbuild.Plugin> {
  const path: string = new URL("../../scripts/esbuild_platform.mjs", import.meta.url).href;
  const module = (await import(path)) as { browserPlatformPlugin: esbuild.Plugin };
  return module.browserPlatformPlugin;
}

// ---------------------------------------------------------------------------
// Serving

/** Repository folders the test server serves as static files (read-only). */
const STATIC_PREFIXES = ["/node_modules/@tensorflow/", "/data/"];

const CONTENT_TYPES: Record<string, string> = {
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".html": "text/html; charset=utf-8",
  ".json": "application/json",
  ".wasm": "application/wasm",
  ".gz": "application/gzip",
};

/** A running test server. */
export interface TestServer {
  /** "http://127.0.0.1:<port>" (no trailing slash). */
  readonly origin: string;
  /** The page that loads the served script `name` + ".js" as a module, e.g. `${origin}/page.html`. */
  pageUrl(name: string): string;
  close(): Promise<void>;
}

/**
 * Serves `scripts` (URL name -> JavaScript, e.g. { page: "...", worker: "..." }
 * at /page.js and /worker.js, with /page.html loading /page.js as a module),
 * plus the tfjs packages (for their .wasm files) and data/ from the
 * repository, on 127.0.0.1 and a free port.
 */
export async function serve(scripts: Record<string, string>): Promise<TestServer> {
  const server = createServer((request, response) => {
    void handle(request.url ?? "/", scripts).then(
      ({ status, type, body }) => {
        response.writeHead(status, { "content-type": type, "cache-control": "no-store" });
        response.end(body);
      },
      (error: unknown) => {
        response.writeHead(500, { "content-type": "text/plain" });
        response.end(String(error));
      },
    );
  });
  await new Promise<void>((done, fail) => {
    server.once("error", fail);
    server.listen(0, "127.0.0.1", done);
  });
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    pageUrl: (name) => `${origin}/${name}.html`,
    close: () => closeServer(server),
  };
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((done) => server.close(() => done()));
}

async function handle(url: string, scripts: Record<string, string>): Promise<{ status: number; type: string; body: string | Uint8Array }> {
  const path = decodeURIComponent(new URL(url, "http://x").pathname);
  const name = path.slice(1).replace(/\.(js|html)$/, "");
  if (scripts[name] !== undefined) {
    if (path.endsWith(".js")) return { status: 200, type: CONTENT_TYPES[".js"]!, body: scripts[name] };
    if (path.endsWith(".html")) return { status: 200, type: CONTENT_TYPES[".html"]!, body: pageHtml(name) };
  }
  if (STATIC_PREFIXES.some((prefix) => path.startsWith(prefix))) {
    const file = resolve(REPO_ROOT, `.${path}`);
    // node_modules is a symlink in worktrees: check containment before following it.
    if (!relative(REPO_ROOT, file).split(sep).includes("..") && existsSync(file)) {
      const body = await readFile(await realpath(file));
      return { status: 200, type: CONTENT_TYPES[extname(file)] ?? "application/octet-stream", body };
    }
  }
  return { status: 404, type: "text/plain", body: `not found: ${path}` };
}

function pageHtml(name: string): string {
  // The empty icon keeps browsers from requesting /favicon.ico (a 404 is a console error).
  return `<!doctype html><html><head><meta charset="utf-8"><link rel="icon" href="data:,">` +
    `<title>relearn browser test</title><script type="module" src="/${name}.js"></script></head><body></body></html>`;
}

// ---------------------------------------------------------------------------
// Browsers

/** One tab. */
export interface TestPage {
  goto(url: string): Promise<void>;
  reload(): Promise<void>;
  /** Evaluates a JavaScript expression in the page; a promise is awaited. The result must be JSON-serializable. */
  evaluate<T>(expression: string): Promise<T>;
  /** Console errors and uncaught errors seen so far, as text. */
  readonly problems: string[];
  close(): Promise<void>;
}

/** An isolated profile (own IndexedDB, own locks): one per test. */
export interface TestContext {
  newPage(): Promise<TestPage>;
  close(): Promise<void>;
}

/** A running browser. */
export interface TestBrowser {
  readonly name: BrowserName;
  /** e.g. "chromium 156.0.7528.0" */
  readonly version: string;
  newContext(): Promise<TestContext>;
  close(): Promise<void>;
}

/** Where each browser's binary is looked for, in order. */
export const BROWSER_BINARIES: Record<BrowserName, readonly string[]> = {
  chromium: ["/usr/bin/chromium-headless-shell", "/usr/bin/chromium"],
  firefox: ["/usr/bin/firefox-esr"],
};

const INSTALL_HINT: Record<BrowserName, string> = {
  chromium: "apt-get install chromium chromium-headless-shell",
  firefox: "apt-get install firefox-esr",
};

/** The binary of `name`, or an error saying how to install it (the tests fail on it, never skip). */
export function browserBinary(name: BrowserName): string {
  const found = BROWSER_BINARIES[name].find((path) => existsSync(path));
  if (found === undefined) {
    throw new Error(
      `${name} is not installed (looked for ${BROWSER_BINARIES[name].join(", ")}): ` +
        `run \`${INSTALL_HINT[name]}\` (the browser tests are part of npm test and never skipped)`,
    );
  }
  return found;
}

/** Options of `launchBrowser`. */
export interface LaunchOptions {
  /**
   * Allow WebGL on a software renderer (no GPU here): Chromium's SwiftShader
   * needs `--enable-unsafe-swiftshader`, Firefox `webgl.force-enabled`.
   */
  webgl?: boolean;
}

/** Starts headless `name` from its Debian binary. */
export async function launchBrowser(name: BrowserName, options: LaunchOptions = {}): Promise<TestBrowser> {
  const executablePath = browserBinary(name);
  const webgl = options.webgl ?? false;
  if (name === "firefox") return launchFirefox(executablePath, webgl);
  // The sandbox needs user namespaces that root in a container does not have.
  const args = [...(process.getuid?.() === 0 ? ["--no-sandbox"] : []), ...(webgl ? ["--enable-unsafe-swiftshader"] : [])];
  return launchChromium(executablePath, args);
}

async function launchChromium(executablePath: string, args: string[]): Promise<TestBrowser> {
  const browser = await chromium.launch({ executablePath, args, headless: true });
  return {
    name: "chromium",
    version: `chromium ${browser.version()}`,
    async newContext() {
      const context = await browser.newContext();
      return { newPage: async () => wrapPage(await context.newPage()), close: () => context.close() };
    },
    close: () => browser.close(),
  };
}

async function launchFirefox(executablePath: string, webgl: boolean): Promise<TestBrowser> {
  // puppeteer-core speaks WebDriver BiDi to Firefox (its default for "firefox").
  const browser = await puppeteer.launch({
    browser: "firefox",
    executablePath,
    headless: true,
    ...(webgl ? { extraPrefsFirefox: { "webgl.force-enabled": true } } : {}),
  });
  const version = (await browser.version()).replace(/^firefox\//i, "");
  return {
    name: "firefox",
    version: `firefox ${version}`,
    async newContext() {
      const context = await browser.createBrowserContext();
      // puppeteer's typed `on` is one generic signature; its pages emit the same events.
      return { newPage: async () => wrapPage((await context.newPage()) as unknown as DriverPage), close: () => context.close() };
    },
    close: () => browser.close(),
  };
}

/** What playwright's and puppeteer's pages both offer, as far as the tests use them. */
interface DriverPage {
  on(event: "console", listener: (message: { type(): string; text(): string }) => void): unknown;
  on(event: "pageerror", listener: (error: unknown) => void): unknown;
  goto(url: string, options: { waitUntil: "load" }): Promise<unknown>;
  reload(options: { waitUntil: "load" }): Promise<unknown>;
  evaluate(expression: string): Promise<unknown>;
  close(): Promise<void>;
}

function wrapPage(page: DriverPage): TestPage {
  const problems: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(`console.error: ${message.text()}`);
  });
  page.on("pageerror", (error) => {
    problems.push(`uncaught: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  });
  return {
    problems,
    goto: async (url) => void (await page.goto(url, { waitUntil: "load" })),
    reload: async () => void (await page.reload({ waitUntil: "load" })),
    evaluate: async <T>(expression: string) => (await page.evaluate(expression)) as T,
    close: () => page.close(),
  };
}

/** Fails with every console error and uncaught error the pages logged. */
export function assertNoProblems(...pages: TestPage[]): void {
  const problems = pages.flatMap((page) => page.problems);
  assert.deepEqual(problems, [], `the page logged errors:\n${problems.join("\n")}`);
}

// ---------------------------------------------------------------------------
// Calling the test pages (test/browser/pages/page.ts)

/**
 * Calls `globalThis.relearnTest[method](...args)` in the page (see
 * pages/page.ts) and returns its JSON result. An error thrown in the page is
 * rethrown here with the page's message.
 */
export async function callPage<T>(page: TestPage, method: string, ...args: unknown[]): Promise<T> {
  // Module scripts run before "load", so the API is there unless the bundle failed to start.
  if (!(await page.evaluate<boolean>("globalThis.relearnTest !== undefined"))) {
    throw new Error(`the test page did not start (no globalThis.relearnTest):\n${page.problems.join("\n")}`);
  }
  const argList = args.map((arg) => JSON.stringify(arg)).join(", ");
  return page.evaluate<T>(`globalThis.relearnTest.${method}(${argList})`);
}

/** Decodes the base64 that pages return for bytes. */
export function fromBase64(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, "base64"));
}

/** The path of a file under test/browser/, for bundle(). */
export function browserTestFile(name: string): string {
  return join("test", "browser", name);
}
