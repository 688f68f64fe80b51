#!/usr/bin/env python3
"""Check the bundled shortest-path plugin against independent solvers.

    python3 Tests/Scripts/check_shortest_path.py PATH/TO/libgss-shortest-path.so [--seed N]

Loads the shared object through ctypes (mirroring include/gss_plugin.h), and checks:
  * the descriptor, the exported symbols, strict option parsing and error messages;
  * random grids of many sizes (1x1, 1xk, kx1, 2x2, 12x12, 20x30, ...) and cost distributions,
    negative costs included, against networkx's Dijkstra on the 8-neighbour graph whose edge
    u -> v weighs cost[v] (plus the start cell's cost): the mask must be a simple connected
    8-neighbour path from corner to corner, its cost must equal the optimum to 1e-9 relative,
    and where the optimum is unique almost surely (continuous, unclamped costs) the masks must be
    identical;
  * every tiny grid (2x2, 2x3, 3x2, 3x3, 1xk with small integer costs, many ties) against brute
    force over all simple paths;
  * the documented tie rule (settle by (distance, cell index); a predecessor only changes on a
    strictly shorter distance) against a separate lazy-deletion heapq Dijkstra, on every grid;
  * non-finite rows, batching independence, determinism and concurrent evaluation.
Exits 0 when everything holds; otherwise prints what failed, naming the grid, and exits 1.
Needs python3 with numpy and networkx.
"""
import argparse
import ctypes
import heapq
import itertools
import math
import os
import shutil
import subprocess
import sys
import threading

import networkx as nx
import numpy as np

# ------------------------------------------------------------------------------------------------
# ABI mirror (include/gss_plugin.h, ABI 1.0): field order and types exactly as in the header.
# ------------------------------------------------------------------------------------------------

GSS_ABI_MAJOR, GSS_ABI_MINOR = 1, 1
GSS_OK, GSS_E_INVALID_ARGUMENT, GSS_E_EVALUATION = 0, 1, 3
GSS_F_REENTRANT, GSS_F_DETERMINISTIC = 1 << 0, 1 << 1


class GssOption(ctypes.Structure):
    _fields_ = [("key", ctypes.c_char_p), ("value", ctypes.c_char_p)]


CREATE = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.POINTER(GssOption), ctypes.c_size_t,
                          ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(ctypes.c_char),
                          ctypes.c_size_t)
DESTROY = ctypes.CFUNCTYPE(None, ctypes.c_void_p)
DIMS = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.POINTER(ctypes.c_size_t),
                        ctypes.POINTER(ctypes.c_size_t))
EVALUATE = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_void_p, ctypes.POINTER(ctypes.c_double),
                            ctypes.c_size_t, ctypes.POINTER(ctypes.c_double),
                            ctypes.POINTER(ctypes.c_char), ctypes.c_size_t)
OUTPUT_SHAPE = ctypes.CFUNCTYPE(ctypes.c_size_t, ctypes.c_void_p,
                                ctypes.POINTER(ctypes.c_size_t * 4))
DEFAULT_INPUT = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.POINTER(ctypes.c_double))
TYPICAL_SCALE = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.POINTER(ctypes.c_double))


class GssPlugin(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_size_t),
        ("abi_major", ctypes.c_uint32),
        ("abi_minor", ctypes.c_uint32),
        ("id", ctypes.c_char_p),
        ("name", ctypes.c_char_p),
        ("version", ctypes.c_char_p),
        ("description", ctypes.c_char_p),
        ("flags", ctypes.c_uint64),
        ("create", CREATE),
        ("destroy", DESTROY),
        ("dims", DIMS),
        ("evaluate", EVALUATE),
        ("output_shape", OUTPUT_SHAPE),
        ("default_input", DEFAULT_INPUT),
        ("typical_scale", TYPICAL_SCALE),
    ]


DEFAULT_MIN_COST = 1e-3


class Failure(Exception):
    pass


def require(condition, message):
    """Raise Failure(message) unless condition; message may be a callable, built only then."""
    if not condition:
        raise Failure(message() if callable(message) else message)


