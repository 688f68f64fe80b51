"""One training run of the Warcraft-like shortest-path benchmark: the ResNet18 block predicts a
12x12 cost grid from the map image, a differentiable use of the solver turns it into a loss
against the true path (only the path supervises; the true costs are never shown), Adam at 1e-3,
decayed 10x at 60% and 80% of the run (the protocol's epochs 30 and 40 of 50)."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any, Optional

import numpy as np
import torch

import data
from methods import hard_paths, make_method
from models import CostNet

VAL = 1000  # the last VAL training maps are the validation split (a fifth of a smaller set)


@dataclass(frozen=True)
class RunConfig:
    method: str  # gss-algorithm-<dist> | gss-objective-<dist> | blackbox | fy
    hyper: float  # gamma (gss), lambda (blackbox), sigma (fy)
    seed: int
    steps: int
    batch: int = 8  # maps per step (the protocol: 70)
    samples: int = 100
    sampler: str = "rqmc-latin"
    lr: float = 1e-3
    cost_init: float = 3.0  # the first predicted costs (models.CostNet)
    eval_every: int = 50
    curve_maps: int = 100
    val_maps: int = 1000  # at most: the validation split's size
    test_maps: int = 1000
    train_maps: int = 3000  # the first N of the 10,000 training maps (the last fifth, at most 1,000, validate)

    def key(self) -> str:
        parts = [self.method, f"h={self.hyper:.6g}", f"seed={self.seed}", f"steps={self.steps}",
                 f"batch={self.batch}", f"init={self.cost_init:g}"]
        if self.method != "blackbox":
            parts.append(f"s={self.samples}")
        if self.method.startswith("gss-"):
            parts.append(self.sampler)
        if self.train_maps != 3000:  # the study's default; earlier keys stay as they were
            parts.append(f"maps={self.train_maps}")
        return " ".join(parts)


def to_input(images: np.ndarray) -> torch.Tensor:
    x = torch.from_numpy(images).float().div_(255.0).sub_(0.5).permute(0, 3, 1, 2)
    return x.contiguous(memory_format=torch.channels_last)


def evaluate(model: torch.nn.Module, images: np.ndarray, costs: np.ndarray, paths: np.ndarray,
             chunk: int = 100) -> dict[str, float]:
    """Exact path accuracy, and the share of predicted paths optimal under the true costs."""
    model.eval()
    exact = optimal = 0
    with torch.no_grad():
        for start in range(0, len(images), chunk):
            pred = hard_paths(model(to_input(images[start:start + chunk]))).numpy()
            true = paths[start:start + chunk]
            c = costs[start:start + chunk]
            exact += int((pred == true).all((-1, -2)).sum())
            optimal += int((data.path_cost(pred, c) <= data.path_cost(true, c) + 1e-9).sum())
    model.train()
    return {"exact": exact / len(images), "optimal": optimal / len(images)}


def train(cfg: RunConfig, train_set: dict[str, np.ndarray], test_set: dict[str, np.ndarray],
          log_every: Optional[int] = None) -> dict[str, Any]:
    torch.manual_seed(cfg.seed)
    model = CostNet(cost_init=cfg.cost_init).to(memory_format=torch.channels_last)
    method = make_method(cfg.method, cfg.hyper, cfg.samples, cfg.sampler, cfg.seed)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, [int(0.6 * cfg.steps), int(0.8 * cfg.steps)], 0.1)
    n_train = len(train_set["images"]) - min(VAL, len(train_set["images"]) // 5)
    rng = np.random.default_rng(1000 + cfg.seed)
    order = rng.permutation(n_train)
    val = {k: v[n_train:n_train + cfg.val_maps] for k, v in train_set.items()}
    t_net = t_layer = 0.0
    losses: list[float] = []
    curve: list[list[float]] = []
    started, cpu0 = time.time(), time.process_time()
    for step in range(1, cfg.steps + 1):
        start = ((step - 1) * cfg.batch) % n_train
        if start + cfg.batch > n_train:  # next epoch
            order = rng.permutation(n_train)
            start = 0
        idx = np.sort(order[start:start + cfg.batch])
        x = to_input(train_set["images"][idx])
        t = torch.from_numpy(train_set["paths"][idx].astype(np.float32))
        t0 = time.perf_counter()
        costs = model(x)
        t1 = time.perf_counter()
        leaf = costs.detach().requires_grad_(True)
        loss = method(leaf, t)
        loss.backward()
        t2 = time.perf_counter()
        opt.zero_grad()
        costs.backward(leaf.grad)
        opt.step()
        sched.step()
        t3 = time.perf_counter()
        t_net += (t1 - t0) + (t3 - t2)
        t_layer += t2 - t1
        losses.append(float(loss.detach()))
        if step % cfg.eval_every == 0 or step == cfg.steps:
            m = evaluate(model, val["images"][:cfg.curve_maps], val["costs"][:cfg.curve_maps],
                         val["paths"][:cfg.curve_maps])
            curve.append([step, float(np.mean(losses[-cfg.eval_every:])), m["exact"], m["optimal"]])
            if log_every and step % log_every == 0:
                print(f"    step {step}: loss {curve[-1][1]:.4f}, val exact {m['exact']:.3f}, "
                      f"optimal {m['optimal']:.3f}, {time.time() - started:.0f} s", flush=True)
    v = evaluate(model, val["images"], val["costs"], val["paths"])
    te = {k: w[:cfg.test_maps] for k, w in test_set.items()}
    r = evaluate(model, te["images"], te["costs"], te["paths"])
    return {
        "key": cfg.key(), "config": asdict(cfg),
        "val_exact": v["exact"], "val_optimal": v["optimal"],
        "test_exact": r["exact"], "test_optimal": r["optimal"],
        "curve": curve,  # [step, mean training loss since the last point, val exact, val optimal]
        "ms_per_step_network": 1000 * t_net / cfg.steps,
        "ms_per_step_layer": 1000 * t_layer / cfg.steps,
        "seconds": time.time() - started, "cpu_seconds": time.process_time() - cpu0,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
