"""Warcraft-like maps (after Vlastelica et al. 2020's Warcraft shortest-path data set, which cannot
be downloaded here), deterministic from a seed.

A map is a 12x12 grid of terrain tiles.  Terrain is spatially coherent: two smooth random fields
(elevation and moisture: white noise blurred with a Gaussian) are cut at per-map quantiles into
water (low), hills (high), forest (wet), sand (dry) and grass, and one or two roads wander from
one edge to the opposite one.  Each kind has its own vertex cost (Warcraft's values where they
exist) and each tile is drawn as an 8x8 RGB texture: the kind's colour, a kind-specific pattern
(tree crowns, waves, ridges, a road's ruts...), a per-tile brightness and hue shift and per-pixel
noise, so the image is 96x96x3.  Labels: the true cost grid and the cheapest top-left ->
bottom-right path (vertex costs, 8-neighbourhood) from gss's ``shortest-path`` plugin.
"""

from __future__ import annotations

import os
from typing import Optional

import numpy as np
from scipy.ndimage import gaussian_filter

GRID = 12
TILE = 8
#: terrain kinds: name, vertex cost, base colour (RGB)
KINDS = (
    ("road", 0.8, (176, 150, 112)),
    ("grass", 1.2, (96, 164, 64)),
    ("sand", 2.5, (214, 196, 128)),
    ("forest", 5.3, (34, 96, 44)),
    ("hills", 7.7, (128, 104, 80)),
    ("water", 9.2, (44, 84, 176)),
)
COSTS = np.array([k[1] for k in KINDS])
COLOURS = np.array([k[2] for k in KINDS], dtype=np.float64)
ROAD, GRASS, SAND, FOREST, HILLS, WATER = range(6)


def _field(rng: np.random.Generator, sigma: float) -> np.ndarray:
    pad = 6
    noise = rng.standard_normal((GRID + 2 * pad, GRID + 2 * pad))
    return gaussian_filter(noise, sigma)[pad:-pad, pad:-pad]


def _road(rng: np.random.Generator, kinds: np.ndarray) -> None:
    """A road from one edge to the opposite one, a random walk that keeps its direction."""
    vertical = rng.random() < 0.5
    pos = int(rng.integers(1, GRID - 1))
    for step in range(GRID):
        r, c = (step, pos) if vertical else (pos, step)
        kinds[r, c] = ROAD
        move = rng.choice([-1, 0, 0, 0, 1])
        pos = int(np.clip(pos + move, 0, GRID - 1))
        if move:  # keep the road 8-connected and visibly continuous
            r2, c2 = (step, pos) if vertical else (pos, step)
            kinds[r2, c2] = ROAD


def terrain(rng: np.random.Generator) -> np.ndarray:
    """(12, 12) kind indices of one map."""
    elevation = _field(rng, rng.uniform(1.5, 2.5))
    moisture = _field(rng, rng.uniform(1.5, 2.5))
    e_lo, e_hi = np.quantile(elevation, [rng.uniform(0.1, 0.25), rng.uniform(0.75, 0.9)])
    m_lo, m_hi = np.quantile(moisture, [rng.uniform(0.1, 0.2), rng.uniform(0.55, 0.75)])
    kinds = np.full((GRID, GRID), GRASS)
    kinds[moisture > m_hi] = FOREST
    kinds[moisture < m_lo] = SAND
    kinds[elevation > e_hi] = HILLS
    kinds[elevation < e_lo] = WATER
    for _ in range(int(rng.integers(1, 3))):
        _road(rng, kinds)
    return kinds