# ------------------------------------------------------------------------------------------------
# Thin wrapper over the plugin
# ------------------------------------------------------------------------------------------------

class Plugin:
    def __init__(self, path):
        self.lib = ctypes.CDLL(os.path.abspath(path), mode=os.RTLD_NOW | os.RTLD_LOCAL)
        self.entry = self.lib.gss_plugin_entry
        self.entry.argtypes = [ctypes.c_uint32]
        self.entry.restype = ctypes.POINTER(GssPlugin)
        pointer = self.entry(GSS_ABI_MAJOR)
        require(bool(pointer), "gss_plugin_entry(1) returned NULL")
        self.d = pointer.contents

    def create(self, options):
        """(status, instance or None, error text) for a list of (key, value) pairs."""
        array = (GssOption * max(1, len(options)))()
        for k, (key, value) in enumerate(options):
            array[k] = GssOption(key.encode(), value.encode())
        out = ctypes.c_void_p()
        error = ctypes.create_string_buffer(512)
        status = self.d.create(array, len(options), ctypes.byref(out), error, len(error))
        return status, (out if status == GSS_OK else None), error.value.decode()

    def instance(self, rows, cols, min_cost=None):
        options = [("rows", str(rows)), ("cols", str(cols))]
        if min_cost is not None:
            options.append(("min_cost", repr(float(min_cost))))
        status, handle, error = self.create(options)
        require(status == GSS_OK and handle, f"create({options}) failed ({status}): {error}")
        return Instance(self, handle)


class Instance:
    def __init__(self, plugin, handle):
        self.plugin, self.handle = plugin, handle

    def close(self):
        self.plugin.d.destroy(self.handle)
        self.handle = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def dims(self):
        n, m = ctypes.c_size_t(), ctypes.c_size_t()
        self.plugin.d.dims(self.handle, ctypes.byref(n), ctypes.byref(m))
        return n.value, m.value

    def evaluate(self, x):
        """(status, y, error) for x of shape (batch, n)."""
        x = np.ascontiguousarray(x, dtype=np.float64)
        n, m = self.dims()
        require(x.ndim == 2 and x.shape[1] == n, f"test bug: x has shape {x.shape}, n = {n}")
        # One guard row after y catches writes past the end.
        y = np.full((x.shape[0] + 1, m), 7.25)
        error = ctypes.create_string_buffer(512)
        status = self.plugin.d.evaluate(
            self.handle, x.ctypes.data_as(ctypes.POINTER(ctypes.c_double)), x.shape[0],
            y.ctypes.data_as(ctypes.POINTER(ctypes.c_double)), error, len(error))
        require(np.all(y[-1] == 7.25), "evaluate wrote past the end of y")
        return status, y[:-1], error.value.decode()

    def solve(self, grids, label):
        """Masks (batch, n) for grids (batch, n); every row must succeed."""
        status, y, error = self.evaluate(grids)
        require(status == GSS_OK, f"{label}: evaluate returned {status}: {error}")
        require(np.all((y == 0.0) | (y == 1.0)), f"{label}: output is not a 0/1 mask")
        return y


# ------------------------------------------------------------------------------------------------
# Independent solvers
# ------------------------------------------------------------------------------------------------

def neighbours(rows, cols, i):
    r, c = divmod(i, cols)
    for dr in (-1, 0, 1):
        for dc in (-1, 0, 1):
            if (dr or dc) and 0 <= r + dr < rows and 0 <= c + dc < cols:
                yield (r + dr) * cols + c + dc


_graphs = {}


def king_graph(rows, cols):
    """Directed 8-neighbour graph on cells 0 .. rows*cols-1, both directions of every move."""
    key = (rows, cols)
    if key not in _graphs:
        graph = nx.DiGraph()
        graph.add_nodes_from(range(rows * cols))
        graph.add_edges_from((u, v) for u in range(rows * cols) for v in neighbours(rows, cols, u))
        _graphs[key] = graph
    return _graphs[key]


