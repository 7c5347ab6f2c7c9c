/**
 * `relearn export-state` and `relearn import-state`: a state folder as one
 * zip file and back (state/state_export.ts), the same archive a page
 * exports from IndexedDB, so a state updated in a browser can be inspected,
 * evaluated or continued here, and the other way round.
 */
import { randomBytes } from "node:crypto";
import { access, mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { basename, dirname, resolve } from "node:path";
import { Command } from "commander";
import { unzipSync } from "fflate";
import { StateError } from "../errors.js";
import { MANIFEST_FILE, type StateManifest } from "../state/format.js";
import { exportState, importState } from "../state/state_export.js";
import type { StateStore } from "../state/store.js";
import { printJson } from "./output.js";
import { checkOutputFile, checkOutputFolder } from "./output_path.js";

/** The summary both commands print. */
interface ArchiveSummary {
  state: string;
  archive: string;
  kind: string;
  manifestSha256: string | undefined;
  files: number;
  /** Bytes of the state's files (manifest.json not included). */
  bytes: number;
  /** Bytes of the zip file. */
  archiveBytes: number;
}

function summaryLine(verb: string, s: ArchiveSummary): string {
  return (
    `relearn ${verb}: ${s.kind} state ${s.state} ${verb === "export-state" ? "->" : "<-"} ${s.archive} ` +
    `(${s.files} files, ${(s.bytes / 1e6).toFixed(2)} MB; archive ${(s.archiveBytes / 1e6).toFixed(2)} MB; ` +
    `manifestSha256 ${s.manifestSha256 ?? "none (format 1)"})\n`
  );
}

/** `relearn export-state <state-folder> --out <file.zip>` over `store` (the file-system store). */
export function exportStateCommand(store: () => StateStore): Command {
  return new Command("export-state")
    .description("write a state folder as one zip file (verified first; the same state gives the same bytes)")
    .argument("<state-folder>", "the state to export")
    .requiredOption("--out <file.zip>", "the zip file to write (refused when it exists, unless --overwrite-output-file)")
    .option("--overwrite-output-file", "replace --out when it already exists")
    .option("--json", "print the summary as JSON on stdout")
    .addHelpText(
      "after",
      `
The archive holds manifest.json and the state's files; "unzip state.zip -d dir" gives a state folder relearn reads.
A page exports the same archive from IndexedDB (exportState), and import-state reads either.

Example:
  relearn export-state state/v2 --out v2.zip`,
    )
    .action(async (folder: string, flags: { out: string; overwriteOutputFile?: boolean; json?: boolean }) => {
      const states = store();
      await checkOutputFile(flags.out, "--out", "state.zip");
      const out = resolve(flags.out);
      if (flags.overwriteOutputFile !== true && (await exists(out))) {
        throw new StateError(`${out} already exists: choose another --out, or pass --overwrite-output-file to replace it`);
      }
      const archive = await exportState(states, folder);
      // Written beside and renamed: a reader (or a crash) never sees half an archive under the final name.
      const tmp = `${out}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
      try {
        await mkdir(dirname(out), { recursive: true });
        await writeFile(tmp, archive, { flag: "wx" });
        await rename(tmp, out);
      } catch (error) {
        await rm(tmp, { force: true });
        throw new StateError(`cannot write ${out}: ${(error as Error).message}`, { cause: error });
      }
      // The manifest as exported (reading the state again would verify every checksum twice).
      const manifestEntry = unzipSync(archive, { filter: (entry) => entry.name === MANIFEST_FILE })[MANIFEST_FILE]!;
      const manifest = JSON.parse(new TextDecoder().decode(manifestEntry)) as StateManifest;
      const summary = summarize(await states.resolve(folder), out, manifest, archive.length);
      if (flags.json === true) printJson(summary);
      else process.stdout.write(summaryLine("export-state", summary));
    });
}

/** `relearn import-state <file.zip> --out <state-folder>` over `store` (the file-system store). */
export function importStateCommand(store: () => StateStore): Command {
  return new Command("import-state")
    .description("write the state held in a zip file (from export-state or a page's exportState) into a state folder")
    .argument("<file.zip>", "the archive to import")
    .requiredOption("--out <state-folder>", "the state folder to write")
    .option("--overwrite-output-state", "replace the state already in --out (refused otherwise)")
    .option("--json", "print the summary as JSON on stdout")
    .addHelpText(
      "after",
      `
The archive is verified like a stored state (manifest checksum, every file's size and SHA-256, no extra entries)
before anything is written; the folder is written atomically, under its lock.

Example:
  relearn import-state v2.zip --out state/v2-restored`,
    )
    .action(async (file: string, flags: { out: string; overwriteOutputState?: boolean; json?: boolean }) => {
      await checkOutputFolder(flags.out, "--out");
      const states = store();
      const path = resolve(file);
      let bytes: Uint8Array;
      try {
        bytes = await readFile(path);
      } catch (error) {
        throw new StateError(`cannot read the archive ${path}: ${(error as Error).message}`, { cause: error });
      }
      const manifest = await importState(states, flags.out, bytes, {
        overwrite: flags.overwriteOutputState === true,
        source: basename(path),
      });
      const summary = summarize(await states.resolve(flags.out), path, manifest, bytes.length);
      if (flags.json === true) printJson(summary);
      else process.stdout.write(summaryLine("import-state", summary));
    });
}

function summarize(
  state: string,
  archive: string,
  manifest: StateManifest,
  archiveBytes: number,
): ArchiveSummary {
  const files = Object.values(manifest.files);
  return {
    state,
    archive,
    kind: manifest.kind,
    manifestSha256: manifest.manifestSha256,
    files: files.length,
    bytes: files.reduce((sum, file) => sum + file.bytes, 0),
    archiveBytes,
  };
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
