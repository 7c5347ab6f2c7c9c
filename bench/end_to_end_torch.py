#!/usr/bin/env python3
"""Repeated Distillation on Split Fashion-MNIST in PyTorch: the same work as
relearn's RepeatedDistillationModelUpdater in bench/end_to_end.ts, which runs
this script as a subprocess and passes one JSON argument (settings, the class
groups of the updates, the chunk positions kept when subsampling).

Per update: a fresh expert trained on the chunk (cross-entropy, Adam, batch B,
E epochs), its logits over the chunk (batches of B, eval mode), the chunk
inserted into a reservoir memory (Algorithm R) with those logits, a fresh
model distilled over the memory (double distillation loss: 0.5 * mean of
(z - (t - mean_c t))^2, batch B/2, E epochs of min(ceil(|M|/(B/2)),
ceil(N/(B/2))) steps), then every stored logit row refreshed with the new
model. Losses and accuracies are summed on the tensor side and read once per
epoch, as relearn does.

Prints one JSON line: wall time per update and phase, peak RSS (KiB), the
accuracy on the test sets of the updates so far after the last update.
With "flushDenormal": true, torch.set_flush_denormal(True) (the "torch1-ftz"
variant). Thread counts: set OPENBLAS_NUM_THREADS and OMP_NUM_THREADS in the
environment (torch.set_num_threads alone does not bound OpenBLAS).
"""
import gzip
import json
import math
import os
import random
import resource
import sys
import time

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

FEATURES = 784
CLASSES = 10
LEARNING_RATE = 1e-3


