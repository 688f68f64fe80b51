"""runs.jsonl: one JSON record per finished run, appended atomically (one write of one line), so an
interrupted study resumes where it stopped: the runner skips every run whose key is already there.
The same convention as examples/ExperimentSupport/RunJournal.swift; a torn last line is ignored."""

from __future__ import annotations

import fcntl
import json
import os
import sys
import time
from typing import Any, Iterable


class Journal:
    def __init__(self, path: str) -> None:
        self.path = path

    def load(self) -> list[dict[str, Any]]:
        if not os.path.exists(self.path):
            return []
        with open(self.path) as f:
            text = f.read()
        lines = text.split("\n")
        records = []
        for index, line in enumerate(lines):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                if index == len(lines) - 1:  # torn last line: an interrupted write
                    continue
                raise
        return records

    def keys(self) -> set[str]:
        return {r["key"] for r in self.load()}

    def append(self, record: dict[str, Any]) -> None:
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        line = json.dumps(record, sort_keys=True) + "\n"
        with open(self.path, "a") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            # a torn line left by a killed writer: start on a fresh line
            if f.tell() > 0:
                with open(self.path, "rb") as r:
                    r.seek(-1, os.SEEK_END)
                    if r.read(1) != b"\n":
                        line = "\n" + line
            f.write(line)
            f.flush()
            fcntl.flock(f, fcntl.LOCK_UN)


def log(message: str) -> None:
    print(time.strftime("%H:%M:%S"), message, file=sys.stderr, flush=True)


def progress(done: int, total: int, started: float, what: str) -> None:
    elapsed = time.time() - started
    left = elapsed / max(done, 1) * (total - done)
    log(f"  {done}/{total} {what}, {elapsed:.0f} s elapsed, about {left:.0f} s to go")


def chunks(items: Iterable[Any], count: int) -> list[list[Any]]:
    items = list(items)
    return [items[i::count] for i in range(count)]
