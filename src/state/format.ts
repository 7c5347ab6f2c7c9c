/**
 * The state folder format: `manifest.json` plus the files it lists.
 *
 * The manifest has no timestamps and is serialised with sorted keys, so the
 * same state always gives a byte-identical folder (diffable, cacheable,
 * testable). `formatVersion` is bumped on any change a reader of the old
 * version could misread; a reader refuses every other version.
 */
import { z } from "zod";
import { StateError } from "../errors.js";

/** The one state folder format this relearn writes and reads. */
export const STATE_FORMAT_VERSION = 1;

/** The library name recorded in every manifest. */
export const LIBRARY_NAME = "relearn";

/**
 * The relearn version recorded in manifests. Informative only: compatibility
 * is decided by `formatVersion`. Keep in step with package.json.
 */
export const LIBRARY_VERSION = "0.1.0";

/** The manifest's file name at the root of a state folder. */
export const MANIFEST_FILE = "manifest.json";

/** Size and SHA-256 (lowercase hex) of one file of the folder. */
export const fileEntrySchema = z.strictObject({
  sha256: z.string().regex(/^[0-9a-f]{64}$/, "expected 64 lowercase hex digits"),
  bytes: z.number().int().nonnegative(),
});

/** Schema of manifest.json. */
export const manifestSchema = z.strictObject({
  formatVersion: z.literal(STATE_FORMAT_VERSION),
  library: z.strictObject({ name: z.literal(LIBRARY_NAME), version: z.string().min(1) }),
  /** What wrote the folder, e.g. "repeated-distillation": an updater refuses another kind's state. */
  kind: z.string().min(1),
  /** Every file of the folder but the manifest, keyed by its "/"-separated path relative to the folder. */
  files: z.record(z.string(), fileEntrySchema),
  /** The updater's own JSON (options, counters, random state, column descriptors...). */
  data: z.unknown().refine((value) => value !== undefined, "is missing"),
});

/** One file's entry in the manifest. */
export type FileEntry = z.infer<typeof fileEntrySchema>;

/** The parsed content of manifest.json. */
export interface StateManifest {
  formatVersion: typeof STATE_FORMAT_VERSION;
  library: { name: typeof LIBRARY_NAME; version: string };
  kind: string;
  files: Record<string, FileEntry>;
  data: unknown;
}

/**
 * manifest.json's text: top-level keys in the schema's order (formatVersion
 * first, for whoever opens the file), sorted keys below.
 */
export function manifestToJson(manifest: StateManifest): string {
  const ordered = {
    formatVersion: manifest.formatVersion,
    library: { name: manifest.library.name, version: manifest.library.version },
    kind: manifest.kind,
    files: canonicalJson(manifest.files, "files"),
    data: canonicalJson(manifest.data, "data"),
  };
  return JSON.stringify(ordered, null, 2) + "\n";
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
  return undefined;
}
