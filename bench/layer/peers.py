"""The implementations timed by run_layer_bench.py: gss's torch layer and the layers its users
write today, each as one training step (forward, loss, backward) on a fixed batch.

Every implementation is a class with ``__init__(params)`` (build everything, fixed data) and
``step()`` (one training step: zero the gradient, forward, loss, backward, and wait for the
result), plus ``forward_and_vjp(x, upstream, seed)`` for the correctness checks (the smoothed
value and J^T upstream at a batch x, as numpy float64).

Sorter (n = 5): f(x) = the hard permutation matrix of x, P[i, j] = 1 iff x_i has ascending rank j
(ties by index), as gss's `sorter` plugin.  Shortest path (12 x 12): f(c) = the 0/1 mask of the
cheapest top-left -> bottom-right path through vertex costs c, 8 neighbours, both end cells
counted, costs below 1e-3 raised to 1e-3 (gss's `shortest-path` plugin and its clamp rule).
"""
from __future__ import annotations

import heapq
import math
import os

import numpy as np

SORTER = dict(n=5, batch=100, samples=256, scale=1.0, dist="logistic")
SHORTEST_PATH = dict(side=12, batch=70, samples=100, scale=0.2, dist="gaussian", low=0.5, high=2.0,
                     min_cost=1e-3)


# --------------------------------------------------------------------------------------------
# Fixed data (the same for every implementation)
# --------------------------------------------------------------------------------------------
def sorter_data(p, seed=2024):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((p["batch"], p["n"]))
    truth = x + 0.3 * rng.standard_normal(x.shape)
    target = hard_permutations(truth)
    return x, target


def hard_permutations(x):
    """(B, n) -> (B, n, n) 0/1, [b, i, j] = 1 iff x[b, i] has ascending rank j (stable)."""
    ranks = np.argsort(np.argsort(x, axis=-1, kind="stable"), axis=-1, kind="stable")
    n = x.shape[-1]
    return (ranks[..., None] == np.arange(n)).astype(np.float64)


def shortest_path_data(p, seed=2024):
    rng = np.random.default_rng(seed)
    N = p["side"] ** 2
    costs = rng.uniform(p["low"], p["high"], (p["batch"], N))
    truth = rng.uniform(p["low"], p["high"], (p["batch"], N))
    target = np.stack([dijkstra_mask(t, p["side"], p["min_cost"]) for t in truth])
    return costs, target


# --------------------------------------------------------------------------------------------
# Dijkstra on the 12 x 12 grid of vertex costs, in Python (heapq), as blackbox-backprop's and
# PyEPO's Warcraft examples solve it
# --------------------------------------------------------------------------------------------
_NEIGHBOURS: dict[int, list[list[int]]] = {}


def grid_neighbours(side):
    if side not in _NEIGHBOURS:
        out = []
        for r in range(side):
            for c in range(side):
                out.append([rr * side + cc
                            for rr in (r - 1, r, r + 1) for cc in (c - 1, c, c + 1)
                            if (rr, cc) != (r, c) and 0 <= rr < side and 0 <= cc < side])
        _NEIGHBOURS[side] = out
    return _NEIGHBOURS[side]


def dijkstra_mask(cost, side, min_cost=1e-3, out=None):
    """0/1 mask of the cheapest path from cell 0 to cell side*side-1 (vertex costs, 8 moves)."""
    neighbours = grid_neighbours(side)
    N = side * side
    target = N - 1
    c = [v if v > min_cost else min_cost for v in (cost.tolist() if hasattr(cost, "tolist") else cost)]
    inf = math.inf
    dist = [inf] * N
    pred = [-1] * N
    done = [False] * N
    dist[0] = c[0]
    heap = [(c[0], 0)]
    pop, push = heapq.heappop, heapq.heappush
    while heap:
        d, u = pop(heap)
        if done[u]:
            continue
        done[u] = True
        if u == target:
            break
        for v in neighbours[u]:
            if not done[v]:
                nd = d + c[v]
                if nd < dist[v]:
                    dist[v] = nd
                    pred[v] = u
                    push(heap, (nd, v))
    mask = np.zeros(N) if out is None else out
    u = target
    while u != -1:
        mask[u] = 1.0
        u = pred[u]
    return mask


