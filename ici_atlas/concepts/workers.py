"""Worker processes for reading and classifying records in parallel.

Workers start from a fresh interpreter (``forkserver``, else ``spawn``), never by forking
the calling process: a process that has run DuckDB queries or served the dashboard has other
threads, and a forked copy of a multi-threaded process can crash (it did, in garbage
collection). The classifiers are sent to each worker once, when it starts. A worker that
dies is reported as an error (:class:`WorkerError`), not waited for.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from ..errors import IciAtlasError
from . import classify as cl
from .trial import Classifiers

__all__ = ["BrokenProcessPool", "WorkerError", "start_workers"]


class WorkerError(IciAtlasError):
    """A worker process died (crashed or was killed) while reading or classifying."""


def _context():
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


def _init(classifiers: Classifiers | None) -> None:
    cl.WORKER_CLASSIFIERS = classifiers


def start_workers(workers: int, classifiers: Classifiers | None) -> ProcessPoolExecutor:
    """A pool of ``workers`` processes, each holding ``classifiers`` (None: the defaults,
    built in the worker)."""
    return ProcessPoolExecutor(workers, mp_context=_context(), initializer=_init,
                               initargs=(classifiers,))


def worker_died(exc: BaseException) -> WorkerError:
    return WorkerError(
        f"a worker process died while reading records ({type(exc).__name__}); nothing "
        "was lost: what was stored is in the store",
        fix="Run the same command again; if it happens again, run with one worker "
            "(ICI_ATLAS_WORKERS=1) and report the record it stops at.")
