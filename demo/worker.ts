/**
 * The demo's update worker: relearn's serveUpdateWorker, nothing else. One
 * worker runs per updater (RD and fine-tuning), so both train side by side
 * off the main thread.
 */
import { serveUpdateWorker, type WorkerScope } from "../src/browser/update_worker.js";

serveUpdateWorker(self as unknown as WorkerScope);
