#!/usr/bin/env python3
"""External programs for gss's --exec tests: one program, a mode per behaviour.

    python3 exec_filter.py step                 1[x0 > 0] for every line (the closed-form test)
    python3 exec_filter.py hang PGIDFILE        records its process group, starts a `sleep`
                                                grandchild, then never answers (timeouts, Ctrl-C)
    python3 exec_filter.py crash N [PGIDFILE]   answers N lines (x0), then complains on stderr
                                                and exits with status 3
    python3 exec_filter.py garbage-after N      answers N lines, then prints a line of words

PGIDFILE gets one line per process (several workers may share it), so a test can check that
nothing of the group survives gss.
"""
import os
import subprocess
import sys
import time


def record_group(path):
    # The grandchild inherits the group: killing the group must kill it too.
    subprocess.Popen(["sleep", "1000"])
    with open(path, "a") as f:
        f.write(f"{os.getpgrp()}\n")


def main():
    mode = sys.argv[1]
    if mode == "step":
        for line in sys.stdin:
            x0 = float(line.split()[0])
            print(1 if x0 > 0 else 0, flush=True)
    elif mode == "hang":
        record_group(sys.argv[2])
        time.sleep(1000)
    elif mode == "crash":
        if len(sys.argv) > 3:
            record_group(sys.argv[3])
        answers = int(sys.argv[2])
        for index, line in enumerate(sys.stdin):
            if index == answers:
                sys.stderr.write("Traceback (most recent call last):\n")
                sys.stderr.write(f"ValueError: cannot handle the input {line.strip()}\n")
                sys.exit(3)
            print(line.split()[0], flush=True)
    elif mode == "garbage-after":
        answers = int(sys.argv[2])
        for index, line in enumerate(sys.stdin):
            print(line.split()[0] if index < answers else "error: singular matrix", flush=True)
    else:
        sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