class ScipyGrid:
    """The grid as a scipy CSR graph whose edge u -> v weighs v's cost; data refilled per sample."""

    def __init__(self, side, min_cost=1e-3):
        from scipy.sparse import csr_matrix

        self.side, self.N, self.min_cost = side, side * side, min_cost
        src, dst = [], []
        for u, vs in enumerate(grid_neighbours(side)):
            for v in vs:
                src.append(u)
                dst.append(v)
        g = csr_matrix((np.ones(len(src)), (np.array(src), np.array(dst))), shape=(self.N, self.N))
        g.sort_indices()
        self.graph = g
        self.head = g.indices.copy()  # the cell each stored edge enters, in CSR order

    def masks_each(self, costs):
        """(K, N) perturbed costs -> (K, N) masks, one scipy.sparse.csgraph.dijkstra call each."""
        from scipy.sparse.csgraph import dijkstra

        c = np.maximum(costs, self.min_cost)
        out = np.zeros_like(c)
        g, head, target = self.graph, self.head, self.N - 1
        for k in range(c.shape[0]):
            g.data[:] = c[k, head]
            _, pred = dijkstra(g, directed=True, indices=0, return_predecessors=True)
            u = target
            row = out[k]
            while u >= 0:
                row[u] = 1.0
                u = pred[u]
        return out

    def masks_batched(self, costs):
        """All K samples as one block-diagonal graph, one multi-source dijkstra (min_only=True):
        each component holds exactly one source, so every cell's nearest source is its own."""
        from scipy.sparse import csr_matrix
        from scipy.sparse.csgraph import dijkstra

        K, N = costs.shape
        c = np.maximum(costs, self.min_cost)
        E = self.head.size
        if getattr(self, "_K", None) != K:
            self._K = K
            self._indices = (self.head[None, :] + N * np.arange(K)[:, None]).ravel().astype(np.int32)
            self._indptr = np.concatenate(
                [(self.graph.indptr[:-1][None, :] + E * np.arange(K)[:, None]).ravel(), [K * E]]
            ).astype(np.int32)
            self._sources = np.arange(K) * N
        data = np.take_along_axis(c, np.broadcast_to(self.head, (K, E)), axis=1).ravel()
        big = csr_matrix((data, self._indices, self._indptr), shape=(K * N, K * N))
        _, pred, _ = dijkstra(big, directed=True, indices=self._sources, min_only=True,
                              return_predecessors=True)
        out = np.zeros(K * N)
        cur = self._sources + N - 1
        while cur.size:
            out[cur] = 1.0
            cur = pred[cur]
            cur = cur[cur >= 0]
        return out.reshape(K, N)


# --------------------------------------------------------------------------------------------
# Implementations
# --------------------------------------------------------------------------------------------
class _TorchStep:
    """A training step on a (B, n) float32 leaf tensor with a squared loss against targets."""

    def _init_torch(self, x, target):
        import torch

        self.torch = torch
        self.x = torch.tensor(x, dtype=torch.float32, requires_grad=True)
        self.target = torch.tensor(target.reshape(target.shape[0], -1), dtype=torch.float32)

    def step(self):
        x = self.x
        x.grad = None
        out = self.layer(x).reshape(x.shape[0], -1)
        loss = ((out - self.target) ** 2).sum()
        loss.backward()
        return x.grad

    def forward_and_vjp(self, x, upstream, seed):
        torch = self.torch
        self.reseed(seed)
        xt = torch.tensor(x, dtype=torch.float64 if self.check_float64 else torch.float32,
                          requires_grad=True)
        out = self.layer(xt).reshape(x.shape[0], -1)
        (out * torch.tensor(upstream, dtype=out.dtype)).sum().backward()
        return out.detach().double().numpy(), xt.grad.double().numpy()

    check_float64 = False


