#!/usr/bin/env node
// Builds dist/ from src/ the way the package ships it: a clean folder (no
// stale files of deleted modules get packed), tsc with tsconfig.build.json,
// the browser entry bundled (dist/browser.bundle.js, what package.json's
// "browser" export gives bundlers) with no node: import, and the `relearn`
// bin executable with its shebang checked. npm runs this as
// `prepare` before `npm pack`/`npm publish` and when installing from git.
import { spawnSync } from "node:child_process";
import { chmodSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { bundleBrowserEntry } from "./browser_bundle.mjs";

const BIN = "dist/cli/main.js";

rmSync("dist", { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
const result = spawnSync(process.execPath, [tsc, "-p", "tsconfig.build.json"], { stdio: "inherit" });
if (result.status !== 0) {
  console.error(`build: tsc failed (exit ${result.status ?? result.signal})`);
  process.exit(1);
}
if (!readFileSync(BIN, "utf8").startsWith("#!/usr/bin/env node\n")) {
  console.error(`build: ${BIN} does not start with "#!/usr/bin/env node"; keep the shebang first in src/cli/main.ts`);
  process.exit(1);
}
chmodSync(BIN, 0o755);

const browser = await bundleBrowserEntry({ outfile: "dist/browser.bundle.js" });
if (browser.nodeImports.length > 0) {
  console.error(`build: the browser bundle imports Node modules: ${browser.nodeImports.map((i) => `${i.path} (from ${i.from.join(", ")})`).join("; ")}`);
  process.exit(1);
}