def read_idx(path):
    """An IDX file (gzip) as a numpy array of its declared shape."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load(folder, split):
    images = read_idx(os.path.join(folder, f"{split}-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(folder, f"{split}-labels-idx1-ubyte.gz"))
    x = torch.from_numpy(images.reshape(len(images), FEATURES).astype(np.float32) / 255.0)
    return x, torch.from_numpy(labels.astype(np.int64))


def mlp():
    """784-256-256-10, initialised as tfjs-layers' Dense (Glorot-uniform kernels, zero biases) like relearn's model."""
    model = nn.Sequential(nn.Linear(FEATURES, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, CLASSES))
    for layer in model:
        if isinstance(layer, nn.Linear):
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)
    return model


def cross_entropy(logits, labels, _targets):
    return F.cross_entropy(logits, labels)


def double_distillation(logits, _labels, targets):
    centred = targets - targets.mean(dim=1, keepdim=True)
    return 0.5 * ((logits - centred) ** 2).mean()


def train(model, x, labels, targets, loss_fn, batch_size, epochs, steps_per_epoch, generator):
    """Adam from scratch; shuffled batches; loss and accuracy read once per epoch."""
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    model.train()
    n = x.shape[0]
    for _ in range(epochs):
        order = torch.randperm(n, generator=generator)
        loss_sum = torch.zeros(())
        correct = torch.zeros((), dtype=torch.int64)
        for step in range(steps_per_epoch):
            rows = order[step * batch_size : (step + 1) * batch_size]
            batch_labels = labels[rows]
            optimizer.zero_grad(set_to_none=True)
            logits = model(x[rows])
            loss = loss_fn(logits, batch_labels, None if targets is None else targets[rows])
            loss.backward()
            optimizer.step()
            loss_sum += loss.detach()
            correct += (logits.detach().argmax(dim=1) == batch_labels).sum()
        float(loss_sum), int(correct)


@torch.no_grad()
def extract_logits(model, x, batch_size):
    model.eval()
    return torch.cat([model(x[i : i + batch_size]) for i in range(0, x.shape[0], batch_size)])


class Reservoir:
    """Algorithm R over (x, y, logits) rows; slot r drawn from [0, seen] inclusive."""

    def __init__(self, capacity, seed):
        self.capacity = capacity
        self.seen = 0
        self.random = random.Random(seed)
        self.x = torch.zeros(capacity, FEATURES)
        self.y = torch.zeros(capacity, dtype=torch.int64)
        self.logits = torch.zeros(capacity, CLASSES)

    def __len__(self):
        return min(self.capacity, self.seen)

    def add(self, x, y, logits):
        row_of_slot = {}  # a later item drawn into the same slot replaces the earlier one
        for i in range(x.shape[0]):
            slot = self.seen if self.seen < self.capacity else self.random.randint(0, self.seen)
            self.seen += 1
            if slot < self.capacity:
                row_of_slot[slot] = i
        slots = torch.tensor(list(row_of_slot.keys()), dtype=torch.int64)
        rows = torch.tensor(list(row_of_slot.values()), dtype=torch.int64)
        self.x[slots] = x[rows]
        self.y[slots] = y[rows]
        self.logits[slots] = logits[rows]


def loaded_blas():
    """The BLAS libraries this process mapped: Debian's torch calls whatever libblas.so.3 points to
    (reference BLAS unless OpenBLAS or BLIS is installed), which decides its matmul speed."""
    with open("/proc/self/maps") as maps:
        paths = {line.split()[-1] for line in maps if "/" in line}
    return sorted(p for p in paths if any(name in os.path.basename(p).lower() for name in ("blas", "blis", "mkl")))


def main():
    config = json.loads(sys.argv[1])
    threads = int(config["threads"])
    torch.set_num_threads(threads)
    # Off by default in PyTorch, as in relearn's wasm (which cannot switch it on):
    # with it, subnormal floats are treated as 0 by the CPU itself.
    torch.set_flush_denormal(bool(config.get("flushDenormal", False)))
    seed = int(config["seed"])
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    batch = int(config["batchSize"])
    epochs = int(config["epochs"])
    train_x, train_y = load(config["dataPath"], "train")
    test_x, test_y = load(config["dataPath"], "t10k")

    memory = Reservoir(int(config["memorySize"]), seed)
    consolidation_batch = batch - min(int(config["memorySize"]), batch // 2)
    timings = []
    model = None
    for group, kept in zip(config["groups"], config["chunkRows"]):
        # Chunk items in the train set's order, as relearn's filterByClasses; then the same subsample positions.
        rows = torch.from_numpy(np.nonzero(np.isin(train_y.numpy(), group))[0])
        if kept is not None:
            rows = rows[torch.tensor(kept, dtype=torch.int64)]
        x, y = train_x[rows], train_y[rows]
        started = time.perf_counter()

        expert = mlp()
        phase_start = time.perf_counter()
        train(expert, x, y, None, cross_entropy, batch, epochs, math.ceil(x.shape[0] / batch), generator)
        expert_seconds = time.perf_counter() - phase_start
        memory.add(x, y, extract_logits(expert, x, batch))
        del expert

        model = mlp()
        length = len(memory)
        steps = min(math.ceil(length / consolidation_batch), math.ceil(x.shape[0] / consolidation_batch))
        mx, my, mt = memory.x[:length], memory.y[:length], memory.logits[:length]
        phase_start = time.perf_counter()
        train(model, mx, my, mt, double_distillation, consolidation_batch, epochs, steps, generator)
        consolidation_seconds = time.perf_counter() - phase_start
        memory.logits[:length] = extract_logits(model, mx, batch)

        seconds = time.perf_counter() - started
        timings.append({
            "seconds": seconds,
            "phases": {"expert": expert_seconds, "consolidation": consolidation_seconds, "other": seconds - expert_seconds - consolidation_seconds},
        })
        print(f"  PyTorch ({threads} thread(s)) update {len(timings)}/{len(config['groups'])}: {seconds:.1f} s", file=sys.stderr, flush=True)

    seen_classes = [c for group in config["groups"] for c in group]
    test_rows = torch.from_numpy(np.nonzero(np.isin(test_y.numpy(), seen_classes))[0])
    predicted = extract_logits(model, test_x[test_rows], 256).argmax(dim=1)
    accuracy = float((predicted == test_y[test_rows]).float().mean())
    print(json.dumps({
        "updates": timings,
        "maxRssKiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "accuracy": accuracy,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "blas": loaded_blas(),
    }))


if __name__ == "__main__":
    main()