class GssTorch(_TorchStep):
    """gss.torch.Smoothed on a bundled plugin (gss's defaults: rqmc-latin, leave-one-out)."""

    def __init__(self, case, p, threads=None):
        import gss
        import gss.torch  # noqa: F401

        if case == "sorter":
            box = gss.plugin("sorter", n=p["n"])
            x, target = sorter_data(p)
        else:
            box = gss.plugin("shortest-path", rows=p["side"], cols=p["side"])
            x, target = shortest_path_data(p)
        self.gss, self.box, self.p, self.threads = gss, box, p, threads
        self.layer = gss.torch.Smoothed(box, dist=p["dist"], scale=p["scale"], samples=p["samples"],
                                        seed=0, threads=threads)
        self._init_torch(x, target)

    def reseed(self, seed):
        self.layer = self.gss.torch.Smoothed(self.box, dist=self.p["dist"], scale=self.p["scale"],
                                             samples=self.p["samples"], seed=seed,
                                             threads=self.threads)

    check_float64 = True

    def describe(self):
        t = "all cores" if self.threads is None else f"{self.threads} thread"
        return (f"gss.torch.Smoothed({self.box.name}, dist={self.p['dist']}, scale={self.p['scale']}, "
                f"samples={self.p['samples']}, threads={t}): rqmc-latin sampler, leave-one-out "
                f"covariate (gss's defaults); float32 tensors in and out, float64 inside")