def networkx_optimum(rows, cols, cost):
    """(optimal cost, optimal path) by networkx: edge u -> v weighs cost[v], plus cost[0]."""
    graph = king_graph(rows, cols)
    target = rows * cols - 1
    length, path = nx.single_source_dijkstra(graph, 0, target,
                                             weight=lambda u, v, data: cost[v])
    return length + cost[0], path


def tie_rule_reference(rows, cols, cost):
    """The documented rule, written independently: heapq with lazy deletion over (dist, cell)
    settles cells in (distance, index) order; a predecessor changes only on a strictly shorter
    distance.  Costs are added in the same order as the plugin, so distances are bit-identical."""
    n = rows * cols
    dist, pred, settled = [math.inf] * n, [-1] * n, [False] * n
    dist[0] = cost[0]
    queue = [(cost[0], 0)]
    while queue:
        d, u = heapq.heappop(queue)
        if settled[u] or d != dist[u]:
            continue
        settled[u] = True
        if u == n - 1:
            break
        for v in neighbours(rows, cols, u):
            candidate = d + cost[v]
            if not settled[v] and candidate < dist[v]:
                dist[v], pred[v] = candidate, u
                heapq.heappush(queue, (candidate, v))
    mask = np.zeros(n)
    v = n - 1
    while v != -1:
        mask[v] = 1.0
        v = pred[v]
    return mask


def simple_paths(rows, cols):
    """All simple 8-neighbour paths from cell 0 to the last cell, as lists of cells."""
    target, paths = rows * cols - 1, []

    def extend(path, seen):
        u = path[-1]
        if u == target:
            paths.append(list(path))
            return
        for v in neighbours(rows, cols, u):
            if v not in seen:
                seen.add(v)
                path.append(v)
                extend(path, seen)
                path.pop()
                seen.discard(v)

    extend([0], {0})
    return paths


def check_is_path(rows, cols, mask, label):
    """The mask's cells, joined by 8-neighbour adjacency, form one simple path from corner to
    corner with no shortcuts (an optimal path with positive costs never has one)."""
    cells = set(np.flatnonzero(mask).tolist())
    target = rows * cols - 1
    require(0 in cells, f"{label}: the start cell (0, 0) is not on the path")
    require(target in cells,
            f"{label}: the target cell ({rows - 1}, {cols - 1}) is not on the path")
    degree = {u: sum(v in cells for v in neighbours(rows, cols, u)) for u in cells}
    if len(cells) == 1:
        return
    induced = nx.Graph()
    induced.add_nodes_from(cells)
    induced.add_edges_from((u, v) for u in cells for v in neighbours(rows, cols, u) if v in cells)
    require(nx.is_connected(induced), f"{label}: the masked cells are not 8-connected")
    ends = sorted(u for u in cells if degree[u] == 1)
    require(ends == sorted({0, target}) and all(degree[u] == 2 for u in cells if u not in ends),
            f"{label}: the masked cells do not form one simple path from corner to corner "
            f"(cells {sorted(cells)})")


def describe(label, rows, cols, costs):
    grid = np.asarray(costs).reshape(rows, cols)
    text = f"{label} ({rows}x{cols})"
    if rows * cols <= 64:
        text += "\ncosts =\n" + np.array2string(grid, precision=6, max_line_width=150)
    return text


# ------------------------------------------------------------------------------------------------
# Checks
# ------------------------------------------------------------------------------------------------

