#!/usr/bin/env python3
"""One round of PyTorch's training step for bench/train_step.ts, which runs
this script once per interleaved round (so the PyTorch side sits between
relearn's measurements of the same round) and reads its last stdout line.

The step is the bench's small CNN in PyTorch: conv 32 3x3 ("same") -> ReLU ->
2x2 max-pool -> conv 64 3x3 -> ReLU -> pool -> dense 128 -> ReLU -> dense 10,
on a random batch of 28x28x1 images with random labels, mean cross-entropy,
plain SGD (learning rate 0.01): zero_grad, forward, backward, step. Warm-up
steps first, then steps until at least --min-ms have passed (and 3 steps).

Prints one JSON line: {"ms": mean ms per step, "torch": version, "threads"}.
--cpu-time times the steps by the process's CPU time (time.process_time)
instead of the wall clock, as bench/train_step.ts --cpu-time does for
relearn's side (on one thread: the time spent computing, not waiting for a
core).
Thread counts: the caller sets OPENBLAS_NUM_THREADS and OMP_NUM_THREADS too
(torch.set_num_threads alone does not bound OpenBLAS).

  /usr/bin/python3 bench/train_step_torch.py --batch 128 --min-ms 400 --threads 1 [--cpu-time]
"""
import argparse
import json
import time

import torch
from torch import nn
from torch.nn import functional as F


def cnn():
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(7 * 7 * 64, 128), nn.ReLU(), nn.Linear(128, 10),
    )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--min-ms", type=float, default=400)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--cpu-time", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = cnn()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    x = torch.rand(args.batch, 1, 28, 28)
    y = torch.randint(0, 10, (args.batch,))

    def step():
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()

    for _ in range(args.warmup):
        step()
    clock = time.process_time if args.cpu_time else time.perf_counter
    steps = 0
    start = clock()
    while True:
        step()
        steps += 1
        elapsed = (clock() - start) * 1000
        if elapsed >= args.min_ms and steps >= 3:
            break
    print(json.dumps({"ms": elapsed / steps, "torch": torch.__version__, "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
