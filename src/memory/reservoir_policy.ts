/**
 * Reservoir sampling, textbook Algorithm R (Vitter 1985): after any number of
 * offers every offered item is in the buffer with the same probability
 * capacity/seen. Item number `seen` (0-based) fills slot `seen` while the
 * buffer is not full; afterwards r is drawn uniformly from [0, seen]
 * INCLUSIVE and the item replaces slot r when r < capacity. (Renate draws
 * from [0, seen), which always keeps the first item after filling and skews
 * the sample; relearn does not copy that.)
 */
import { MemoryError } from "../errors.js";
import type { Random } from "../random.js";
import type { BufferProgress, SlotPolicy, SlotPolicyState } from "./slot_policy.js";

/** Algorithm R over `capacity` slots; stateless beyond the buffer's `seen` counter. */
export class ReservoirPolicy implements SlotPolicy {
  readonly name = "reservoir" as const;

  constructor(readonly capacity: number) {}

  /** A reservoir policy resumed from a snapshot; it has no state of its own, so any keys are an error. */
  static restore(capacity: number, state: SlotPolicyState): ReservoirPolicy {
    const keys = Object.keys(state);
    if (keys.length > 0) {
      throw new MemoryError(`reservoir policy state must be empty, got keys ${keys.join(", ")}`);
    }
    return new ReservoirPolicy(capacity);
  }

  chooseSlot(_label: number, progress: BufferProgress, random: Random): number {
    // Nothing can be kept: skip the draw rather than consume randomness for nothing.
    if (this.capacity === 0) return -1;
    const { seen } = progress;
    if (seen < this.capacity) return seen;
    const r = random.int(0, seen);
    return r < this.capacity ? r : -1;
  }

  exportState(): SlotPolicyState {
    return {};
  }
}
