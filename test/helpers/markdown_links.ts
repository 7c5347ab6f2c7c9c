/**
 * The relative file links of a Markdown document: targets of `[text](target)`
 * and `[label]: target`, without URLs (scheme:), in-page anchors (#...) or
 * the anchor part of a link. What a reader clicks on to open another file.
 */
export function relativeLinks(markdown: string): string[] {
  // Code blocks hold shell lines and TypeScript, not links.
  const text = markdown.replace(/^```[^\n]*\n[\s\S]*?^```/gm, "");
  const targets = [
    ...[...text.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]!),
    ...[...text.matchAll(/^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$/gm)].map((m) => m[1]!),
  ];
  return targets
    .filter((target) => !/^[a-z][a-z0-9+.-]*:/i.test(target) && !target.startsWith("#"))
    .map((target) => decodeURIComponent(target.replace(/#.*$/, "")))
    .filter((target) => target !== "");
}
