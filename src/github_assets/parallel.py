"""A bounded pool of threads whose first failure cancels the rest."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")


class Cancelled(Exception):
    """Another job failed, so this one stops (its request, chunk or wait ends early)."""


def pause(seconds: float, cancel: threading.Event | None, sleep: Callable[[float], None]) -> None:
    """Sleep; with a cancel event, wake up as soon as it is set (Cancelled)."""
    if cancel is None:
        sleep(seconds)
    elif cancel.wait(seconds):
        raise Cancelled


def check(cancel: threading.Event | None) -> None:
    """Cancelled when the event is set."""
    if cancel is not None and cancel.is_set():
        raise Cancelled


def run_all(jobs: Sequence[Callable[[], T]], workers: int, cancel: threading.Event) -> list[T]:
    """Run jobs on up to `workers` threads; their results in order, or the first failure.

    The first job to fail sets cancel: the others stop at their next chunk, request or
    wait (Cancelled), and jobs not started never start. Then its error is raised. With
    one worker (or one job) the jobs run here, one after the other.
    """
    workers = min(workers, len(jobs))
    if workers <= 1:
        out = []
        for job in jobs:
            check(cancel)
            try:
                out.append(job())
            except BaseException:
                cancel.set()
                raise
        return out
    from concurrent.futures import ThreadPoolExecutor

    failures: list[BaseException] = []
    lock = threading.Lock()

    def guarded(job: Callable[[], T]) -> Callable[[], T]:
        def run() -> T:
            check(cancel)
            try:
                return job()
            except BaseException as err:
                with lock:
                    if not isinstance(err, Cancelled):
                        failures.append(err)
                cancel.set()
                raise

        return run

    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="github-assets")
    results: list[T] = []
    try:
        futures = [pool.submit(guarded(job)) for job in jobs]
        for future in futures:
            try:
                results.append(future.result())
            except Exception:  # recorded in failures (or cancelled because of one)
                break
    except BaseException:  # interrupted while waiting: stop the jobs, then go
        cancel.set()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    if failures:
        raise failures[0]
    if len(results) != len(jobs):
        raise Cancelled  # the caller's cancel was set from outside
    return results