def check_descriptor(plugin, path):
    d = plugin.d
    require(d.struct_size == ctypes.sizeof(GssPlugin),
            f"struct_size {d.struct_size} != sizeof(gss_plugin) {ctypes.sizeof(GssPlugin)}")
    require((d.abi_major, d.abi_minor) == (GSS_ABI_MAJOR, GSS_ABI_MINOR),
            f"ABI {d.abi_major}.{d.abi_minor}, expected {GSS_ABI_MAJOR}.{GSS_ABI_MINOR}")
    require(d.id == b"shortest-path", f"id {d.id!r}")
    require(d.name and d.version, "name or version missing")
    for word in (b"rows=12", b"cols=12", b"min_cost=0.001", b"8 neighbours", b"cell index",
                 b"clamp"):
        require(word.lower() in d.description.lower(), f"description does not mention {word!r}")
    require(d.flags == GSS_F_REENTRANT | GSS_F_DETERMINISTIC, f"flags {d.flags:#x}")
    for field in ("create", "destroy", "dims", "evaluate", "output_shape", "default_input", "typical_scale"):
        require(bool(getattr(d, field)), f"descriptor field {field} is NULL")
    for major in (0, 2, 0xFFFFFFFF):
        require(not plugin.entry(major), f"gss_plugin_entry({major}) did not return NULL")
    d.destroy(None)  # must be a no-op
    nm = shutil.which("nm")
    if nm:  # POSIX format: one "name type value size" line per defined dynamic symbol
        listing = subprocess.run([nm, "-D", "--defined-only", "--format=posix", path],
                                 capture_output=True, text=True, check=True).stdout
        exported = sorted(line.split()[0] for line in listing.splitlines()
                          if line.strip() and not line.startswith("_"))
        require(exported == ["gss_plugin_entry"], f"exported symbols {exported}")


def check_options(plugin):
    side = "from 1 to 256"
    positive = "positive finite number"
    known = "rows, cols, min_cost"
    bad = [
        ([("rows", "0")], "rows='0'", side), ([("rows", "257")], "rows", side),
        ([("rows", "abc")], "rows", side), ([("rows", "-3")], "rows", side),
        ([("rows", " 5")], "rows", side), ([("rows", "")], "rows", side),
        ([("rows", "1.5")], "rows", side), ([("rows", "+5")], "rows", side),
        ([("rows", "99999999999999999999999")], "rows", side),
        ([("cols", "4"), ("cols", "0")], "cols='0'", side), ([("cols", "1000")], "cols", side),
        ([("min_cost", "0")], "min_cost='0'", positive),
        ([("min_cost", "-1")], "min_cost", positive),
        ([("min_cost", "nan")], "min_cost", positive),
        ([("min_cost", "inf")], "min_cost", positive),
        ([("min_cost", "abc")], "min_cost", positive),
        ([("min_cost", "")], "min_cost", positive),
        ([("min_cost", " 1")], "min_cost", positive),
        ([("min_cost", "1e-3x")], "min_cost", positive),
        ([("size", "12")], "'size'", known), ([("rows", "3"), ("ROWS", "3")], "'ROWS'", known),
    ]
    for options, name, expected in bad:
        status, handle, error = plugin.create(options)
        require(status == GSS_E_INVALID_ARGUMENT,
                f"create({options}) returned {status}, expected GSS_E_INVALID_ARGUMENT")
        require(name in error and expected in error and "\n" not in error,
                f"create({options}): message {error!r} does not name {name!r} and {expected!r}")
    # A tiny error buffer is filled and NUL-terminated, never overrun.
    array = (GssOption * 1)(GssOption(b"rows", b"0"))
    buffer = (ctypes.c_char * 16)(*([b"#"] * 16))
    out = ctypes.c_void_p()
    status = plugin.d.create(array, 1, ctypes.byref(out), buffer, 8)
    require(status == GSS_E_INVALID_ARGUMENT and buffer.raw[7:8] == b"\0" and
            buffer.raw[8:] == b"#" * 8, f"error truncation: {buffer.raw!r}")

    good = [([], (144, 144), (12, 12)), ([("rows", "1"), ("cols", "256")], (256, 256), (1, 256)),
            ([("rows", "3"), ("rows", "5"), ("cols", "2")], (10, 10), (5, 2)),
            ([("min_cost", "1e-9")], (144, 144), (12, 12)),
            ([("min_cost", "2.5"), ("cols", "7")], (84, 84), (12, 7))]
    for options, dims, shape in good:
        status, handle, error = plugin.create(options)
        require(status == GSS_OK, f"create({options}) failed ({status}): {error}")
        with Instance(plugin, handle) as instance:
            require(instance.dims() == dims, f"create({options}): dims {instance.dims()}")
            extents = (ctypes.c_size_t * 4)()
            rank = plugin.d.output_shape(handle, ctypes.byref(extents))
            require(rank == 2 and tuple(extents[:2]) == shape,
                    f"create({options}): output_shape rank {rank} {tuple(extents[:rank])}")


