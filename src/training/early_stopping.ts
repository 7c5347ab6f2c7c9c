/**
 * Tracks a monitored metric across epochs: which epoch was best (for restoring
 * its weights) and whether patience has run out (for early stopping), with
 * PyTorch Lightning's EarlyStopping semantics (an improvement must beat the
 * best by more than minDelta; patience counts epochs without one).
 */
export type MonitorMode = "min" | "max";

export class MetricMonitor {
  bestValue: number;
  bestEpoch = -1;
  private epochsWithoutImprovement = 0;

  constructor(
    readonly metric: string,
    readonly mode: MonitorMode,
    private readonly patience: number,
    private readonly minDelta = 0,
  ) {
    this.bestValue = mode === "min" ? Infinity : -Infinity;
  }

  /** Records an epoch's value; returns true when it is the new best. */
  observe(epoch: number, value: number): boolean {
    const improved = this.mode === "min" ? value < this.bestValue - this.minDelta : value > this.bestValue + this.minDelta;
    // A NaN never improves; the first finite value always does.
    if (improved || (this.bestEpoch < 0 && Number.isFinite(value))) {
      this.bestValue = value;
      this.bestEpoch = epoch;
      this.epochsWithoutImprovement = 0;
      return true;
    }
    this.epochsWithoutImprovement++;
    return false;
  }

  /** True once `patience` epochs in a row brought no improvement. */
  get patienceExhausted(): boolean {
    return this.epochsWithoutImprovement >= this.patience;
  }
}
