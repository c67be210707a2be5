"""Progress reporting on stderr (data goes to stdout, progress never does)."""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from typing import Iterator


class Progress:
    """A minimal progress line on stderr, shown only when the work takes over a second.

    ``total`` may be None when unknown. Silent when stderr is not a terminal unless
    ``force`` is set (so logs and CI output stay clean, but a final summary is printed).
    """

    def __init__(self, label: str, total: int | None = None, force: bool = False):
        self.label = label
        self.total = total
        self.done = 0
        self.started = time.monotonic()
        self._last_draw = 0.0
        self._interactive = force or sys.stderr.isatty()
        self._drawn = False

    def advance(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if self._interactive and now - self.started > 1.0 and now - self._last_draw > 0.2:
            self._draw()
            self._last_draw = now

    def _draw(self) -> None:
        if self.total:
            pct = 100.0 * self.done / self.total
            text = f"\r{self.label}: {self.done:,}/{self.total:,} ({pct:.0f}%)"
        else:
            text = f"\r{self.label}: {self.done:,}"
        sys.stderr.write(text)
        sys.stderr.flush()
        self._drawn = True

    def close(self) -> None:
        if self._drawn:
            self._draw()
            sys.stderr.write("\n")
            sys.stderr.flush()


@contextmanager
def progress(label: str, total: int | None = None) -> Iterator[Progress]:
    bar = Progress(label, total)
    try:
        yield bar
    finally:
        bar.close()