def check_default_input(plugin):
    first, second = [], []
    for sink in (first, second):
        with plugin.instance(12, 12) as instance:
            x = np.zeros(144)
            pointer = x.ctypes.data_as(ctypes.POINTER(ctypes.c_double))
            plugin.d.default_input(instance.handle, pointer)
            sink.append(x)
            mask = instance.solve(x[None, :], "default input")[0]
    x = first[0]
    require(np.array_equal(first[0], second[0]), "default input differs between instances")
    require(np.all((x >= 0.5) & (x <= 5.0)) and len(np.unique(x)) == 144,
            "default input is not 144 distinct costs in [0.5, 5]")
    optimum, path = networkx_optimum(12, 12, x.tolist())
    expected = np.zeros(144)
    expected[path] = 1.0
    require(np.array_equal(mask, expected), "default input: mask differs from networkx")
    diagonal = np.eye(12).ravel()
    require(not np.array_equal(mask, diagonal), "default input: the path is just the diagonal")
    return int(mask.sum())


def check_hand_examples(plugin):
    """Small cases whose answer follows from the documented rules by hand."""
    cases = [
        (1, 1, [3.0], [1]),
        (1, 4, [-5.0, 2.0, 0.0, 1.0], [1, 1, 1, 1]),
        (3, 3, [1.0] * 9, [1, 0, 0, 0, 1, 0, 0, 0, 1]),
        # Both 0-1-5 and 0-4-5 cost 3: cell 1 settles before cell 4 (equal distance, smaller
        # index) and reaches 5 first, so 5 keeps predecessor 1.
        (2, 3, [1.0] * 6, [1, 1, 0, 0, 0, 1]),
        # -7 and 0 both clamp to min_cost, so the routes through cell 1 and cell 4 tie; cell 1
        # settles first (equal distance, smaller index) and reaches cell 5 first.
        (2, 3, [1.0, -7.0, 9.0, 1.0, 0.0, 1.0], [1, 1, 0, 0, 0, 1]),
        # Unclamped, the detour 0-1-2-5 (total 0) would beat 0-1-5 (total 1); clamped, every
        # extra cell costs min_cost, so the shorter route wins (2.001 < 2.002).
        (2, 3, [1.0, -1.0, -1.0, 1.0, 1.5, 1.0], [1, 1, 0, 0, 0, 1]),
        # Negative cells clamp to min_cost and the path runs through both of them.
        (3, 3, [1.0, 9.0, 9.0, -5.0, 5.0, 9.0, 9.0, -5.0, 1.0], [1, 0, 0, 1, 0, 0, 0, 1, 1]),
    ]
    for rows, cols, costs, expected in cases:
        label = describe("hand example", rows, cols, costs)
        with plugin.instance(rows, cols) as instance:
            mask = instance.solve(np.array([costs]), label)[0]
        require(np.array_equal(mask, np.array(expected, dtype=float)),
                f"{label}\nmask {mask.astype(int).tolist()}, expected {expected}")


def check_grid_batch(plugin, rows, cols, grids, min_cost, label, expect_unique):
    """Compare plugin masks on a batch of grids against networkx and the tie-rule reference."""
    floor = DEFAULT_MIN_COST if min_cost is None else min_cost
    with plugin.instance(rows, cols, min_cost) as instance:
        masks = instance.solve(grids, label)
    for k, (grid, mask) in enumerate(zip(grids, masks)):
        name = describe(f"{label}, grid {k}", rows, cols, grid)
        clamped = np.maximum(grid, floor)
        cost = clamped.tolist()
        check_is_path(rows, cols, mask, name)
        optimum, path = networkx_optimum(rows, cols, cost)
        found = float(clamped[mask == 1.0].sum())
        require(abs(found - optimum) <= 1e-9 * abs(optimum),
                lambda: f"{name}\npath cost {found!r} != networkx optimum {optimum!r}")
        if expect_unique and np.all(grid >= floor):
            expected = np.zeros(rows * cols)
            expected[path] = 1.0
            require(np.array_equal(mask, expected),
                    lambda: f"{name}\nmask differs from networkx's unique optimum "
                    f"(plugin {np.flatnonzero(mask).tolist()}, networkx {path})")
        reference = tie_rule_reference(rows, cols, cost)
        require(np.array_equal(mask, reference),
                lambda: f"{name}\nmask {np.flatnonzero(mask).tolist()} breaks the tie rule "
                f"(reference {np.flatnonzero(reference).tolist()})")
    return len(grids)


