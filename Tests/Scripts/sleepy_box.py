#!/usr/bin/env python3
"""A costly black box for the MPI checks and measurements (gss --exec, n = 2, m = 2).

    python3 sleepy_box.py SECONDS [vary]

For every input line x0 x1 it sleeps SECONDS (without using the CPU), or with `vary` between 1 and
5 times SECONDS depending on the row (so that calls finish out of order across ranks), then answers
x0 + x1 and x0 * x1 (exact: Python's repr round-trips doubles).
"""
import sys
import time

seconds = float(sys.argv[1])
vary = len(sys.argv) > 2 and sys.argv[2] == "vary"
for line in sys.stdin:
    x = [float(word) for word in line.split()]
    time.sleep(seconds * (1 + int(abs(x[0]) * 1000) % 5) if vary else seconds)
    print(f"{x[0] + x[1]!r} {x[0] * x[1]!r}", flush=True)
