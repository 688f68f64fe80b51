#!/usr/bin/env python3
"""Where gss's layer time goes: the same number of samples B*s, split into B points of s samples,
through gss's estimate (value and Jacobian, no standard errors, as the torch layer asks).
If the estimate's cost were per sample, every row of a case would take the same time.

  PYTHONPATH=python GSS_LIBRARY=.build/release/libGSS.so GSS_PLUGIN_PATH=.build/release \\
      .venv/bin/python bench/layer/batch_shape.py [--repeats 15]

Interleaved: each repeat times every shape once, in rotating order; medians.  One JSON line per
shape, then a Markdown table.
"""
import argparse
import json
import statistics
import sys
import time

import numpy as np

import gss
from gss._smooth import estimate

CASES = {
    "sorter": (dict(plugin="sorter", options=dict(n=5), n=5, dist="logistic", scale=1.0),
               [(1, 25600), (10, 2560), (100, 256)]),
    "shortest-path": (dict(plugin="shortest-path", options={}, n=144, dist="gaussian", scale=0.2),
                      [(1, 7000), (7, 1000), (70, 100)]),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=15)
    args = ap.parse_args()
    rows = []
    for case, (spec, shapes) in CASES.items():
        box = gss.plugin(spec["plugin"], **spec["options"])
        rng = np.random.default_rng(0)
        x = rng.uniform(0.5, 2.0, (100, spec["n"])) if case == "shortest-path" else rng.standard_normal((100, spec["n"]))
        for threads in (None, 1):
            calls = {shape: (lambda B=shape[0], s=shape[1], t=threads: estimate(
                box, x[:B], dist=spec["dist"], scale=spec["scale"], samples=s, threads=t, stderr=False))
                for shape in shapes}
            for f in calls.values():
                f()
            times = {shape: [] for shape in shapes}
            for r in range(args.repeats):
                order = shapes[r % len(shapes):] + shapes[: r % len(shapes)]
                for shape in order:
                    t0 = time.perf_counter()
                    calls[shape]()
                    times[shape].append(time.perf_counter() - t0)
            for (B, s), ts in times.items():
                d = dict(case=case, points=B, samples=s, threads="all" if threads is None else threads,
                         median_ms=statistics.median(ts) * 1e3, min_ms=min(ts) * 1e3, repeats=len(ts),
                         library=gss.library_path)
                rows.append(d)
                print(json.dumps(d), flush=True)
    print("\n| case | threads | B points × s samples | median ms | min ms |\n|---|---|---|---|---|")
    for d in rows:
        print(f"| {d['case']} | {d['threads']} | {d['points']} × {d['samples']} | {d['median_ms']:.2f} | {d['min_ms']:.2f} |")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