def check_random(plugin, rng, seed):
    sizes = [(1, 1), (1, 2), (1, 7), (7, 1), (2, 1), (2, 2), (2, 5), (5, 2), (3, 3), (12, 12),
             (20, 30), (30, 20), (1, 40), (40, 1), (18, 18), (24, 24), (30, 30)]
    sizes += [tuple(int(v) for v in rng.integers(1, 26, size=2)) for _ in range(15)]
    total = 0
    for rows, cols in sizes:
        n = rows * cols
        batches = [
            ("uniform [0.5, 5]", rng.uniform(0.5, 5.0, (8, n)), None, True),
            ("uniform [0.8, 9.2] + normal noise", rng.uniform(0.8, 9.2, (6, n)) +
             rng.normal(0.0, 1.0, (6, n)), None, True),
            ("normal(1, 1.5): many negative", rng.normal(1.0, 1.5, (6, n)), None, True),
            ("uniform [-3, 2], min_cost 0.5", rng.uniform(-3.0, 2.0, (4, n)), 0.5, True),
            ("uniform [-1, 1], min_cost 1e-6", rng.uniform(-1.0, 1.0, (4, n)), 1e-6, True),
            ("integers 1..3 (ties)", rng.integers(1, 4, (6, n)).astype(float), None, False),
            ("integers -2..2 (clamped ties)", rng.integers(-2, 3, (4, n)).astype(float), 1.0,
             False),
        ]
        for name, grids, min_cost, unique in batches:
            label = f"random {rows}x{cols} {name}" + \
                (f" min_cost={min_cost}" if min_cost else "") + f" (--seed {seed})"
            total += check_grid_batch(plugin, rows, cols, grids, min_cost, label, unique)
    # The size limit: one large grid against both solvers.
    for rows, cols in ((256, 256), (1, 256), (256, 1)):
        grid = rng.normal(2.0, 2.0, (1, rows * cols))
        total += check_grid_batch(plugin, rows, cols, grid, None,
                                  f"random {rows}x{cols} normal(2, 2) (--seed {seed})", True)
    return total


def check_brute_force(plugin):
    """Every grid of a few tiny sizes over a small integer alphabet, against all simple paths."""
    cases = [(2, 2, (-1, 0, 1, 2, 3), None), (2, 3, (1, 2, 3), None), (3, 2, (1, 2, 3), None),
             (3, 3, (1, 2, 3), None), (3, 3, (-1, 1, 2), 1.0), (3, 3, (0, 1, 2), None),
             (1, 5, (-1, 1, 2), None), (5, 1, (-1, 1, 2), None), (1, 1, (-1, 0, 2), None)]
    total = tied = 0
    for rows, cols, alphabet, min_cost in cases:
        n = rows * cols
        floor = DEFAULT_MIN_COST if min_cost is None else min_cost
        paths = simple_paths(rows, cols)
        incidence = np.zeros((len(paths), n))
        for p, path in enumerate(paths):
            incidence[p, path] = 1.0
        index = {tuple(row): p for p, row in enumerate(incidence.astype(int).tolist())}
        grids = np.array(list(itertools.product(alphabet, repeat=n)), dtype=float)
        label = f"brute force {rows}x{cols} costs in {alphabet}" + \
            (f" min_cost={min_cost}" if min_cost else "")
        with plugin.instance(rows, cols, min_cost) as instance:
            masks = instance.solve(grids, label)
            again = instance.solve(grids[::-1], label)[::-1]
            single = np.vstack([instance.solve(grids[k:k + 1], label) for k in range(0, len(grids),
                                                                                     97)])
        require(np.array_equal(masks, again), f"{label}: results depend on the batch order")
        require(np.array_equal(masks[::97], single), f"{label}: results depend on the batch size")
        clamped = np.maximum(grids, floor)
        path_costs = clamped @ incidence.T  # (grids, paths)
        best = path_costs.min(axis=1)
        for k in range(len(grids)):
            def name():
                return describe(f"{label}, grid {k}", rows, cols, grids[k])
            chosen = index.get(tuple(masks[k].astype(int).tolist()))
            require(chosen is not None, lambda: f"{name()}\nmask "
                    f"{np.flatnonzero(masks[k]).tolist()} is not a simple path")
            require(abs(path_costs[k, chosen] - best[k]) <= 1e-12 * best[k],
                    lambda: f"{name()}\npath {paths[chosen]} costs {path_costs[k, chosen]}, "
                    f"optimum {best[k]}")
            tied += int(np.sum(np.abs(path_costs[k] - best[k]) <= 1e-12 * best[k]) > 1)
            reference = tie_rule_reference(rows, cols, clamped[k].tolist())
            require(np.array_equal(masks[k], reference),
                    lambda: f"{name()}\npath {paths[chosen]} breaks the tie rule (reference "
                    f"{np.flatnonzero(reference).tolist()})")
        total += len(grids)
    require(tied > 1000, f"only {tied} brute-force grids had tied optima: the tie rule is untested")
    return total, tied


