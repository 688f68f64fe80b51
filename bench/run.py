#!/usr/bin/env python3
"""The side-by-side benchmark: gss (command and Swift API), the black box alone, and the peers.

Run through bench/run.sh, which builds in release mode first. Every case runs its contenders in
interleaved rounds (so load from elsewhere hits all alike); each invocation times `--repeats`
runs after one untimed warm-up. Timings are medians; ratios compare medians of the same run,
except the estimator-over-f-only targets, read off ratios paired run by run (`gss-bench overhead`).
Writes a Markdown report (BENCHMARKS.md by default) and prints it.
"""
import argparse
import datetime
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GSS = os.path.join(ROOT, ".build", "release", "gss")
BENCH = os.path.join(ROOT, ".build", "release", "gss-bench")
PEERS = os.path.join(ROOT, "bench", "peers", "sorter_peers.py")
SORTER_X = "-0.71,-0.29,0.04,0.36,0.82"


def log(message):
    print(message, file=sys.stderr, flush=True)


def run_json(command, env=None):
    """Runs a command that prints one JSON object on its last stdout line."""
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise RuntimeError(f"{shlex.join(command)} failed ({result.returncode}): {result.stderr.strip()[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def wall_time(command):
    """Seconds a command takes, start to exit (the command line as a user runs it)."""
    start = time.perf_counter()
    result = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"{shlex.join(command)} failed ({result.returncode}): {result.stderr.strip()[-2000:]}")
    return seconds


