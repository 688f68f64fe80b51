#!/usr/bin/env python3
"""Runs sorter_peers.py measurements one at a time, each only once the CPU has been >= 93% idle
for 3 s (waiting up to 30 min), and retries (up to 4 tries) a measurement during which other
processes used more than 10% of its wall time in CPU. Appends each JSON line, with an "env"
record (idle fraction before, load average, CPU seconds of this run and of everything else,
date, try), to OUTPUT.

Usage: python3 run_when_idle.py OUTPUT.jsonl "--impl numpy --samples 32768 --repeats 5" ...
Environment: PEERS_PYTHON (default /tmp/venv-peers/bin/python). Linux only (/proc/stat).
"""
import json, os, resource, subprocess, sys, time
PY = os.environ.get("PEERS_PYTHON", "/tmp/venv-peers/bin/python")
SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sorter_peers.py")
HZ = os.sysconf("SC_CLK_TCK")
def cpu():
    f = open("/proc/stat").readline().split()[1:]
    v = list(map(int, f)); idle = v[3] + v[4]; return sum(v), idle
def idle_frac(sec=3):
    a = cpu(); time.sleep(sec); b = cpu()
    return (b[1]-a[1]) / max(1, b[0]-a[0])
def wait_idle(limit=1800):
    t = time.time()
    while time.time() - t < limit:
        f = idle_frac()
        if f >= 0.93: return f
        time.sleep(10)
    return idle_frac()
runs = [a.split() for a in sys.argv[2:]]
out = open(sys.argv[1], "a")
for args in runs:
    for attempt in range(4):
        f = wait_idle()
        up = open("/proc/loadavg").read().split()[:3]
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN); c0 = cpu(); w0 = time.time()
        p = subprocess.run([PY, SCRIPT] + args, capture_output=True, text=True)
        w1 = time.time(); c1 = cpu(); r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        mine = (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime)
        total = ((c1[0]-c0[0]) - (c1[1]-c0[1])) / HZ
        other = total - mine
        if p.returncode != 0:
            print("FAILED", args, p.stderr[-2000:], file=sys.stderr); break
        d = json.loads(p.stdout)
        d["env"] = dict(idle_before=round(f, 3), loadavg_before=up, wall=round(w1-w0, 2),
                        cpu_seconds_self=round(mine, 2), cpu_seconds_others=round(other, 2),
                        date=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), attempt=attempt)
        print(args, "median", d["median_seconds"], "Msps", round(d["samples_per_second"]/1e6, 3), "others", round(other, 2), "self", round(mine,2), file=sys.stderr, flush=True)
        if other <= 0.1 * (w1 - w0) + 0.3:
            out.write(json.dumps(d) + "\n"); out.flush(); break
        print("  contaminated, retrying", file=sys.stderr, flush=True)
    else:
        out.write(json.dumps(d) + "\n"); out.flush()