def check_non_finite(plugin, rng):
    with plugin.instance(4, 5) as instance:
        x = rng.uniform(0.5, 5.0, (5, 20))
        x[1, 13] = math.nan
        x[3, 0] = math.inf
        x[4, 19] = -math.inf
        status, y, error = instance.evaluate(x)
        require(status == GSS_E_EVALUATION, f"non-finite rows: status {status}, expected 3")
        require("row 1" in error and "(2, 3)" in error,
                f"non-finite rows: message {error!r} does not name row 1, cell (2, 3)")
        for bad in (1, 3, 4):
            require(np.all(np.isnan(y[bad])), f"non-finite rows: row {bad} is not all NaN")
        for good in (0, 2):
            expected = instance.solve(x[good:good + 1], "non-finite rows (good row alone)")[0]
            require(np.array_equal(y[good], expected),
                    f"non-finite rows: row {good} differs from its solution alone")


def check_concurrency(plugin, rng):
    """GSS_F_REENTRANT: several threads on one instance give the serial answers."""
    grids = rng.normal(1.5, 1.5, (64, 24 * 24))
    with plugin.instance(24, 24) as instance:
        serial = instance.solve(grids, "concurrency (serial)")
        results, failures = {}, []

        def worker(t):
            try:
                for _ in range(20):
                    results[t] = instance.solve(grids[t::4], f"concurrency (thread {t})")
                    if not np.array_equal(results[t], serial[t::4]):
                        failures.append(t)
            except Failure as failure:
                failures.append(str(failure))

        threads = [threading.Thread(target=worker, args=(t,)) for t in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        require(not failures, f"concurrent evaluate on one instance disagreed: {failures}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("library", help="path to libgss-shortest-path.so")
    parser.add_argument("--seed", type=int, default=20240611, help="seed of the random grids")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    try:
        plugin = Plugin(args.library)
        check_descriptor(plugin, args.library)
        check_options(plugin)
        path_length = check_default_input(plugin)
        check_hand_examples(plugin)
        random_count = check_random(plugin, rng, args.seed)
        brute_count, tied = check_brute_force(plugin)
        check_non_finite(plugin, rng)
        check_concurrency(plugin, rng)
    except Failure as failure:
        print(f"FAIL: {failure}", file=sys.stderr)
        return 1
    print(f"ok: descriptor, options, default input (path of {path_length} cells), "
          f"{random_count} random grids vs networkx and the tie rule, {brute_count} tiny grids "
          f"vs brute force ({tied} with tied optima), non-finite rows, batching, concurrency")
    return 0


if __name__ == "__main__":
    sys.exit(main())
