/**
 * Edits of a state folder's manifest.json for tests: `editManifestSealed`
 * writes the edit with a matching checksum and canonical text (as a tool that
 * knows the format would), so the checks behind the checksum (schema,
 * options, consistency) are what a test reaches.
 */
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { manifestToJson, sealManifest, type StateManifest } from "../../src/state/format.js";

/** A state's manifest, parsed (data typed loosely, for editing). */
export type EditableManifest = StateManifest & { data: Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any

export async function editManifestSealed(dir: string, edit: (manifest: EditableManifest) => void): Promise<void> {
  const path = join(dir, "manifest.json");
  const manifest = JSON.parse(await readFile(path, "utf8")) as EditableManifest;
  edit(manifest);
  await writeFile(path, manifestToJson(await sealManifest(manifest)));
}
