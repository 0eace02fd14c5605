"""Worker processes for ``sftlab demo`` / ``sftlab compare``: the seeds of an entry run at once (``--workers N``).

:class:`RunPool` keeps ``N`` spawned processes alive for the whole command. Each builds the command's context once
(from ``make_context``, a picklable zero-argument callable such as a ``functools.partial`` of the context class) and
then runs ``entry.run(ctx, entry, seed)`` for the seeds it is sent. A worker returns the run dict, the notes its
run added and the adaptations it computed; the main process merges them in seed order, so the report is the one a
sequential run writes.

Results do not depend on the number of workers: every run of a command, in a worker or in the main process, runs
with :data:`RUN_THREADS` torch threads (set by the commands for the main process, by :func:`_init_worker` here).
What the seeds of an entry share (DART's adaptation, S2L's proxy) is computed once, in the main process, by the
entry's ``prepare`` before its seeds are sent (:func:`sftlab.experiments.runner.run_entries`).
"""

from __future__ import annotations

import contextlib
import os
import queue
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sftlab.console import RunView, worker_console
from sftlab.errors import SftlabError

from .context import DemoEntry, EntryContext

RUN_THREADS = 1  # torch threads of every run and shared step, whatever --workers: the same arithmetic, the same numbers


def default_workers(requested: int | None) -> int:
    """``--workers``: as given, else the cores not busy with other work (one on a GPU machine, whose runs would
    share its memory); at least 1."""
    import torch

    from sftlab.lab.model import _free_cores

    if requested is not None and requested < 1:
        raise SftlabError(f"--workers: must be at least 1, got {requested}")
    return requested or (1 if torch.cuda.is_available() else _free_cores())


@dataclass
class Batch:
    """The runs of one entry sent to the workers: futures by seed (``None``: the entry's one run)."""

    entry: DemoEntry
    seeds: list
    labels: dict
    futures: dict
    finished_at: float | None = None

    @property
    def done(self) -> bool:
        return all(f.done() for f in self.futures.values())