def _pattern(kind: int, rng: np.random.Generator) -> np.ndarray:
    """(8, 8) brightness pattern in about [-1, 1] for one tile of a kind."""
    yy, xx = np.mgrid[0:TILE, 0:TILE].astype(np.float64)
    p = np.zeros((TILE, TILE))
    if kind == ROAD:
        p = -0.6 * ((xx == 2) | (xx == 5)) + 0.2  # two ruts
        if rng.random() < 0.5:
            p = p.T
    elif kind == GRASS:
        p = (rng.random((TILE, TILE)) < 0.15) * 0.8  # light blades
    elif kind == SAND:
        p = 0.3 * np.sin((xx + yy) * 1.3 + rng.uniform(0, 6.3))  # ripples
    elif kind == FOREST:
        for _ in range(int(rng.integers(2, 4))):  # dark tree crowns with light tops
            cy, cx = rng.uniform(1.5, 6.5, size=2)
            d = np.hypot(yy - cy, xx - cx)
            p -= 0.9 * (d < 1.8)
            p += 0.6 * (np.hypot(yy - cy + 0.6, xx - cx + 0.6) < 0.7)
    elif kind == HILLS:
        p = 0.7 * np.sign(np.sin((yy - 0.6 * xx) * 1.1 + rng.uniform(0, 6.3)))  # ridges
    elif kind == WATER:
        p = 0.5 * ((yy.astype(int) + int(rng.integers(0, 3))) % 3 == 0) * (np.sin(xx * 1.5) > 0)  # waves
    return p


def render(kinds: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(96, 96, 3) uint8 image of a kind grid."""
    img = np.empty((GRID * TILE, GRID * TILE, 3))
    for r in range(GRID):
        for c in range(GRID):
            k = int(kinds[r, c])
            colour = COLOURS[k] * rng.uniform(0.85, 1.15) + rng.normal(0, 8, 3)  # per-tile shift
            tile = colour[None, None, :] * (1 + 0.25 * _pattern(k, rng))[:, :, None]
            tile += rng.normal(0, 10, (TILE, TILE, 3))  # per-pixel noise
            img[r * TILE:(r + 1) * TILE, c * TILE:(c + 1) * TILE] = tile
    return np.clip(img, 0, 255).astype(np.uint8)


def make_map(seed: int, index: int) -> tuple[np.ndarray, np.ndarray]:
    """Map ``index`` of the collection ``seed``: (96, 96, 3) uint8 image, (12, 12) costs."""
    rng = np.random.default_rng([seed, index])
    kinds = terrain(rng)
    return render(kinds, rng), COSTS[kinds]


def shortest_paths(costs: np.ndarray, threads: Optional[int] = 1) -> np.ndarray:
    """(..., 12, 12) costs -> (..., 12, 12) 0/1 masks from gss's shortest-path plugin."""
    import gss

    box = _box()
    lead = costs.shape[:-2]
    return box(costs.reshape(lead + (GRID * GRID,)), threads=threads).reshape(costs.shape)


_BOX = None


def _box():
    global _BOX
    if _BOX is None:
        import gss

        _BOX = gss.plugin("shortest-path", rows=GRID, cols=GRID)
    return _BOX


def make_collection(seed: int, count: int) -> dict[str, np.ndarray]:
    images = np.empty((count, GRID * TILE, GRID * TILE, 3), dtype=np.uint8)
    costs = np.empty((count, GRID, GRID))
    for i in range(count):
        images[i], costs[i] = make_map(seed, i)
    return {"images": images, "costs": costs, "paths": shortest_paths(costs).astype(np.uint8)}


#: collections: train maps come from seed 1, test maps from seed 2 (disjoint generators)
SPLITS = {"train": (1, 10_000), "test": (2, 1_000)}
CACHE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cache")


def load(split: str, cache: str = CACHE, count: Optional[int] = None) -> dict[str, np.ndarray]:
    """The cached collection (generated and saved as .npy on first use); ``count`` maps, by
    default the split's full size (a smaller count is the same maps' prefix, cached apart)."""
    seed, full = SPLITS[split]
    count = full if count is None else count
    os.makedirs(cache, exist_ok=True)
    tag = split if count == full else f"{split}{count}"
    files = {k: os.path.join(cache, f"{tag}-{k}.npy") for k in ("images", "costs", "paths")}
    if all(os.path.exists(f) for f in files.values()):
        return {k: np.load(f, mmap_mode=None) for k, f in files.items()}
    data = make_collection(seed, count)
    for k, f in files.items():
        np.save(f + ".tmp.npy", data[k])
        os.replace(f + ".tmp.npy", f)
    return data


def path_cost(paths: np.ndarray, costs: np.ndarray) -> np.ndarray:
    return (paths * costs).sum((-1, -2))
