import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";
import { relativeLinks } from "../helpers/markdown_links.js";

// The README and docs/ are read on a repository host and inside the installed package:
// every file they point at must exist in the repository, and what the README points at
// must be in the package too. Mentions like `DESIGN.md` or `../shared/SPEC.md` of files
// that live elsewhere are the fault this pins.

const DOCS = ["README.md", ...readdirSync("docs").filter((f) => f.endsWith(".md")).map((f) => join("docs", f))];

/** Files a Markdown document refers to: its relative links, and `*.md` paths quoted as code. */
function references(doc: string): { target: string; resolved: string[] }[] {
  const text = readFileSync(doc, "utf8");
  const links = relativeLinks(text).map((target) => ({ target, resolved: [normalize(join(dirname(doc), target))] }));
  const quoted = [...text.matchAll(/`([^`\s]+\.md)`/g)].map((m) => m[1]!).map((target) => ({
    target,
    // A path quoted as code may be written from the repository root or from the document's folder.
    resolved: [normalize(target), normalize(join(dirname(doc), target))],
  }));
  return [...links, ...quoted];
}

test("every file README.md and docs/*.md refer to exists in the repository", () => {
  for (const doc of DOCS) {
    const missing = references(doc).filter((ref) => !ref.resolved.some((path) => !path.startsWith("..") && existsSync(path)));
    assert.deepEqual(missing.map((ref) => ref.target), [], `${doc} refers to files outside the repository or missing`);
  }
});

test("every file the README links to is shipped in the package (package.json files, or a file npm always packs)", () => {
  const { files } = JSON.parse(readFileSync("package.json", "utf8")) as { files: string[] };
  const shipped = (path: string): boolean =>
    ["README.md", "LICENSE", "package.json"].includes(path) || files.some((entry) => path === entry || path.startsWith(`${entry}/`));
  const links = relativeLinks(readFileSync("README.md", "utf8")).map((link) => relative(".", normalize(link)));
  assert.ok(links.length > 0, "the README links to its docs");
  assert.deepEqual(links.filter((link) => !shipped(link)), [], "linked from the README but not in package.json files");
});