def peak_rss_kib(command):
    """Peak resident memory of a command, through GNU time."""
    result = subprocess.run(["/usr/bin/time", "-f", "%M"] + command, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{shlex.join(command)} failed: {result.stderr.strip()[-2000:]}")
    return int(result.stderr.strip().splitlines()[-1])


class Case:
    """One problem: a plugin at sizes and settings, with the contenders that apply to it."""

    def __init__(self, name, plugin, samples, dist="logistic", x=None, peers=False, label=None, paired=False):
        self.name, self.plugin, self.samples, self.dist, self.x, self.peers = name, plugin, samples, dist, x, peers
        self.label = label or name
        self.paired = paired  # also time the estimator against the f-only pipeline in alternating pairs

    def smoothing(self, threads):
        args = ["--samples", str(self.samples), "--threads", str(threads), "--dist", self.dist,
                "--sampler", "rqmc-latin", "--covariate", "loo"]
        return args + ([f"--x={self.x}"] if self.x else [])

    def contenders(self, threads, repeats, python, peer_threads):
        """Functions that each time one invocation and return {row name: [seconds, ...]}."""
        gss = [GSS, "grad", self.plugin] + self.smoothing(threads) + ["--seed", "1", "--format", "json"]
        bench = lambda sub: [BENCH, sub, self.plugin] + self.smoothing(threads) + ["--repeats", str(repeats)]

        def black_box_alone():
            timings = run_json(bench("f-only"))
            return {"f-only (batches made as gss makes them)": timings["pipeline_times"],
                    "f-only (batches made beforehand)": timings["evaluate_times"]}

        result = [
            ("gss", lambda: {"gss": [wall_time(gss) for _ in range(repeats + 1)][1:]}),  # first run: warm-up
            ("swift-api", lambda: {"swift-api": run_json(bench("api"))["times"]}),
            ("f-only", black_box_alone),
        ]
        if self.paired:
            # Twice the repeats: one ratio is noisier than one time, and the target is read off them.
            paired = [BENCH, "overhead", self.plugin] + self.smoothing(threads) + ["--repeats", str(2 * repeats)]
            result.append(("overhead", lambda: {PAIRED: run_json(paired)["ratios"]}))
        if self.peers and python:
            env = dict(os.environ, OMP_NUM_THREADS=str(peer_threads), OPENBLAS_NUM_THREADS=str(peer_threads))
            for peer in ["numpy", "optax"]:
                command = [python, PEERS, "--impl", peer, "--samples", str(self.samples), "--repeats", str(repeats),
                           "--dist", self.dist, "--seed", "1"]
                result.append((peer, lambda command=command, peer=peer: {peer: run_json(command, env)["times"]}))
        return result


# The row of paired ratios (estimate time / f-only pipeline time, run back to back): not a time.
PAIRED = "paired ratio"


def measure(case, rounds, repeats, threads, python):
    times, failures = {}, {}
    for round_index in range(rounds):
        for name, timing in case.contenders(threads, repeats, python, threads):
            if name in failures:
                continue
            try:
                for row, values in timing().items():
                    times.setdefault(row, []).extend(values)
            except Exception as error:  # a peer that cannot run this size is reported, not fatal
                failures[name] = str(error).splitlines()[0][:300]
                log(f"  {case.label}: {name} failed: {failures[name]}")
        log(f"  {case.label}: round {round_index + 1}/{rounds} done")
    return times, failures


def machine_description():
    model = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{model}, {os.cpu_count()} cores, {memory:.0f} GiB, {platform.system()} {platform.release()}"


def peer_versions(python):
    if not python:
        return "peers not run"
    code = "import numpy, jax, optax; print(f'numpy {numpy.__version__}, jax {jax.__version__}, optax {optax.__version__}')"
    result = subprocess.run([python, "-c", code], capture_output=True, text=True)
    return result.stdout.strip() or "unknown"


def format_rate(samples, seconds):
    rate = samples / seconds
    return f"{rate / 1e6:.2f} M/s" if rate >= 1e5 else f"{rate / 1e3:.1f} k/s"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per case (default 3)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per invocation (default 3)")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="gss threads (default: all cores)")
    parser.add_argument("--python", help="the Python with numpy, jax and optax (default: none, peers skipped)")
    parser.add_argument("--out", default=os.path.join(ROOT, "BENCHMARKS.md"))
    parser.add_argument("--quick", action="store_true", help="small sizes only, 1 round (a smoke test)")
    parser.add_argument("--command", default="bench/run.sh", help="how this run was started, for the report")
    args = parser.parse_args()

    cases = [
        Case("sorter n=5", "sorter", 2**10, x=SORTER_X, peers=True, label="sorter, n = 5, s = 2^10"),
        Case("sorter n=5", "sorter", 2**15, x=SORTER_X, peers=True, label="sorter, n = 5, s = 2^15"),
        Case("sorter n=5", "sorter", 2**20, x=SORTER_X, peers=True, label="sorter, n = 5, s = 2^20", paired=True),
        Case("sorter n=5 gaussian", "sorter", 2**20, dist="gaussian", x=SORTER_X, peers=True,
             label="sorter, n = 5, s = 2^20, gaussian"),
        Case("shortest-path 12x12", "shortest-path", 2**10, label="shortest-path, 12 × 12, s = 2^10"),
        Case("renderer 64x64", "renderer", 2**12, label="renderer, 64 × 64, s = 2^12", paired=True),
    ]
    rounds, repeats = args.rounds, args.repeats
    if args.quick:
        cases = [c for c in cases if c.samples <= 2**12]
        rounds, repeats = 1, 1

    load_before = os.getloadavg()
    started = time.time()
    results = []
    for case in cases:
        log(f"{case.label} ...")
        times, failures = measure(case, rounds, repeats, args.threads, args.python)
        results.append((case, times, failures))

    # Threads: 1 vs all at s = 2^22, interleaved: the command (start-up included, so more runs on
    # this noisy machine) and the library in process.
    scaling_case = Case("sorter n=5", "sorter", 2**22, x=SORTER_X)
    scaling = {1: [], args.threads: []}
    library_scaling = {1: [], args.threads: []}
    # Run by run in pairs (1 thread, then all, or the other way round, alternating), each pair's
    # ratio read off two runs seconds apart: the target is the median of those ratios.
    for pair in range(1 if args.quick else max(3 * rounds, 9)):
        for threads in (list(scaling) if pair % 2 == 0 else list(scaling)[::-1]):
            scaling[threads].append(wall_time([GSS, "grad", "sorter"] + scaling_case.smoothing(threads)
                                              + ["--seed", "1", "--format", "json"]))
    for round_index in range(rounds):
        for threads in (list(library_scaling) if round_index % 2 == 0 else list(library_scaling)[::-1]):
            library_scaling[threads] += run_json([BENCH, "api", "sorter"] + scaling_case.smoothing(threads)
                                                 + ["--repeats", str(repeats)])["times"]
    # Memory: peak RSS of the command at s = 2^14 and 2^22.
    memory = {}
    for samples in [2**14, 2**22]:
        case = Case("sorter n=5", "sorter", samples, x=SORTER_X)
        memory[samples] = statistics.median(
            peak_rss_kib([GSS, "grad", "sorter"] + case.smoothing(args.threads) + ["--seed", "1", "--format", "json"])
            for _ in range(3))
    load_after = os.getloadavg()
    elapsed = time.time() - started

    lines = []
    out = lines.append
    out("# Benchmarks")
    out("")
    out(f"- **Date**: {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}")
    out(f"- **Machine**: {machine_description()}")
    out(f"- **Command**: `{args.command}` ({rounds} interleaved rounds × {repeats} timed runs per contender, "
        f"medians; {elapsed / 60:.1f} min in all)")
    out(f"- **Load average** before / after: {load_before[0]:.2f} / {load_after[0]:.2f} (2 cores: anything near 2 "
        "means other work shared the machine)")
    out(f"- **Peers**: {peer_versions(args.python)}; gss and its library use {args.threads} threads, the peers "
        "whatever their libraries use on these cores")
    out("")
    out("Every gss contender estimates the smoothed value and Jacobian with per-entry standard errors, γ = 1, "
        "`rqmc-latin` samples and the LOO covariate. `gss` is the command line as a user runs it "
        "(`gss grad … --format json`, process start-up included); `swift-api` is `Smoother.estimate` in "
        "process; the two f-only rows are the limit the estimator approaches: the plugin on the same perturbed "
        "batches, on the same threads and chunks, with no scores and no sums — either producing each batch as "
        "gss does (sampler, inverse CDF, x + γε) or replaying batches made beforehand (the plugin's calls "
        "alone). `numpy` is the same estimator vectorised in NumPy; `optax` is `optax.perturbations` under "
        "`jax.jit(jax.jacrev(...))` (see bench/peers/README.md for how they differ). The peers are timed in process, with no interpreter start-up, so compare them with `swift-api`; `gss` pays its process start-up (about 20 ms) in every run.")
    out("")
    for case, times, failures in results:
        out(f"## {case.label}")
        out("")
        out("| contender | median | samples/s | vs gss command |")
        out("|---|---|---|---|")
        gss_median = statistics.median(times["gss"]) if "gss" in times else None
        for name, values in times.items():
            if name == PAIRED:
                continue
            median = statistics.median(values)
            versus = f"{median / gss_median:.2f}× its time" if gss_median and name != "gss" else ""
            out(f"| {name} | {median * 1e3:.1f} ms | {format_rate(case.samples, median)} | {versus} |")
        for name, reason in failures.items():
            out(f"| {name} | — | — | could not run: {reason} |")
        out("")
    out("## Against the targets")
    out("")
    out("| target | measured | met |")
    out("|---|---|---|")

    def median_of(label, contender):
        for case, times, _ in results:
            if case.label == label and contender in times:
                return statistics.median(times[contender])
        return None

    def target(description, value, goal, higher_is_better=True, unit="×"):
        if value is None:
            out(f"| {description} | not measured | — |")
            return
        met = value >= goal if higher_is_better else value <= goal
        digits = 3 if goal < 3 else 2  # a ratio near its bound shows the digit that decides it
        out(f"| {description} | {value:.{digits}f}{unit} | {'yes' if met else '**no**'} |")

    big = "sorter, n = 5, s = 2^20"
    for contender in ["swift-api", "gss"]:
        ours = median_of(big, contender)
        for peer, goal in [("numpy", 10), ("optax", 30)]:
            theirs = median_of(big, peer)
            ratio = theirs / ours if ours and theirs else None
            target(f"{big}: `{contender}` ≥ {goal}× faster than {peer}", ratio, goal)
    api = median_of(big, "swift-api")
    target(f"{big}: `swift-api` well above 10 M samples/s", 2**20 / api / 1e6 if api else None, 10, unit=" M/s")
    for label, goal in [(big, 2.0), ("renderer, 64 × 64, s = 2^12", 1.05)]:
        pairs = next((len(t[PAIRED]) for c, t, _ in results if c.label == label and PAIRED in t), 0)
        target(f"{label}: `swift-api` time ≤ {goal}× f-only (median of {pairs} paired runs)",
               median_of(label, PAIRED), goal, higher_is_better=False)
    out("")
    out("The paired ratio is the binding figure: each pair runs `Smoother.estimate` and the f-only pipeline "
        "(batches made as gss makes them) back to back in one process, alternating which goes first, so the "
        "machine's drift cancels within a pair. For reference, from the medians in the tables above:")
    out("")
    for label, _ in [(big, 2.0), ("renderer, 64 × 64, s = 2^12", 1.05)]:
        for row, name in [("f-only (batches made as gss makes them)", "made as gss makes them"),
                          ("f-only (batches made beforehand)", "made beforehand: the plugin's calls alone")]:
            total, alone = median_of(label, "swift-api"), median_of(label, row)
            if total and alone:
                out(f"- {label}: `swift-api` / f-only ({name}): {total / alone:.2f}×")
    out("")
    out("## Threads and memory (sorter, n = 5)")
    out("")
    scaling_medians = {name: (statistics.median(t[1]), statistics.median(t[args.threads]), len(t[1]),
                              statistics.median(a / b for a, b in zip(t[1], t[args.threads])))
                       for name, t in [("gss", scaling), ("swift-api", library_scaling)]}
    for name, (one, many, runs, speedup) in scaling_medians.items():
        label = "`gss grad`" if name == "gss" else f"`{name}`"
        out(f"- {label}, s = 2^22: {args.threads} threads are **{speedup:.2f}×** as fast as 1 (median of {runs} "
            f"paired runs; target ≥ 1.7×: {'met' if speedup >= 1.7 else '**not met**'}); medians 1 thread "
            f"{one:.3f} s, {args.threads} threads {many:.3f} s ({format_rate(2**22, many)})")
    out(f"- Peak resident memory of `gss grad`: s = 2^14 {memory[2**14] / 1024:.1f} MiB, s = 2^22 "
        f"{memory[2**22] / 1024:.1f} MiB: **{memory[2**22] / memory[2**14]:.2f}×** (target ≤ 1.2×: "
        f"{'met' if memory[2**22] / memory[2**14] <= 1.2 else '**not met**'})")
    out("")
    report = "\n".join(lines) + "\n"
    if not args.quick:
        with open(args.out + ".tmp", "w") as handle:
            handle.write(report)
        os.replace(args.out + ".tmp", args.out)
    print(report)
    summary = {"cases": [{"case": c.label, "samples": c.samples, "medians": {k: statistics.median(v) for k, v in t.items()}}
                         for c, t, _ in results],
               "scaling": {name: {"one": one, "many": many, "paired_speedup": speedup}
                           for name, (one, many, _, speedup) in scaling_medians.items()},
               "memory_kib": memory}
    with open(os.path.join(ROOT, ".build", "bench-results.json"), "w") as handle:
        json.dump(summary, handle, indent=1)


if __name__ == "__main__":
    main()
