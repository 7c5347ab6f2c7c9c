import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", "tmp/"] },
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
    },
  },
  {
    files: ["src/**/*.ts"],
    rules: {
      // `import { z }` pulls all of zod (and its 40 locales) into a browser bundle: 445 KB minified against 102 KB
      // with the namespace import, which bundlers can tree-shake (docs/browser.md).
      "no-restricted-syntax": ["error", {
        selector: "ImportDeclaration[source.value='zod'] > ImportSpecifier[imported.name='z']",
        message: 'use `import * as z from "zod"`: `import { z }` defeats tree-shaking in browser bundles',
      }],
    },
  },
);
