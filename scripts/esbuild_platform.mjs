/**
 * The esbuild plugin of relearn's browser builds: a module `X` that has a
 * sibling `X.browser.ts` (or `X.browser.js` in dist/) is replaced by it. Only
 * the few host modules have one (src/platform.ts); everything else is shared.
 * Used by scripts/build.mjs (the published browser bundle), the browser tests
 * and the demo page, so all three bundle the same thing.
 */
import { existsSync } from "node:fs";
import { dirname, resolve } from "node:path";

export const browserPlatformPlugin = {
  name: "relearn-browser-platform",
  setup(build) {
    build.onResolve({ filter: /^\.\.?\/.*\.js$/ }, (args) => {
      const base = resolve(dirname(args.importer), args.path.slice(0, -".js".length));
      for (const candidate of [`${base}.browser.ts`, `${base}.browser.js`]) {
        if (existsSync(candidate) && candidate !== args.importer) return { path: candidate };
      }
      return undefined;
    });
  },
};
