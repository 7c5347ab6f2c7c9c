/**
 * The demo's update worker: relearn's serveUpdateWorker with the demo's
 * IndexedDB store. One worker runs per updater (RD and fine-tuning), so both
 * train side by side off the main thread.
 */
import { serveUpdateWorker } from "../src/browser/update_worker.js";
import { indexedDbStore } from "../src/state/idb_store.js";
import { DEMO_DATABASE } from "./storage.js";

serveUpdateWorker({ stateStore: indexedDbStore({ databaseName: DEMO_DATABASE }) });