class RunPool:
    """``workers`` processes that run the seeds of an entry at once; a context manager that ends them on exit
    (terminated on an error or Ctrl-C). With ``workers=1`` it starts nothing and the runner runs every seed itself.
    ``log``/``verbose``: the command's console.log and ``--verbose``, as for :class:`~sftlab.console.RunView`."""

    def __init__(self, make_context: Callable[[], EntryContext], workers: int, *, log=None, verbose: bool = False):
        self.make_context, self.workers, self.log, self.verbose = make_context, workers, log, verbose
        self._executor = self._events = None
        self._batches: list[Batch] = []  # submitted, not all finished
        self._finished: set[str] = set()  # labels of the runs finished

    def __enter__(self) -> RunPool:
        if self.workers > 1:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            mp = multiprocessing.get_context("spawn")  # no forked copy of the main process's torch threads and locks
            self._events = mp.Queue()  # workers -> the view: ("start", label) and ("step", label, step, max_steps)
            args = (self.make_context, self._events, None if self.log is None else str(self.log), self.verbose)
            self._executor = ProcessPoolExecutor(self.workers, mp_context=mp, initializer=_init_worker, initargs=args)
            for _ in range(self.workers):  # start them now: their imports overlap the entries run before any seeds
                self._executor.submit(int)
        return self

    def __exit__(self, exc_type, *exc) -> None:
        self.close(terminate=exc_type is not None)

    def close(self, *, terminate: bool = False) -> None:
        """End the workers: wait for them to exit, or (``terminate``) kill them and drop what is queued."""
        if self._executor is None:
            return
        executor, self._executor = self._executor, None
        processes = list((getattr(executor, "_processes", None) or {}).values())
        if terminate:
            for process in processes:
                process.terminate()  # Python 3.11's executor has no public way to stop a running job
        executor.shutdown(wait=not terminate, cancel_futures=True)
        if terminate:  # back only once they have exited: a sentinel is ready at exit (no waitpid, which the
            _wait_for_exit(processes, timeout=5.0)  # executor's own thread does and would race)
        self._events.close()

    @property
    def active(self) -> bool:
        """Whether runs go to workers (more than one worker); else the runner runs them itself."""
        return self._executor is not None

    def submit(self, ctx: EntryContext, entry: DemoEntry, seeds: Sequence[int | None]) -> Batch:
        """Send ``entry``'s runs (one per seed; ``None`` = its one run) to the workers, with the adaptations
        ``ctx`` holds now; returns at once. :meth:`poll` follows them, :meth:`merge` takes their results."""
        shared = dict(ctx.adaptations)
        labels = {seed: entry.label if seed is None else f"{entry.label} seed {seed}" for seed in seeds}
        futures = {seed: self._executor.submit(_run_job, entry, seed, labels[seed], shared) for seed in seeds}
        batch = Batch(entry, list(seeds), labels, futures)
        self._batches.append(batch)
        return batch

    def poll(self, view: RunView | None, timeout: float = 0.25) -> None:
        """Wait up to ``timeout`` for a run to finish; pass the workers' progress to ``view``. A worker's
        :class:`SftlabError` is raised here, its one line intact."""
        from concurrent.futures import FIRST_COMPLETED, wait
        from concurrent.futures.process import BrokenProcessPool

        running = [f for b in self._batches for f in b.futures.values() if not f.done()]
        if running:
            wait(running, timeout=timeout, return_when=FIRST_COMPLETED)
        self._drain(view, self._finished)
        for batch in list(self._batches):
            for seed, future in batch.futures.items():
                label = batch.labels[seed]
                if not future.done() or label in self._finished:
                    continue
                try:
                    future.result()
                except BrokenProcessPool:
                    self._batches.remove(batch)  # the command ends here; a pool kept for more work forgets it
                    raise SftlabError(
                        f"{label}: a worker process died (out of memory?); try again with --workers 1"
                    ) from None
                except BaseException:
                    self._batches.remove(batch)
                    raise
                self._finished.add(label)
                if view is not None:
                    view.finish(label)
            if batch.done:
                self._batches.remove(batch)
                batch.finished_at = time.time()

    @staticmethod
    def merge(ctx: EntryContext, batch: Batch) -> list[dict]:
        """A finished batch's runs in seed order; the notes and adaptations they added merged into ``ctx``."""
        runs = []
        for seed in batch.seeds:
            run, notes, adaptations = batch.futures[seed].result()
            runs.append(run)
            for note in notes:
                ctx.add_note(note)
            for name, summary in adaptations.items():
                ctx.adaptations.setdefault(name, summary)
        return runs

    def _drain(self, view: RunView | None, finished: set[str]) -> None:
        while True:
            try:
                kind, label, *step = self._events.get_nowait()
            except queue.Empty:
                return
            if view is None or label in finished:  # a late event of a run already counted done
                continue
            if kind == "start":
                view.start(label)
            elif label in view.active:
                view.step(*step, label=label)


def _wait_for_exit(processes, timeout: float) -> None:
    """Wait up to ``timeout`` s for ``processes`` to exit; kill any still running then."""
    from multiprocessing.connection import wait

    pending = {p.sentinel: p for p in processes}
    deadline = time.monotonic() + timeout
    while pending and (left := deadline - time.monotonic()) > 0:
        for sentinel in wait(list(pending), timeout=left):
            pending.pop(sentinel)
    for process in pending.values():
        process.kill()


# -- in a worker process --------------------------------------------------------------------------

_WORKER: dict = {}  # this worker's context (built on its first job), event queue and current label


def _init_worker(make_context, events, log: str | None, verbose: bool) -> None:
    import signal

    import torch

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the main process, which terminates the workers
    torch.set_num_threads(RUN_THREADS)
    _WORKER.update(make_context=make_context, events=events, label=None, stack=contextlib.ExitStack())
    on_step = lambda step, max_steps: events.put(("step", _WORKER["label"], step, max_steps))
    _WORKER["stack"].enter_context(worker_console(log, verbose=verbose, on_step=on_step))  # for the worker's life


def _run_job(entry: DemoEntry, seed: int, label: str, adaptations: dict) -> tuple[dict, list[str], dict]:
    import sys

    if "ctx" not in _WORKER:
        _WORKER["ctx"] = _WORKER["make_context"]()
    ctx = _WORKER["ctx"]
    ctx.notes, ctx.adaptations = [], dict(adaptations)  # what this run adds is what it returns
    _WORKER["label"] = label
    _WORKER["events"].put(("start", label))
    print(f"\n== {label} (worker process {os.getpid()})", flush=True)
    try:
        run = entry.run(ctx, entry, seed)
    except SftlabError as e:
        raise SftlabError(str(e)) from None  # one line, and picklable whatever a subclass's constructor takes
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    added = {name: summary for name, summary in ctx.adaptations.items() if name not in adaptations}
    return run, list(ctx.notes), added