class TorchPerturbedSorter(_TorchStep):
    """A perturbed sorter as a competent PyTorch user writes it (one autograd.Function)."""

    def __init__(self, case, p):
        import torch

        x, target = sorter_data(p)
        self._init_torch(x, target)
        samples, scale = p["samples"], p["scale"]
        self.p = p
        self.generator = torch.Generator().manual_seed(0)
        gen = self

        class PerturbedSort(torch.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                B, n = x.shape
                tiny = torch.finfo(x.dtype).tiny
                u = torch.rand((B, samples, n), dtype=x.dtype, generator=gen.generator)
                u.clamp_(tiny, 1 - torch.finfo(x.dtype).eps)
                noise = torch.log(u) - torch.log1p(-u)  # logistic
                y = x.detach().unsqueeze(1) + scale * noise  # (B, s, n)
                ranks = y.argsort(dim=-1).argsort(dim=-1)  # (B, s, n)
                P = torch.nn.functional.one_hot(ranks, n).to(x.dtype)  # (B, s, n, n)
                ctx.save_for_backward(ranks, torch.tanh(0.5 * noise))  # logistic score
                return P.mean(dim=1)

            @staticmethod
            def backward(ctx, g):
                ranks, score = ctx.saved_tensors
                B, s, n = ranks.shape
                # <g_b, P_bk> = sum_i g[b, i, rank_bki]
                h = torch.gather(g.unsqueeze(1).expand(B, s, n, n), 3, ranks.unsqueeze(-1)).sum(dim=(2, 3))
                h = h - h.mean(dim=1, keepdim=True)  # leave-one-out baseline, with the 1/(s-1) below
                return torch.einsum("bk,bkj->bj", h, score) / ((s - 1) * scale)

        self.fn = PerturbedSort
        self.layer = PerturbedSort.apply

    def reseed(self, seed):
        self.generator.manual_seed(seed)

    def describe(self):
        return (f"torch.autograd.Function, float32: logistic noise (B, s, n) = (100, {self.p['samples']}, 5) "
                f"by log(u) - log1p(-u) of torch.rand, argsort of argsort, F.one_hot, mean over s; "
                f"backward: score-function estimator, score tanh(eps/2), leave-one-out baseline, "
                f"<g, P_k> by gather; i.i.d. samples; torch {self.torch.__version__}, "
                f"{self.torch.get_num_threads()} intra-op threads")


class OptaxSorter:
    """optax.perturbations.make_perturbed_fun under jax.jit(jax.vmap(...)), user logistic noise."""

    def __init__(self, case, p):
        import jax
        import jax.numpy as jnp
        from optax import perturbations

        self.jax, self.p = jax, p
        n = p["n"]
        x, target = sorter_data(p)

        def hard_sort_matrix(v):
            ranks = jnp.argsort(jnp.argsort(v, stable=True), stable=True)
            return jax.nn.one_hot(ranks, n, dtype=v.dtype)

        class Logistic:  # optax has no logistic noise; 6 lines as in bench/peers/sorter_peers.py
            def sample(self, key, sample_shape=(), dtype=float):
                return jax.random.logistic(key, sample_shape, dtype)

            def log_prob(self, z):
                return -z - 2 * jax.nn.softplus(-z)

        perturbed = perturbations.make_perturbed_fun(
            hard_sort_matrix, num_samples=p["samples"], sigma=p["scale"], noise=Logistic())
        batched = jax.vmap(perturbed)  # (B keys, (B, n)) -> (B, n, n)

        def loss(xb, key, tgt):
            P = batched(jax.random.split(key, xb.shape[0]), xb)
            return jnp.sum((P - tgt) ** 2)

        def vjp_value(xb, key, g):
            P, pullback = jax.vjp(lambda v: batched(jax.random.split(key, v.shape[0]), v), xb)
            return P, pullback(g)[0]

        self.x = jnp.asarray(x, dtype=jnp.float32)
        self.target = jnp.asarray(target, dtype=jnp.float32)
        self.key = jax.random.key(0)
        self.count = 0
        grad_fn = jax.jit(jax.value_and_grad(loss))
        self.compiled = grad_fn.lower(self.x, self.key, self.target).compile()
        self.vjp = jax.jit(vjp_value)

    def step(self):
        self.count += 1
        value, grad = self.compiled(self.x, self.jax.random.fold_in(self.key, self.count), self.target)
        grad.block_until_ready()
        return grad

    def forward_and_vjp(self, x, upstream, seed):
        import jax.numpy as jnp

        P, g = self.vjp(jnp.asarray(x, dtype=jnp.float32), self.jax.random.key(seed),
                        jnp.asarray(upstream.reshape(x.shape[0], 5, 5), dtype=jnp.float32))
        return np.asarray(P, dtype=np.float64).reshape(x.shape[0], -1), np.asarray(g, dtype=np.float64)

    def describe(self):
        import optax

        return (f"optax {optax.__version__} / jax {self.jax.__version__}: "
                f"perturbations.make_perturbed_fun(num_samples={self.p['samples']}, sigma={self.p['scale']}, "
                f"noise=user-written Logistic), jax.jit(jax.value_and_grad(loss of jax.vmap(perturbed))), "
                f"float32 (JAX default), one PRNG key per point and per sample, baseline f(x) "
                f"(use_baseline=True); compile excluded; block_until_ready")


class TorchPerturbedShortestPath(_TorchStep):
    """A perturbed optimizer (Berthet et al.) as PyEPO and blackbox-backprop users write it:
    gaussian noise in torch, one Dijkstra per sample, score-function backward."""

    def __init__(self, case, p, solver="heapq"):
        import torch

        costs, target = shortest_path_data(p)
        self._init_torch(costs, target)
        self.p, self.solver = p, solver
        samples, scale, side, min_cost = p["samples"], p["scale"], p["side"], p["min_cost"]
        self.generator = torch.Generator().manual_seed(0)
        grid = ScipyGrid(side, min_cost)
        gen = self

        def solve(perturbed):  # (K, N) float64 numpy -> (K, N) masks
            if solver == "heapq":
                out = np.zeros_like(perturbed)
                for k in range(perturbed.shape[0]):
                    dijkstra_mask(perturbed[k], side, min_cost, out=out[k])
                return out
            if solver == "scipy":
                return grid.masks_each(perturbed)
            return grid.masks_batched(perturbed)

        class PerturbedShortestPath(torch.autograd.Function):
            @staticmethod
            def forward(ctx, c):
                B, N = c.shape
                noise = torch.randn((B, samples, N), dtype=c.dtype, generator=gen.generator)
                perturbed = (c.detach().unsqueeze(1) + scale * noise).double().numpy().reshape(B * samples, N)
                paths = torch.from_numpy(solve(perturbed)).reshape(B, samples, N).to(c.dtype)
                ctx.save_for_backward(paths, noise)
                return paths.mean(dim=1)

            @staticmethod
            def backward(ctx, g):
                paths, noise = ctx.saved_tensors
                s = paths.shape[1]
                h = torch.einsum("bkn,bn->bk", paths, g)
                h = h - h.mean(dim=1, keepdim=True)  # leave-one-out baseline, with the 1/(s-1) below
                return torch.einsum("bk,bkn->bn", h, noise) / ((s - 1) * scale)  # gaussian score: eps

        self.layer = PerturbedShortestPath.apply

    def reseed(self, seed):
        self.generator.manual_seed(seed)

    def describe(self):
        how = {"heapq": "a Python heapq Dijkstra per sample",
               "scipy": "scipy.sparse.csgraph.dijkstra per sample (one CSR graph, data refilled)",
               "scipy-batched": "all B*s samples as one block-diagonal CSR graph, one scipy "
                                "multi-source dijkstra(min_only=True) per step"}[self.solver]
        return (f"torch.autograd.Function, float32 costs (float64 for the solver): gaussian noise "
                f"(B, s, 144) by torch.randn, costs clamped at {self.p['min_cost']} as gss's plugin, "
                f"{how}, mean over s; backward: score-function estimator (score eps), leave-one-out "
                f"baseline; i.i.d. samples")


class GssPart:
    """Where gss's step goes: its two gss calls alone (the forward estimate with its tape and the
    backward vector-Jacobian product, as the layer makes them, no torch), or f alone (the plugin
    on B*s perturbed rows made beforehand, all cores)."""

    def __init__(self, case, p, part):
        import gss
        from gss._smooth import estimate_with_tape

        if case == "sorter":
            box = gss.plugin("sorter", n=p["n"])
            x, _ = sorter_data(p)
        else:
            box = gss.plugin("shortest-path", rows=p["side"], cols=p["side"])
            x, _ = shortest_path_data(p)
        self.box, self.p, self.part, self.x, self.estimate, self.count = box, p, part, x, estimate_with_tape, 0
        self.cotangent = np.ones((len(x), box.m))
        rng = np.random.default_rng(1)
        noise = rng.logistic(size=(len(x) * p["samples"], x.shape[1])) if p["dist"] == "logistic" else \
            rng.standard_normal((len(x) * p["samples"], x.shape[1]))
        self.rows = np.repeat(x, p["samples"], axis=0) + p["scale"] * noise

    def step(self):
        self.count += 1
        if self.part == "estimate":
            _, tape = self.estimate(self.box, self.x, dist=self.p["dist"], scale=self.p["scale"],
                                    samples=self.p["samples"], seed=self.count)
            return tape.vjp(self.cotangent)
        return self.box(self.rows)

    def describe(self):
        if self.part == "estimate":
            return ("gss's two calls alone: the value and tape at the B points "
                    "(gss_estimate_with_tape) and J^T g from the tape (gss_vjp), through the Python "
                    "binding (float64 numpy, no torch), all cores")
        return (f"the black box alone: the plugin on the B*s = {len(self.rows)} perturbed rows made "
                f"beforehand, one call, all cores (no sampling, no estimator)")


IMPLEMENTATIONS = {
    "sorter": {
        "gss": lambda p: GssTorch("sorter", p),
        "gss-1-thread": lambda p: GssTorch("sorter", p, threads=1),
        "torch": lambda p: TorchPerturbedSorter("sorter", p),
        "optax": lambda p: OptaxSorter("sorter", p),
        "gss estimate only": lambda p: GssPart("sorter", p, "estimate"),
        "f only": lambda p: GssPart("sorter", p, "f"),
    },
    "shortest-path": {
        "gss": lambda p: GssTorch("shortest-path", p),
        "gss-1-thread": lambda p: GssTorch("shortest-path", p, threads=1),
        "torch+heapq": lambda p: TorchPerturbedShortestPath("shortest-path", p, "heapq"),
        "torch+scipy": lambda p: TorchPerturbedShortestPath("shortest-path", p, "scipy"),
        "torch+scipy-batched": lambda p: TorchPerturbedShortestPath("shortest-path", p, "scipy-batched"),
        "gss estimate only": lambda p: GssPart("shortest-path", p, "estimate"),
        "f only": lambda p: GssPart("shortest-path", p, "f"),
    },
}
PARAMS = {"sorter": SORTER, "shortest-path": SHORTEST_PATH}


def make(case, impl):
    return IMPLEMENTATIONS[case][impl](dict(PARAMS[case]))


if __name__ == "__main__":  # smoke test: one step of each
    import time

    for case, impls in IMPLEMENTATIONS.items():
        for name in impls:
            obj = make(case, name)
            obj.step()
            t = time.perf_counter()
            obj.step()
            print(case, name, f"{(time.perf_counter() - t) * 1e3:.1f} ms", flush=True)
    os._exit(0)
