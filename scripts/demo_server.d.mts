// Types of demo_server.mjs, for test/browser/demo.test.ts.
export declare const DEFAULT_DEMO_PORT: number;
/** The demo's bundles by URL path ("/main.js", "/worker.js", and their maps). */
export declare function buildDemo(): Promise<Map<string, Uint8Array>>;
/** Builds and serves the demo on 127.0.0.1; port 0 takes any free port. */
export declare function serveDemo(options?: { port?: number }): Promise<{ url: string; close: () => Promise<void> }>;
