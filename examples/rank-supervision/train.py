"""One training run of the ranking-supervision benchmark: a CNN scores each 4-digit image, a
differentiable ranking operator turns the n = 5 scores of a set into a relaxed permutation matrix,
and the binary cross-entropy against the true permutation matrix (as in Petersen et al.'s
benchmark code) trains the CNN.  Only the ranking is supervised."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any, Optional

import numpy as np
import torch

import data
from models import ScoreCNN
from relaxations import hard_permutation, make_ranking


@dataclass(frozen=True)
class RunConfig:
    method: str  # gss-<dist> | neuralsort | dsn-logistic | dsn-cauchy | perturbed
    hyper: float  # gamma (gss, perturbed), tau (neuralsort) or steepness (dsn)
    seed: int
    steps: int
    batch: int = 5  # sets of n per step (the paper: 100)
    samples: int = 256  # gss and perturbed
    sampler: str = "rqmc-latin"  # gss only
    lr: float = 1e-3
    eval_every: int = 50
    curve_sets: int = 100  # validation sets for the learning curve
    val_sets: int = 300  # for the selection
    test_sets: int = 500

    def key(self) -> str:
        sampled = self.method.startswith("gss-") or self.method == "perturbed"
        parts = [self.method, f"h={self.hyper:.6g}", f"seed={self.seed}", f"steps={self.steps}",
                 f"batch={self.batch}"]
        if sampled:
            parts.append(f"s={self.samples}")
        if self.method.startswith("gss-"):
            parts.append(self.sampler)
        return " ".join(parts)


class Digits:
    """The digit images and their split, loaded once per process."""

    def __init__(self) -> None:
        self.images, self.labels = data.load_digits()
        self.split = data.split_digits(self.labels)
        self.val = data.fixed_sets(self.images, self.labels, self.split["val"], seed=7001, count=1000)
        self.test = data.fixed_sets(self.images, self.labels, self.split["test"], seed=7002, count=1000)


def evaluate(model: torch.nn.Module, images: np.ndarray, values: np.ndarray, chunk: int = 100) -> dict[str, float]:
    """Exact match (all n ranks right) and element-wise accuracy (share of right ranks)."""
    model.eval()
    right_sets = right_elems = 0
    with torch.no_grad():
        for start in range(0, len(images), chunk):
            x = torch.from_numpy(images[start:start + chunk]).contiguous(memory_format=torch.channels_last) \
                if images.ndim == 4 else torch.from_numpy(images[start:start + chunk])
            scores = model(x)
            pred = torch.argsort(torch.argsort(scores, -1), -1).numpy()
            true = np.argsort(np.argsort(values[start:start + chunk], -1), -1)
            same = pred == true
            right_sets += int(same.all(-1).sum())
            right_elems += int(same.sum())
    model.train()
    return {"exact": right_sets / len(images), "element": right_elems / images.shape[0] / images.shape[1]}


def train(cfg: RunConfig, digits: Digits, log_every: Optional[int] = None) -> dict[str, Any]:
    torch.manual_seed(cfg.seed)
    model = ScoreCNN().to(memory_format=torch.channels_last)
    ranking = make_ranking(cfg.method, cfg.hyper, data.N, seed=cfg.seed, samples=cfg.samples, sampler=cfg.sampler)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    sampler = data.SetSampler(digits.images, digits.labels, digits.split["train"], seed=1000 + cfg.seed)
    bce = torch.nn.BCELoss()
    t_net = t_layer = 0.0
    losses: list[float] = []
    curve: list[list[float]] = []
    cv_imgs, cv_vals = digits.val[0][:cfg.curve_sets], digits.val[1][:cfg.curve_sets]
    started = time.time()
    cpu0 = time.process_time()
    for step in range(1, cfg.steps + 1):
        imgs, vals = sampler.sample(cfg.batch)
        x = torch.from_numpy(imgs)
        target = torch.from_numpy(data.permutation_targets(vals))
        t0 = time.perf_counter()
        scores = model(x.reshape((-1,) + x.shape[2:]).contiguous(memory_format=torch.channels_last)).reshape(cfg.batch, data.N)
        t1 = time.perf_counter()
        leaf = scores.detach().requires_grad_(True)
        p = ranking(leaf)
        loss = bce(p.clamp(1e-6, 1 - 1e-6).float(), target)
        loss.backward()
        t2 = time.perf_counter()
        opt.zero_grad()
        scores.backward(leaf.grad)
        opt.step()
        t3 = time.perf_counter()
        t_net += (t1 - t0) + (t3 - t2)
        t_layer += t2 - t1
        losses.append(float(loss.detach()))
        if step % cfg.eval_every == 0 or step == cfg.steps:
            m = evaluate(model, cv_imgs, cv_vals)
            curve.append([step, float(np.mean(losses[-cfg.eval_every:])), m["exact"], m["element"]])
            if log_every and step % log_every == 0:
                print(f"    step {step}: loss {curve[-1][1]:.4f}, val exact {m['exact']:.3f}, "
                      f"element {m['element']:.3f}, {time.time() - started:.0f} s", flush=True)
    val = evaluate(model, digits.val[0][:cfg.val_sets], digits.val[1][:cfg.val_sets])
    test = evaluate(model, digits.test[0][:cfg.test_sets], digits.test[1][:cfg.test_sets])
    return {
        "key": cfg.key(), "config": asdict(cfg),
        "val_exact": val["exact"], "val_element": val["element"],
        "test_exact": test["exact"], "test_element": test["element"],
        "curve": curve,  # [step, mean training loss since the last point, val exact, val element] on curve_sets
        "ms_per_step_network": 1000 * t_net / cfg.steps,
        "ms_per_step_layer": 1000 * t_layer / cfg.steps,
        "seconds": time.time() - started, "cpu_seconds": time.process_time() - cpu0,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
