"""Progress of a long audit: a bar redrawn in place on a terminal, plain lines otherwise
(CI logs, pipes), nothing with ``--progress none``."""

from __future__ import annotations

import sys
import time


class Progress:
    """``step(label)`` after each unit of work; ``mode``: "bar", "lines", "none" or "auto"
    (a bar when ``stream`` is a terminal, else lines)."""

    WIDTH = 28

    def __init__(self, total: int, mode: str = "auto", stream=None):
        self.stream = stream or sys.stderr
        if mode == "auto":
            mode = "bar" if getattr(self.stream, "isatty", lambda: False)() else "lines"
        self.mode, self.total, self.done, self.start = mode, max(total, 1), 0, time.monotonic()
        self._last_line = -1.0

    def step(self, label: str) -> None:
        self.done += 1
        elapsed = time.monotonic() - self.start
        if self.mode == "bar":
            filled = int(self.WIDTH * self.done / self.total)
            bar = "#" * filled + "." * (self.WIDTH - filled)
            self.stream.write(f"\r[{bar}] {self.done}/{self.total} {elapsed:5.1f}s {label[:48]:<48}")
            if self.done >= self.total:
                self.stream.write("\n")
            self.stream.flush()
        elif self.mode == "lines":
            # at most one line every 2 s (and the last): a CI log stays readable
            if self.done >= self.total or elapsed - self._last_line >= 2.0:
                self._last_line = elapsed
                self.stream.write(f"audit {self.done}/{self.total} ({elapsed:.1f}s) {label}\n")
                self.stream.flush()
