/**
 * relearn: continual learning for TypeScript on TensorFlow.js.
 * The browser entry point (pages and Web Workers; package.json "exports"
 * gives it to bundlers' "browser" condition): the core (core.ts) plus the
 * IndexedDB state store. Built with platform.browser.ts in place of
 * platform.ts, so it reaches no `node:` module.
 */
export * from "./core.js";

// States in IndexedDB (the default store in a browser).
export { indexedDbStore, checkStateName, DEFAULT_DATABASE_NAME, type IndexedDbStateStore, type IndexedDbStoreOptions, type StoredStateSummary } from "./state/idb_store.js";

// Updates in a Web Worker: the page's client and the worker's side (datasets cross by transfer).
export { createUpdateWorker, type UpdateWorkerClient, type UpdateWorkerConfig } from "./browser/worker_client.js";
export { serveUpdateWorker, type UpdateWorkerOptions } from "./browser/update_worker.js";
export type { ProgressEvent, UpdateSummary } from "./browser/worker_protocol.js";
