/**
 * GDumb's greedy class-balanced sampler (Prabhu et al., ECCV 2020), the rule
 * used here exactly:
 *
 * - k = number of distinct classes offered so far, counting the current item.
 * - While the buffer is not full, the item is appended.
 * - When full, an item of class c is stored only if count[c] < capacity / k
 *   (real division, checked as count[c] * k < capacity). It then replaces a
 *   uniformly random stored item of the currently LARGEST class; ties go to
 *   the smallest class id, and "random item" means the item at a uniform rank
 *   among that class's slots in ascending slot order (so a policy rebuilt from
 *   the stored labels makes the very same choice).
 * - Otherwise the item is dropped.
 *
 * When count[c] < capacity / k the largest class holds more than capacity / k
 * items (all items are spread over at most k classes), so c is never the
 * class evicted from, and no class is ever pushed below floor(capacity / k).
 */
import { MemoryError } from "../errors.js";
import type { Random } from "../random.js";
import type { BufferProgress, SlotPolicy, SlotPolicyState } from "./slot_policy.js";

/** Index of the first element >= value in an ascending array. */
function lowerBound(sorted: readonly number[], value: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** GDumb's class-balanced rule over `capacity` slots. */
export class ClassBalancedPolicy implements SlotPolicy {
  readonly name = "class-balanced" as const;
  /** Slots of each stored class, ascending. */
  private readonly slotsByClass = new Map<number, number[]>();
  private readonly classesSeen = new Set<number>();

  constructor(readonly capacity: number) {}

  /**
   * A policy resumed from a snapshot: per-class slots come from the stored
   * labels (the class the buffer gave each slot), the set of classes ever
   * offered from `state.classesSeen`.
   */
  static restore(capacity: number, storedLabels: ArrayLike<number>, state: SlotPolicyState): ClassBalancedPolicy {
    const extra = Object.keys(state).filter((key) => key !== "classesSeen");
    if (extra.length > 0) {
      throw new MemoryError(`class-balanced policy state has unknown keys: ${extra.join(", ")}`);
    }
    const seen = state.classesSeen;
    if (!Array.isArray(seen) || !seen.every((c) => Number.isInteger(c) && c >= 0)) {
      throw new MemoryError(
        `class-balanced policy state.classesSeen must be a list of non-negative integers, got ${JSON.stringify(seen)}`,
      );
    }
    const policy = new ClassBalancedPolicy(capacity);
    for (const c of seen as number[]) policy.classesSeen.add(c);
    for (let slot = 0; slot < storedLabels.length; slot++) {
      const label = storedLabels[slot]!;
      if (!policy.classesSeen.has(label)) {
        throw new MemoryError(
          `class-balanced policy state.classesSeen lacks class ${label}, which is stored in slot ${slot}`,
        );
      }
      policy.slotsOf(label).push(slot);
    }
    return policy;
  }

  chooseSlot(label: number, progress: BufferProgress, random: Random): number {
    this.classesSeen.add(label);
    if (this.capacity === 0) return -1;
    if (progress.length < this.capacity) {
      const slot = progress.length;
      this.slotsOf(label).push(slot); // the largest slot so far: the list stays ascending
      return slot;
    }
    const own = this.slotsOf(label);
    if (own.length * this.classesSeen.size >= this.capacity) return -1;

    const largest = this.largestClass();
    const victims = this.slotsByClass.get(largest)!;
    const rank = random.int(0, victims.length - 1);
    const slot = victims[rank]!;
    victims.splice(rank, 1);
    own.splice(lowerBound(own, slot), 0, slot);
    return slot;
  }

  exportState(): SlotPolicyState {
    return { classesSeen: [...this.classesSeen].sort((a, b) => a - b) };
  }

  private slotsOf(label: number): number[] {
    let slots = this.slotsByClass.get(label);
    if (slots === undefined) {
      slots = [];
      this.slotsByClass.set(label, slots);
    }
    return slots;
  }

  private largestClass(): number {
    let best = -1;
    let bestCount = -1;
    for (const [label, slots] of this.slotsByClass) {
      if (slots.length > bestCount || (slots.length === bestCount && label < best)) {
        best = label;
        bestCount = slots.length;
      }
    }
    return best;
  }
}
