#!/usr/bin/env python3
"""Start-up time of gss builds: wall time and CPU time (user + system) of whole commands,
interleaved run by run (so that the load of a shared machine hits every build alike), reported as
medians. On a loaded machine the CPU time is the steadier figure.

    bench/startup.py [--runs 200] NAME=PATH [NAME=PATH ...]

Each build runs `--help`, `--version`, `eval sorter` and `list`, with stdout to /dev/null."""
import argparse
import os
import statistics
import subprocess
import time

COMMANDS = [["--help"], ["--version"], ["eval", "sorter"], ["list"]]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("builds", nargs="+", help="NAME=PATH of a gss executable")
    options = parser.parse_args()
    builds = [tuple(build.split("=", 1)) for build in options.builds]
    times = {(name, " ".join(command)): [] for name, _ in builds for command in COMMANDS}
    cpu = {key: [] for key in times}
    with open(os.devnull, "wb") as null:
        for _ in range(options.runs):
            for command in COMMANDS:
                for name, path in builds:
                    start = time.perf_counter()
                    child = subprocess.Popen([path] + command, stdout=null, stderr=null)
                    _, status, usage = os.wait4(child.pid, 0)
                    elapsed = time.perf_counter() - start
                    child.returncode = os.waitstatus_to_exitcode(status)
                    if child.returncode != 0:
                        raise SystemExit(f"{path} {' '.join(command)} exited {child.returncode}")
                    times[(name, " ".join(command))].append(elapsed)
                    cpu[(name, " ".join(command))].append(usage.ru_utime + usage.ru_stime)
    print("| command | " + " | ".join(f"{name}: wall / CPU" for name, _ in builds) + " |")
    print("|---|" + "---|" * len(builds))
    for command in COMMANDS:
        key = " ".join(command)
        cells = [f"{1000 * statistics.median(times[(name, key)]):.1f} / {1000 * statistics.median(cpu[(name, key)]):.1f} ms"
                 for name, _ in builds]
        print(f"| gss {key} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
