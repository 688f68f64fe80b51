"""Ctrl-C during a long estimate: exactly one KeyboardInterrupt, within about a second."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import gss

BOXES = {
    # A slow Python function: 20 ms a block.
    "python": "gss.function(lambda x: (time.sleep(0.02), x.sum(axis=1, keepdims=True))[1], 2, 1)",
    # A slow C function through libffi: usleep(about 100 us) a row; no Python involved.
    "c": "gss.symbol('libc.so.6:usleep', 'int32(int32)')",
}
POINTS = {"python": "[[0.0, 0.0]] * 4", "c": "[[100.0]] * 4"}

SCRIPT = """
import json, os, signal, sys, time
import numpy as np
import gss
box = {box}
x = np.array({points})
print("ready", flush=True)
if not {catch}:
    gss.smooth(box, x, samples=1_000_000, seed=1)  # the KeyboardInterrupt ends the process
caught = 0
try:
    gss.smooth(box, x, samples=1_000_000, seed=1)
except KeyboardInterrupt:
    caught += 1
    at = time.monotonic()
# Nothing else arrives; the wakeup fd is restored; the box still works.
time.sleep(0.3)
restored = signal.set_wakeup_fd(-1)
small = gss.smooth(box, x[:1], samples=8, seed=2)
print(json.dumps(dict(caught=caught, at=at, restored=restored,
                      finite=bool(np.isfinite(small.value).all()))), flush=True)
"""


def start(kind: str, catch: bool) -> subprocess.Popen:
    code = SCRIPT.format(box=BOXES[kind], points=POINTS[kind], catch=catch)
    code = "import time\n" + code
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=dict(os.environ))


def interrupt(process: subprocess.Popen) -> float:
    assert process.stdout.readline().strip() == "ready"
    time.sleep(0.5)  # well inside the estimate (it would take minutes)
    assert process.poll() is None
    sent = time.monotonic()
    process.send_signal(signal.SIGINT)
    return sent


@pytest.mark.parametrize("kind", ["python", "c"])
def test_ctrl_c_raises_keyboard_interrupt(kind):
    process = start(kind, catch=False)
    try:
        sent = interrupt(process)
        process.wait(timeout=10)
        elapsed = time.monotonic() - sent
    finally:
        process.kill()
    stderr = process.stderr.read()
    assert process.returncode != 0
    assert stderr.rstrip().splitlines()[-1].startswith("KeyboardInterrupt"), stderr
    assert sum(line.startswith("KeyboardInterrupt") for line in stderr.splitlines()) == 1, stderr
    assert "During handling" not in stderr, stderr
    assert elapsed < 1.5, f"the interrupt took {elapsed:.2f} s"


@pytest.mark.parametrize("kind", ["python", "c"])
def test_exactly_one_keyboard_interrupt_and_the_box_still_works(kind):
    process = start(kind, catch=True)
    try:
        sent = interrupt(process)
        out, err = process.communicate(timeout=20)
    finally:
        process.kill()
    assert process.returncode == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    assert result["caught"] == 1
    assert result["restored"] == -1  # the wakeup fd we found (none) is back
    assert result["finite"]
    assert result["at"] - sent < 1.5


def test_other_signals_do_not_cancel():
    """A signal with a Python handler that returns (SIGUSR1 here) wakes the call up; gss runs it
    again and returns the same bits as an undisturbed call."""
    code = textwrap.dedent("""
        import json, signal, time
        import numpy as np
        import gss
        seen = []
        signal.signal(signal.SIGUSR1, lambda *a: seen.append(1))
        box = gss.function(lambda x: (time.sleep(0.01), np.sin(x))[1], 1, 1)
        quiet = gss.smooth(box, [0.3], samples=20_000, seed=4).jacobian
        print("ready", flush=True)
        noisy = gss.smooth(box, [0.3], samples=20_000, seed=4).jacobian
        print(json.dumps(dict(seen=len(seen), same=bool(np.array_equal(quiet, noisy)))))
    """)
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == "ready"
        time.sleep(0.1)
        process.send_signal(signal.SIGUSR1)
        out, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    assert result == {"seen": 1, "same": True}


def test_wakeup_fd_of_the_caller_is_restored_and_fed(sorter3):
    """An asyncio-style wakeup fd set before the call is back afterwards."""
    r, w = os.pipe()
    os.set_blocking(w, False)
    os.set_blocking(r, False)
    previous = signal.set_wakeup_fd(w)
    try:
        gss.smooth(sorter3, np.zeros(3), samples=16)
        assert signal.set_wakeup_fd(w) == w
    finally:
        signal.set_wakeup_fd(previous)
        os.close(r)
        os.close(w)
