#!/usr/bin/env python3
"""A smoothed layer in a training step, side by side (issue 16, section 4).

Cases (bench/layer/peers.py holds the implementations):
  sorter         n = 5, B = 100 points, s = 256 samples, logistic noise, scale 1:
                 gss.torch.Smoothed on the `sorter` plugin (all cores; 1 thread) against a
                 perturbed sorter written in PyTorch (default intra-op threads; 1 thread) and
                 optax.perturbations.make_perturbed_fun under jax.jit(jax.vmap(...)).
  shortest-path  12 x 12 grid, B = 70 maps, s = 100 samples, gaussian noise, scale 0.2, costs
                 uniform in [0.5, 2]: gss.torch.Smoothed on `shortest-path` against a perturbed
                 optimizer calling a Python heapq Dijkstra, scipy's dijkstra per sample, or one
                 scipy dijkstra over all samples as a block-diagonal graph.
  overhead       the Python call's own cost: gss.smooth on sorter n = 2, B = 1, s = 2; the same
                 gss_estimate through bare ctypes; the torch layer's forward + backward; and the C
                 call timed in C (overhead.c).
A training step is: zero the input's gradient, forward, loss = sum((out - target)^2), backward
(and block_until_ready for JAX).  Each implementation runs in its own worker process (its own
thread pools); the driver runs them round-robin, rotating who goes first, so the machine's noise
hits all alike; medians over all timed steps, and the median over rounds of each round's ratio.

  python bench/layer/run_layer_bench.py                       # all three cases
  python bench/layer/run_layer_bench.py --case sorter --rounds 20
  python bench/layer/run_layer_bench.py --check               # correctness checks (untimed)

Needs: PYTHONPATH=python (or gss installed), GSS_LIBRARY=.build/release/libGSS.so,
GSS_PLUGIN_PATH=.build/release; torch, jax, optax, scipy (versions in bench/layer/README.md).
Prints JSON lines (one per implementation and case, one "run" record) and a Markdown table.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

# implementation -> steps per round (about balancing a round's time between implementations)
PLAN = {
    "sorter": [("gss", 10), ("gss-1-thread", 10), ("torch", 3), ("torch-1-thread", 3), ("optax", 5),
               ("gss estimate only", 10), ("f only", 10)],
    "shortest-path": [("gss", 3), ("gss-1-thread", 3), ("torch+heapq", 1), ("torch+scipy", 1),
                      ("torch+scipy-batched", 1), ("gss estimate only", 3), ("f only", 3)],
}
DEFAULT_ROUNDS = {"sorter": 20, "shortest-path": 8, "overhead": 10}
PEERS = {"sorter": ["torch", "torch-1-thread", "optax"],
         "shortest-path": ["torch+heapq", "torch+scipy", "torch+scipy-batched"]}
TARGET = {"sorter": 20.0, "shortest-path": 50.0}


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def cpu_jiffies():
    v = list(map(int, open("/proc/stat").readline().split()[1:]))
    return sum(v), v[3] + v[4]


def idle_fraction(seconds=3.0):
    a = cpu_jiffies()
    time.sleep(seconds)
    b = cpu_jiffies()
    return (b[1] - a[1]) / max(1, b[0] - a[0])


def wait_idle(limit, threshold=0.9):
    """Wait (up to `limit` s) until the CPU has been >= threshold idle for 3 s."""
    start = time.time()
    f = idle_fraction()
    while f < threshold and time.time() - start < limit:
        log(f"waiting for an idle CPU: {f:.2f} idle, load {open('/proc/loadavg').read().split()[:3]}")
        time.sleep(7)
        f = idle_fraction()
    return f


def self_cpu_seconds(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


# --------------------------------------------------------------------------------------------
# Worker: one implementation in its own process; lines of JSON over stdin/stdout
# --------------------------------------------------------------------------------------------
def worker(case, impl):
    out = sys.stdout
    sys.stdout = sys.stderr  # libraries' prints stay off the protocol
    threads = None
    if impl.endswith("-1-thread") and not impl.startswith("gss"):
        import torch

        torch.set_num_threads(1)
        threads = 1
    import peers

    t0 = time.perf_counter()
    obj = peers.make(case, impl.replace("-1-thread", "") if threads == 1 else impl)
    setup = time.perf_counter() - t0
    warm = []
    for _ in range(3):
        t = time.perf_counter()
        obj.step()
        warm.append(time.perf_counter() - t)
    info = dict(setup_seconds=setup, warmup_seconds=warm, describe=obj.describe()
                + ("; torch.set_num_threads(1)" if threads == 1 else ""))
    out.write(json.dumps(info) + "\n")
    out.flush()
    for line in sys.stdin:
        command = line.split()
        if not command or command[0] == "stop":
            break
        k = int(command[1])
        times = []
        c0 = time.process_time()
        for _ in range(k):
            t = time.perf_counter()
            obj.step()
            times.append(time.perf_counter() - t)
        cpu = time.process_time() - c0
        out.write(json.dumps(dict(times=times, cpu=cpu)) + "\n")
        out.flush()
    os._exit(0)  # skip the frameworks' teardown


class Worker:
    def __init__(self, case, impl):
        self.impl = impl
        self.p = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--worker", case, impl],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.p.stdout.readline()
        if not line:
            raise SystemExit(f"worker {case}/{impl} failed to start")
        self.info = json.loads(line)
        self.times, self.round_times, self.round_medians, self.cpu, self.wall = [], [], [], 0.0, 0.0

    def run(self, k):
        self.p.stdin.write(f"run {k}\n")
        self.p.stdin.flush()
        r = json.loads(self.p.stdout.readline())
        self.times += r["times"]
        self.round_times.append(r["times"])
        self.round_medians.append(statistics.median(r["times"]))
        self.cpu += r["cpu"]
        self.wall += sum(r["times"])

    def stop(self):
        self.p.stdin.write("stop\n")
        self.p.stdin.flush()
        self.p.wait()


def quartiles(values):
    q = statistics.quantiles(values, n=4)
    return q[0], q[2]


def run_case(case, rounds):
    plan = PLAN[case]
    log(f"[{case}] starting {len(plan)} workers")
    workers = [Worker(case, impl) for impl, _ in plan]
    steps = dict(plan)
    cpu0 = sum(self_cpu_seconds(w.p.pid) for w in workers) + time.process_time()
    j0, w0 = cpu_jiffies(), time.time()
    load_before = open("/proc/loadavg").read().split()[:3]
    round_others = []  # per round: other processes' CPU-seconds per wall-second
    for r in range(rounds):
        order = workers[r % len(workers):] + workers[: r % len(workers)]
        own_r = sum(self_cpu_seconds(w.p.pid) for w in workers) + time.process_time()
        jr, wr = cpu_jiffies(), time.time()
        for w in order:
            w.run(steps[w.impl])
        jr1 = cpu_jiffies()
        own_r = sum(self_cpu_seconds(w.p.pid) for w in workers) + time.process_time() - own_r
        busy_r = ((jr1[0] - jr[0]) - (jr1[1] - jr[1])) / os.sysconf("SC_CLK_TCK")
        round_others.append(max(0.0, busy_r - own_r) / (time.time() - wr))
        log(f"[{case}] round {r + 1}/{rounds}: " + ", ".join(
            f"{w.impl} {w.round_medians[-1] * 1e3:.1f}" for w in workers) + f" ms; others {round_others[-1]:.2f} CPU")
    j1, w1 = cpu_jiffies(), time.time()
    own_cpu = sum(self_cpu_seconds(w.p.pid) for w in workers) + time.process_time() - cpu0
    for w in workers:
        w.stop()
    busy = ((j1[0] - j0[0]) - (j1[1] - j0[1])) / os.sysconf("SC_CLK_TCK")
    env = dict(wall_seconds=w1 - w0, load_before=load_before,
               load_after=open("/proc/loadavg").read().split()[:3],
               busy_cpu_seconds=busy, others_cpu_seconds=max(0.0, busy - own_cpu),
               others_cpu_per_wall_second=max(0.0, busy - own_cpu) / (w1 - w0),
               others_cpu_per_round=round_others)
    # The quieter half of the rounds (others' CPU at or below its median), all implementations alike.
    cut = statistics.median(round_others)
    quiet = [i for i, o in enumerate(round_others) if o <= cut]
    env["quiet_rounds"] = quiet
    gss = next(w for w in workers if w.impl == "gss")
    gss_quiet = statistics.median([t for i in quiet for t in gss.round_times[i]])
    records = []
    for w in workers:
        q1, q3 = quartiles(w.times)
        paired = [a / b for a, b in zip(w.round_medians, gss.round_medians)]
        quiet_times = [t for i in quiet for t in w.round_times[i]]
        records.append(dict(
            case=case, impl=w.impl, params=_params(case), rounds=rounds, steps=len(w.times),
            median_ms=statistics.median(w.times) * 1e3, p25_ms=q1 * 1e3, p75_ms=q3 * 1e3,
            min_ms=min(w.times) * 1e3,
            time_vs_gss_medians=statistics.median(w.times) / statistics.median(gss.times),
            time_vs_gss_paired=statistics.median(paired),
            cpu_seconds_per_wall_second=w.cpu / w.wall,
            quiet_rounds=len(quiet), quiet_median_ms=statistics.median(quiet_times) * 1e3,
            quiet_time_vs_gss_medians=statistics.median(quiet_times) / gss_quiet,
            quiet_time_vs_gss_paired=statistics.median([paired[i] for i in quiet]),
            setup_seconds=w.info["setup_seconds"], warmup_ms=[t * 1e3 for t in w.info["warmup_seconds"]],
            describe=w.info["describe"], times_ms=[t * 1e3 for t in w.times]))
    return records, env


def _params(case):
    import peers

    return peers.PARAMS.get(case, {})


# --------------------------------------------------------------------------------------------
# Overhead: the Python call's own cost, B = 1, s = 2
# --------------------------------------------------------------------------------------------
def overhead_worker(rounds, calls):
    import ctypes

    import numpy as np
    import torch

    import gss
    import gss.torch  # noqa: F401
    from gss import _capi
    from gss._smooth import _new_config

    box = gss.plugin("sorter", n=2)
    x = np.array([[0.3, -0.2]])
    LIB = _capi.LIB

    def raw_ctypes(threads):
        """gss_estimate through ctypes with everything prepared: the binding's floor."""
        config = _new_config((b"logistic", 2, b"rqmc-latin", False, b"loo", threads, False, False, 0))
        outs = {k: np.empty(s) for k, s in (("value", 4), ("value_stderr", 4), ("jacobian", 8),
                                             ("jacobian_stderr", 8))}
        o = _capi.EstimateOutputs()
        o.struct_size = ctypes.sizeof(_capi.EstimateOutputs)
        for k, a in outs.items():
            setattr(o, k, a.ctypes.data)
        err = ctypes.create_string_buffer(512)
        h, ch, xa, ref = box.handle(), config.handle, x.ctypes.data, ctypes.byref(o)
        est, seed = LIB.gss_estimate, LIB.gss_config_set_seed

        def call(i):
            seed(ch, i, err, 512)
            if est(h, ch, xa, 1, ref, None, err, 512) != 0:
                raise RuntimeError(err.value)
        call._keep = (config, outs, o)
        return call

    layer_all = gss.torch.Smoothed(box, samples=2, seed=0)
    layer_one = gss.torch.Smoothed(box, samples=2, seed=0, threads=1)
    xt = torch.tensor([[0.3, -0.2]], requires_grad=True)

    def torch_step(layer):
        def call(i):
            xt.grad = None
            layer(xt).sum().backward()
        return call

    plain = torch.tensor([[0.3, -0.2]], requires_grad=True)

    def torch_floor(i):  # autograd alone: a one-op graph's forward and backward
        plain.grad = None
        (plain * 2.0).sum().backward()

    variants = {
        "torch alone: (x * 2).sum().backward(), the autograd floor": torch_floor,
        "gss.smooth (all cores)": lambda i: gss.smooth(box, x, samples=2, seed=i),
        "gss.smooth (1 thread)": lambda i: gss.smooth(box, x, samples=2, seed=i, threads=1),
        "bare ctypes gss_estimate (all cores)": raw_ctypes(0),
        "bare ctypes gss_estimate (1 thread)": raw_ctypes(1),
        "gss.torch.Smoothed forward+backward (all cores)": torch_step(layer_all),
        "gss.torch.Smoothed forward+backward (1 thread)": torch_step(layer_one),
    }
    times = {k: [] for k in variants}
    for f in variants.values():  # warm-up
        for i in range(200):
            f(i)
    names = list(variants)
    for r in range(rounds):
        for name in names[r % len(names):] + names[: r % len(names)]:
            f, ts, pc = variants[name], times[name], time.perf_counter_ns
            for i in range(calls):
                t = pc()
                f(i)
                ts.append(pc() - t)
    return {k: v for k, v in times.items()}


