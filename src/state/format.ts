/**
 * The state folder format: `manifest.json` plus the files it lists.
 *
 * The manifest has no timestamps and is serialised with sorted keys, so the
 * same state always gives a byte-identical folder (diffable, cacheable,
 * testable). `formatVersion` is bumped on any change a reader of the old
 * version could misread; a reader refuses every other version.
 *
 * The manifest checksums every other file, and since format 2 itself too:
 * `manifestSha256` is the SHA-256 of the manifest's canonical text without
 * that field, and a reader also requires the file to be exactly the
 * canonical text of what it holds. So any edited byte of manifest.json is
 * an error naming it, as for any other file.
 *
 * Pure format logic, no file system: every store (state/store.ts) uses it.
 */
import * as z from "zod";
import { StateError } from "../errors.js";
import { sha256Hex } from "./sha256.js";

/**
 * The state folder format this relearn writes. Format 1 (relearn 0.1.0
 * before manifest checksums: no `manifestSha256`) is still read.
 */
export const STATE_FORMAT_VERSION = 2;

/** Every format version this relearn reads. */
export const READABLE_FORMAT_VERSIONS: readonly number[] = [1, STATE_FORMAT_VERSION];

/** The library name recorded in every manifest. */
export const LIBRARY_NAME = "relearn";

/**
 * The relearn version recorded in manifests. Informative only: compatibility
 * is decided by `formatVersion`. Keep in step with package.json.
 */
export const LIBRARY_VERSION = "0.1.0";

/** The manifest's file name at the root of a state folder. */
export const MANIFEST_FILE = "manifest.json";

/**
 * Files a state keeps for tools other than its updater, which every update carries on unchanged into the state it
 * writes: the tuning history `relearn update --tune` appends to (src/tuning/trials_table.ts).
 */
export const TUNING_HISTORY_FILE = "tuning/history.csv";
export const CARRIED_FILES: readonly string[] = [TUNING_HISTORY_FILE];

/** Size and SHA-256 (lowercase hex) of one file of the folder. */
export const fileEntrySchema = z.strictObject({
  sha256: z.string().regex(/^[0-9a-f]{64}$/, "expected 64 lowercase hex digits"),
  bytes: z.number().int().nonnegative(),
});

/** Schema of manifest.json (format 2; format 1 is the same without `manifestSha256`). */
export const manifestSchema = z.strictObject({
  formatVersion: z.literal(STATE_FORMAT_VERSION),
  library: z.strictObject({ name: z.literal(LIBRARY_NAME), version: z.string().min(1) }),
  /** What wrote the folder, e.g. "repeated-distillation": an updater refuses another kind's state. */
  kind: z.string().min(1),
  /** Every file of the folder but the manifest, keyed by its "/"-separated path relative to the folder. */
  files: z.record(z.string(), fileEntrySchema),
  /** The updater's own JSON (options, counters, random state, column descriptors...). */
  data: z.unknown().refine((value) => value !== undefined, "is missing"),
  /** SHA-256 (lowercase hex) of the manifest's canonical text without this field. */
  manifestSha256: z.string().regex(/^[0-9a-f]{64}$/, "expected 64 lowercase hex digits"),
});

/** Schema of a format-1 manifest (no checksum of its own). */
const manifestV1Schema = manifestSchema.omit({ manifestSha256: true }).extend({ formatVersion: z.literal(1) });

/** One file's entry in the manifest. */
export type FileEntry = z.infer<typeof fileEntrySchema>;

/** The parsed content of manifest.json. */
export interface StateManifest {
  /** STATE_FORMAT_VERSION, or 1 for a state read from the previous format. */
  formatVersion: number;
  library: { name: typeof LIBRARY_NAME; version: string };
  kind: string;
  files: Record<string, FileEntry>;
  data: unknown;
  /** Absent in format 1 only. */
  manifestSha256?: string;
}

/**
 * manifest.json's text: top-level keys in the schema's order (formatVersion
 * first, for whoever opens the file), sorted keys below, the checksum last.
 */
export function manifestToJson(manifest: StateManifest): string {
  const ordered = {
    formatVersion: manifest.formatVersion,
    library: { name: manifest.library.name, version: manifest.library.version },
    kind: manifest.kind,
    files: canonicalJson(manifest.files, "files"),
    data: canonicalJson(manifest.data, "data"),
    ...(manifest.manifestSha256 === undefined ? {} : { manifestSha256: manifest.manifestSha256 }),
  };
  return JSON.stringify(ordered, null, 2) + "\n";
}

/** The manifest with its `manifestSha256` filled in (any given one is replaced). */
export async function sealManifest(manifest: StateManifest): Promise<StateManifest> {
  const content: StateManifest = { ...manifest };
  delete content.manifestSha256;
  return { ...content, manifestSha256: await sha256Hex(manifestToJson(content)) };
}

/**
 * Parses and checks the text of `manifestPath` (a name for messages only):
 * JSON, a readable format version, the schema, safe file paths, and for
 * format 2 the checksum and the exact canonical text. Every error is a
 * StateError naming the file.
 */
