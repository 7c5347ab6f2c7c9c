/**
 * Which bare packages a child process imports: a module-resolution hook
 * (node:module register) that appends every bare specifier it is asked to
 * resolve to a log file. Start the child with `--import <registerFile>` and
 * read the log after it exits. The hook runs on node's hooks thread, so it
 * writes a file instead of sharing memory with the child's main thread.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

export interface ImportProbe {
  /** Pass as `--import <registerFile>` to the child process. */
  registerFile: string;
  /** The bare specifiers resolved so far ("sharp", "vega", "@tensorflow/tfjs-core", ...), each once. */
  specifiers(): Set<string>;
}

const HOOKS = `
import { appendFileSync } from "node:fs";
let log;
export function initialize(data) { log = data.log; }
export async function resolve(specifier, context, next) {
  if (!/^(node:|[./]|file:|data:)/.test(specifier)) appendFileSync(log, specifier + "\\n");
  return next(specifier, context);
}
`;

/** A fresh probe in a temporary folder (left to the OS's temp cleanup: a few hundred bytes). */
export function createImportProbe(): ImportProbe {
  const dir = mkdtempSync(join(tmpdir(), "relearn-import-probe-"));
  const hooksFile = join(dir, "hooks.mjs");
  const registerFile = join(dir, "register.mjs");
  const log = join(dir, "imports.log");
  writeFileSync(log, "");
  writeFileSync(hooksFile, HOOKS);
  writeFileSync(
    registerFile,
    `import { register } from "node:module";\n` +
      `register(${JSON.stringify(pathToFileURL(hooksFile).href)}, { data: { log: ${JSON.stringify(log)} } });\n`,
  );
  return {
    registerFile,
    specifiers: () => new Set(readFileSync(log, "utf8").split("\n").filter((line) => line !== "")),
  };
}

/** The bare packages only a report needs (charts: SVG and PNG); importing the library must not load them. */
export const REPORTING_PACKAGES = ["sharp", "vega", "vega-lite"] as const;