def build_overhead_c():
    import gss  # noqa: F401  (where the library is)

    lib = os.path.abspath(gss.library_path)
    exe = os.path.join(tempfile.mkdtemp(prefix="gss-layer-bench-"), "overhead")
    cmd = ["cc", "-O2", "-I" + os.path.join(ROOT, "include"), os.path.join(HERE, "overhead.c"), "-o", exe,
           lib, "-Wl,-rpath," + os.path.dirname(lib)]
    subprocess.run(cmd, check=True)
    return exe


def run_overhead(rounds, calls=500):
    import resource

    exe = build_overhead_c()
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    j0, w0 = cpu_jiffies(), time.time()
    load_before = open("/proc/loadavg").read().split()[:3]
    p = subprocess.run([sys.executable, os.path.abspath(__file__), "--overhead-worker", str(rounds), str(calls)],
                       capture_output=True, text=True, check=True)
    times = json.loads(p.stdout)
    c_runs = {0: [], 1: []}
    for r in range(rounds):  # the C floor, after the Python rounds (its own process)
        for t in (0, 1):
            c_runs[t].append(json.loads(subprocess.run([exe, str(calls), str(t)], capture_output=True,
                                                       text=True, check=True).stdout))
    j1, w1 = cpu_jiffies(), time.time()
    records = []
    for name, ts in times.items():
        q1, q3 = quartiles(ts)
        records.append(dict(case="overhead", impl=name, calls=len(ts), median_us=statistics.median(ts) / 1e3,
                            p25_us=q1 / 1e3, p75_us=q3 / 1e3, min_us=min(ts) / 1e3))
    for t, runs in c_runs.items():
        records.append(dict(case="overhead", impl=f"C: gss_estimate timed in C ({'all cores' if t == 0 else '1 thread'})",
                            calls=sum(r["calls"] for r in runs),
                            median_us=statistics.median(r["median_ns"] for r in runs) / 1e3,
                            p25_us=statistics.median(r["p25_ns"] for r in runs) / 1e3,
                            p75_us=statistics.median(r["p75_ns"] for r in runs) / 1e3,
                            min_us=min(r["min_ns"] for r in runs) / 1e3,
                            note="median over runs of each run's median"))
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    own = (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime)
    busy = ((j1[0] - j0[0]) - (j1[1] - j0[1])) / os.sysconf("SC_CLK_TCK")
    env = dict(wall_seconds=w1 - w0, load_before=load_before,
               load_after=open("/proc/loadavg").read().split()[:3], busy_cpu_seconds=busy,
               others_cpu_seconds=max(0.0, busy - own), others_cpu_per_wall_second=max(0.0, busy - own) / (w1 - w0))
    return records, env