export async function parseManifest(text: string, manifestPath: string): Promise<StateManifest> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new StateError(`${manifestPath} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  // Checked before the schema: a newer format may differ anywhere, and "found 3, supported 2" is the useful message.
  const found = (json as { formatVersion?: unknown } | null)?.formatVersion;
  if (typeof json === "object" && json !== null && found !== undefined && !READABLE_FORMAT_VERSIONS.includes(found as number)) {
    throw new StateError(
      `${manifestPath} has formatVersion ${JSON.stringify(found)}, but this relearn (${LIBRARY_VERSION}) ` +
        `reads formatVersion ${READABLE_FORMAT_VERSIONS.join(" and ")} only`,
    );
  }
  const parsed = (found === 1 ? manifestV1Schema : manifestSchema).safeParse(json);
  if (!parsed.success) {
    throw new StateError(`${manifestPath} is not a valid state manifest: ${describeZodIssue(parsed.error, [])}`);
  }
  const manifest = parsed.data as StateManifest;
  for (const relative of Object.keys(manifest.files)) {
    const problem = checkRelativePath(relative);
    if (problem !== undefined) {
      throw new StateError(`${manifestPath} lists the file "${relative}", whose path ${problem}`);
    }
  }
  if (manifest.manifestSha256 !== undefined) {
    if ((await sealManifest(manifest)).manifestSha256 !== manifest.manifestSha256) {
      throw new StateError(
        `${manifestPath}: checksum mismatch: the manifest was modified (its content does not match its manifestSha256); ` +
          `restore the state folder from a backup`,
      );
    }
    if (manifestToJson(manifest) !== text) {
      throw new StateError(
        `${manifestPath} was modified: its bytes are not the canonical text relearn writes (spacing, key order or ` +
          `number format changed); restore the state folder from a backup`,
      );
    }
  }
  return manifest;
}

/** The first schema issue as `field "a.b": message` (zod's own message), with a count of the others. */
export function describeZodIssue(error: z.ZodError, prefix: readonly PropertyKey[]): string {
  const issue = error.issues[0];
  if (issue === undefined) return "invalid";
  const path = [...prefix, ...issue.path].map(String).join(".");
  const more = error.issues.length > 1 ? ` (and ${error.issues.length - 1} more issue(s))` : "";
  return `${path === "" ? "" : `field "${path}": `}${issue.message}${more}`;
}

/**
 * JSON with object keys sorted at every depth and 2-space indentation, ending
 * in a newline. Refuses what JSON.stringify would silently change or drop
 * (NaN/Infinity become null, typed arrays become objects, Maps become {}), so
 * a value read back is the value written. `undefined` object properties are
 * omitted, as in JSON.stringify.
 */
export function stableStringify(value: unknown, what = "value"): string {
  return JSON.stringify(canonicalJson(value, what), null, 2) + "\n";
}

/**
 * The JSON value `stableStringify` writes: plain objects rebuilt with sorted
 * keys. Throws a StateError naming the path (from `path`) of a value JSON
 * cannot hold faithfully.
 */
export function canonicalJson(value: unknown, path = "value"): unknown {
  if (value === null || typeof value === "string" || typeof value === "boolean") return value;
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new StateError(`${path} = ${value} cannot be stored in JSON (not a finite number)`);
    return value;
  }
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    for (let i = 0; i < value.length; i++) out.push(canonicalJson(value[i], `${path}[${i}]`));
    return out;
  }
  if (typeof value === "object") {
    if (ArrayBuffer.isView(value)) {
      throw new StateError(`${path} is a ${value.constructor.name}: store it with writeColumn, or convert it with Array.from`);
    }
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      throw new StateError(`${path} is a ${value.constructor?.name ?? "non-plain object"}: only plain objects can be stored in JSON`);
    }
    // No prototype, so a "__proto__" key (JSON.parse makes it an own property) stays a plain key.
    const out = Object.create(null) as Record<string, unknown>;
    for (const key of Object.keys(value).sort()) {
      const item = (value as Record<string, unknown>)[key];
      if (item !== undefined) out[key] = canonicalJson(item, `${path}.${key}`);
    }
    return out;
  }
  throw new StateError(`${path} is ${value === undefined ? "undefined" : `a ${typeof value}`}: it cannot be stored in JSON`);
}

/**
 * Checks a manifest file path: "/"-separated, relative, no "." or ".."
 * segments, no backslash, not the manifest itself. A manifest is untrusted
 * input, and a path like "../x" must never make a reader touch files outside
 * the folder.
 */
export function checkRelativePath(path: string): string | undefined {
  if (path === "") return "is empty";
  if (path.includes("\\")) return "contains a backslash (paths are '/'-separated)";
  if (path.startsWith("/") || /^[A-Za-z]:/.test(path)) return "is absolute";
  if (path.split("/").some((segment) => segment === "" || segment === "." || segment === "..")) {
    return "has an empty, '.' or '..' segment";
  }
  if (path === MANIFEST_FILE) return `is the manifest itself`;
  // The manifest's `files` is a JSON object keyed by path, and its schema cannot hold a "__proto__" key.
  if (path === "__proto__") return 'is "__proto__", which manifest.json cannot list';
  return undefined;
}
