/** Placeholder until the IndexedDB store (branch b-idb) is merged; replaced by it. */
import { StateError } from "../errors.js";
import type { StateStore } from "./store.js";

export function indexedDbStore(): StateStore {
  throw new StateError("the IndexedDB state store is not built yet");
}