# --------------------------------------------------------------------------------------------
# Correctness checks (untimed): the peers compute gss's smoothing
# --------------------------------------------------------------------------------------------
def _z_summary(a_mean, a_se, b_mean, b_se):
    import numpy as np

    se = np.sqrt(a_se ** 2 + b_se ** 2)
    ok = se > 0
    z = np.abs(a_mean - b_mean)[ok] / se[ok]
    return dict(entries=int(ok.sum()), max_abs_diff=float(np.abs(a_mean - b_mean).max()),
                rms_z=float(np.sqrt(np.mean(z ** 2))), max_z=float(z.max()),
                fraction_z_over_3=float(np.mean(z > 3)), zero_se_entries_equal=bool(
                    np.all(np.abs(a_mean - b_mean)[~ok] < 1e-6)))


def repeated(obj, x, g, repeats, seed0):
    import numpy as np

    vals, grads = [], []
    for r in range(repeats):
        v, gr = obj.forward_and_vjp(x, g, seed0 + r)
        vals.append(v)
        grads.append(gr)
    vals, grads = np.stack(vals), np.stack(grads)
    k = vals.shape[0]
    return (vals.mean(0), vals.std(0, ddof=1) / k ** 0.5, grads.mean(0), grads.std(0, ddof=1) / k ** 0.5)


