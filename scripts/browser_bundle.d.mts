/** Types of browser_bundle.mjs (for the tests that import it). */
export interface BrowserBundle {
  bytes: number;
  code: string | undefined;
  nodeImports: { path: string; from: string[] }[];
  packages: string[];
  inputs: string[];
}
export function bundleBrowserEntry(options?: { entry?: string; outfile?: string; minify?: boolean }): Promise<BrowserBundle>;
