/**
 * What the demo compares: its settings, the two lanes (RD and fine-tuning)
 * with their worker configuration, and each lane's live state and its
 * accuracy rows (kept in localStorage; the model itself is in IndexedDB).
 */
import { FASHION_MNIST_CLASSES } from "../src/data/fashion_mnist_classes.js";
import type { UpdateWorkerClient, UpdateWorkerConfig } from "../src/browser/worker_client.js";
import type { ProgressEvent } from "../src/browser/worker_protocol.js";

export const TASKS = 5;
/** Fashion-MNIST's labels, indexed by class. */
export const CLASS_NAMES: readonly string[] = FASHION_MNIST_CLASSES;
/** Where the demo keeps its progress; bump when the settings below change, so old rows are not mixed with new ones. */
const STORAGE_PREFIX = "relearn-demo:v1:";

const COMMON = {
  model: { type: "mlp" as const, inputShape: [784], hidden: [128], classes: 10 },
  seed: 0,
  maxEpochs: 2,
  batchSize: 32,
};

export interface LaneSpec {
  key: string;
  title: string;
  colour: string;
  blurb: string;
  phases: string[];
  config: UpdateWorkerConfig;
}

export const LANES: LaneSpec[] = [
  {
    key: "rd",
    title: "Repeated Distillation",
    colour: "var(--rd)",
    blurb: "A fresh expert learns the new classes, then the model is rebuilt by distilling the expert and itself over a 500-image memory.",
    phases: ["expert", "consolidation"],
    config: { updater: "rd", options: { ...COMMON, memorySize: 500, consolidationEpochs: 10 } },
  },
  {
    key: "ft",
    title: "Fine-tuning",
    colour: "var(--ft)",
    blurb: "The model keeps training on each new chunk alone, as tfjs's model.fit would. Watch the old tasks fall to zero.",
    phases: ["fine-tuning"],
    config: { updater: "fine-tuning", options: COMMON },
  },
];

/** One lane's live state. */
export interface Lane {
  spec: LaneSpec;
  client: UpdateWorkerClient | undefined;
  /** rows[u]: accuracy on each task after update u+1; null when not recorded (cleared storage). */
  rows: (number[] | null)[];
  running: boolean;
  progress: ProgressEvent | undefined;
  /** Phases finished in the running update. */
  phasesDone: Set<string>;
  backend: string;
  lastSeconds: number | undefined;
  /** True when the worker resumed a state stored by an earlier visit. */
  resumed: boolean;
}

/** A lane before its worker started. */
export function newLane(spec: LaneSpec): Lane {
  return { spec, client: undefined, rows: [], running: false, progress: undefined, phasesDone: new Set(), backend: "", lastSeconds: undefined, resumed: false };
}

/** The lane's state name in the demo's IndexedDB database. */
export function stateName(lane: Lane): string {
  return `relearn-demo-${lane.spec.key}`;
}

/** The lane's stored rows, as many as the stored model has updates (a row lost with the storage is null). */
export function loadRows(lane: Lane, updatesDone: number): (number[] | null)[] {
  let rows: (number[] | null)[] = [];
  try {
    const stored = JSON.parse(localStorage.getItem(STORAGE_PREFIX + lane.spec.key) ?? "[]") as unknown;
    if (Array.isArray(stored)) rows = stored as (number[] | null)[];
  } catch {
    rows = [];
  }
  // The stored model is the truth: as many rows as it has updates, unknown ones null.
  return Array.from({ length: updatesDone }, (_, i) => rows[i] ?? null);
}


export function saveRows(lane: Lane): void {
  localStorage.setItem(STORAGE_PREFIX + lane.spec.key, JSON.stringify(lane.rows));
}

/** Forgets the lane's rows (start over). */
export function clearRows(lane: Lane): void {
  localStorage.removeItem(STORAGE_PREFIX + lane.spec.key);
}