def run_checks(repeats):
    import numpy as np

    import gss
    import peers

    out = []
    # sorter: the hard f agrees with the plugin; smoothed value and J^T g agree with gss's
    p = peers.SORTER
    x, _ = peers.sorter_data(p)
    box = gss.plugin("sorter", n=5)
    out.append(dict(check="sorter hard f: numpy argsort-of-argsort one-hot == plugin",
                    equal=bool(np.array_equal(peers.hard_permutations(x).reshape(len(x), -1), box(x)))))
    g = np.random.default_rng(7).standard_normal((len(x), 25))
    impls = {name: peers.make("sorter", name) for name in ("gss", "torch", "optax")}
    results = {name: repeated(obj, x, g, repeats, 1000) for name, obj in impls.items()}
    sys.path.insert(0, os.path.join(ROOT, "bench", "peers"))
    import sorter_peers  # the exact smoothed permutation matrix (gamma = 1)

    exact = np.stack([sorter_peers.exact_permutation_matrix(x[b], "logistic") for b in range(5)])
    for name, (v, vse, gr, gse) in results.items():
        out.append(dict(check=f"sorter {name}: mean value of the first 5 points vs the exact smoothed "
                              f"permutation matrix ({repeats} runs, s = {p['samples']})",
                        **_z_summary(v[:5], vse[:5], exact, np.zeros_like(exact))))
    gv, gvse, gg, ggse = results["gss"]
    for name in ("torch", "optax"):
        v, vse, gr, gse = results[name]
        out.append(dict(check=f"sorter {name} vs gss: value, B = 100 ({repeats} runs each)", **_z_summary(v, vse, gv, gvse)))
        out.append(dict(check=f"sorter {name} vs gss: J^T g, random g, B = 100", **_z_summary(gr, gse, gg, ggse)))

    # shortest path: hard f agrees; smoothed mean path and J^T g agree with gss's on 7 maps
    p = peers.SHORTEST_PATH
    c, _ = peers.shortest_path_data(p)
    sp = gss.plugin("shortest-path", rows=p["side"], cols=p["side"])
    grid = peers.ScipyGrid(p["side"], p["min_cost"])
    heap = np.stack([peers.dijkstra_mask(ci, p["side"]) for ci in c])
    out.append(dict(check="shortest-path hard f: heapq Dijkstra == plugin on the 70 maps",
                    equal=bool(np.array_equal(heap, sp(c)))))
    base = np.repeat(c[:10], 100, axis=0) + p["scale"] * np.random.default_rng(3).standard_normal((1000, c.shape[1]))
    pushed = base.copy()
    pushed[np.random.default_rng(4).random(base.shape) < 0.03] -= 2.0
    for label, noisy in (("the benchmark's noise", base),
                         ("3% of cells pushed below 0 and clamped to 1e-3, so exact ties occur", pushed)):
        ref = sp(noisy)
        cost = np.maximum(noisy, p["min_cost"])

        def agreement(masks):
            same = (masks == ref).all(axis=1)
            tie = np.isclose((masks * cost).sum(1), (ref * cost).sum(1), rtol=1e-12, atol=0)
            return dict(identical_paths=int(same.sum()), other_path_of_equal_cost=int((~same & tie).sum()),
                        different_cost=int((~same & ~tie).sum()))

        out.append(dict(check=f"shortest-path hard f on 1000 perturbed cost maps ({label}) vs the plugin",
                        heapq=agreement(np.stack([peers.dijkstra_mask(ci, p["side"]) for ci in noisy])),
                        scipy=agreement(grid.masks_each(noisy)), scipy_batched=agreement(grid.masks_batched(noisy))))
    xs = c[:7]
    g = np.random.default_rng(8).standard_normal((len(xs), c.shape[1]))
    impls = {name: peers.make("shortest-path", name) for name in ("gss", "torch+heapq")}
    results = {name: repeated(obj, xs, g, repeats, 2000) for name, obj in impls.items()}
    gv, gvse, gg, ggse = results["gss"]
    for name in ("torch+heapq",):
        v, vse, gr, gse = results[name]
        out.append(dict(check=f"shortest-path {name} vs gss: mean path, 7 maps ({repeats} runs each)",
                        **_z_summary(v, vse, gv, gvse)))
        out.append(dict(check=f"shortest-path {name} vs gss: J^T g, random g, 7 maps", **_z_summary(gr, gse, gg, ggse)))
    return out


# --------------------------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------------------------
def environment():
    import numpy
    import scipy

    import gss

    def version(mod):
        try:
            return __import__(mod).__version__
        except Exception as e:  # noqa: BLE001
            return f"unavailable ({e.__class__.__name__})"

    model = next((l.split(":", 1)[1].strip() for l in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines()
                  if l.startswith("Model name")), platform.processor())
    git = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    mem = next(l.split()[1] for l in open("/proc/meminfo") if l.startswith("MemTotal"))
    return dict(date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), cpu=model, cores=os.cpu_count(),
                memory_gib=round(int(mem) / 2 ** 20, 1), kernel=platform.release(),
                python=platform.python_version(), numpy=numpy.__version__, scipy=scipy.__version__,
                torch=version("torch"), jax=version("jax"), optax=version("optax"),
                gss_package=gss.__version__, gss_library=gss.library_version, gss_library_path=gss.library_path,
                git_head=git, tracked_files_modified=bool(dirty))


def markdown(records, overhead):
    lines = []
    for case in ("sorter", "shortest-path"):
        rs = [r for r in records if r["case"] == case]
        if not rs:
            continue
        lines += [f"### {case}", "", "| implementation | steps | median ms | quartiles ms | time / gss (medians) | "
                  "time / gss (paired rounds) | CPU-s per wall-s | quieter half: median ms | time / gss |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for r in rs:
            lines.append(f"| {r['impl']} | {r['steps']} | {r['median_ms']:.2f} | {r['p25_ms']:.2f}–{r['p75_ms']:.2f} | "
                         f"{r['time_vs_gss_medians']:.2f}× | {r['time_vs_gss_paired']:.2f}× | "
                         f"{r['cpu_seconds_per_wall_second']:.2f} | {r['quiet_median_ms']:.2f} | "
                         f"{r['quiet_time_vs_gss_medians']:.2f}× |")
        peers_ = [r for r in rs if r["impl"] in PEERS[case]]
        best = min(peers_, key=lambda r: r["median_ms"])
        lines += ["", f"Faster peer: {best['impl']}, {best['time_vs_gss_medians']:.1f}× gss's time "
                  f"(paired {best['time_vs_gss_paired']:.1f}×); target ≥ {TARGET[case]:.0f}×: "
                  f"{'met' if best['time_vs_gss_medians'] >= TARGET[case] else 'not met'}", ""]
    if overhead:
        lines += ["### overhead (sorter n = 2, B = 1, s = 2)", "", "| call | calls | median µs | quartiles µs |",
                  "|---|---|---|---|"]
        for r in overhead:
            lines.append(f"| {r['impl']} | {r['calls']} | {r['median_us']:.1f} | {r['p25_us']:.1f}–{r['p75_us']:.1f} |")
        lines.append("")
    return "\n".join(lines)


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(sys.argv[2], sys.argv[3])
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--overhead-worker":
        times = overhead_worker(int(sys.argv[2]), int(sys.argv[3]))
        print(json.dumps(times))
        os._exit(0)
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--case", choices=["sorter", "shortest-path", "overhead", "all"], default="all")
    ap.add_argument("--rounds", type=int, help="rounds per case (default: sorter 20, shortest-path 8, overhead 10)")
    ap.add_argument("--check", action="store_true", help="run the correctness checks instead (untimed)")
    ap.add_argument("--check-repeats", type=int, default=40)
    ap.add_argument("--wait-idle", type=float, default=0, help="first wait up to this many seconds for an idle CPU")
    ap.add_argument("--json", help="also append the JSON lines to this file")
    args = ap.parse_args()
    sink = open(args.json, "a") if args.json else None

    def emit(d):
        line = json.dumps(d)
        print(line, flush=True)
        if sink:
            sink.write(line + "\n")
            sink.flush()

    env = environment()
    if args.check:
        for c in run_checks(args.check_repeats):
            emit(dict(kind="check", **c))
        return
    cases = ["sorter", "shortest-path", "overhead"] if args.case == "all" else [args.case]
    records, overhead = [], []
    for case in cases:
        idle = wait_idle(args.wait_idle) if args.wait_idle else idle_fraction()
        rounds = args.rounds or DEFAULT_ROUNDS[case]
        if case == "overhead":
            rs, cenv = run_overhead(rounds)
            overhead += rs
        else:
            rs, cenv = run_case(case, rounds)
            records += rs
        cenv["idle_before"] = idle
        for r in rs:
            emit(dict(kind="result", **r))
        emit(dict(kind="case-environment", case=case, **cenv))
    emit(dict(kind="run", command=" ".join([os.path.relpath(sys.argv[0], ROOT)] + sys.argv[1:]), **env))
    print(markdown(records, overhead))


if __name__ == "__main__":
    main()
