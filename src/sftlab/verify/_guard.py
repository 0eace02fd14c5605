"""The math-verify comparison under a hard deadline.

math-verify bounds its own work with ``signal.alarm``, which only works in the
main thread, takes whole seconds, and applies per step (one parse, one
comparison), so several steps can add up. Here the whole parse + verify of one
pair runs under one deadline instead:

- in the main thread, a SIGALRM interval timer (fractional seconds) raises
  :class:`_Deadline`, a ``BaseException`` that math-verify's and sympy's
  ``except Exception`` clauses do not swallow; it re-arms itself in case some
  code catches it anyway;
- in any other thread (signals cannot be used there), the pair goes to a
  worker process owned by that thread (:mod:`sftlab.verify._worker`), which
  applies the same timer in its own main thread; if the worker does not answer
  within the deadline plus a grace period (a computation stuck in C code), it
  is killed and the answer counts as wrong. The next call starts a new worker.

Answers are parsed as LaTeX only (``LatexExtractionConfig``): math-verify's
plain-expression path goes through ``sympy.parse_expr``, which calls ``eval``.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import select
import signal
import subprocess
import sys
import threading
import time
import weakref
from pathlib import Path

# Longer answers are compared as strings only: parsing cost grows with length,
# and no benchmark's final answer comes near this.
MAX_ANSWER_CHARS = 1000
# After a deadline fires, fire again this often until the call has returned.
_REFIRE_S = 0.1
# Extra time a worker gets beyond the deadline before it is killed (IPC, scheduling).
_GRACE_S = 0.5
# A worker's start (importing sympy and math-verify) is not model-controlled; bound it loosely.
_STARTUP_LIMIT_S = 120.0

# math-verify logs every timeout with the offending text (possibly huge) at
# WARNING, and warns once that its own timeouts are off (ours replace them).
logging.getLogger("math_verify").setLevel(logging.ERROR)


class _Deadline(BaseException):
    """Raised by the SIGALRM handler when the time limit is reached."""


def math_equal(pred: str, ref: str, timeout: float) -> bool:
    """math-verify's verdict on two normalized answers, False once ``timeout`` seconds have passed."""
    if threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer"):
        return math_equal_with_alarm(pred, ref, timeout)
    worker = getattr(_local, "worker", None)
    if worker is None or not worker.alive():
        worker = _local.worker = _Worker()
    try:
        return worker.ask(pred, ref, timeout)
    except TimeoutError:
        _local.worker = None  # killed; the next call starts a fresh one
        return False


def math_equal_with_alarm(pred: str, ref: str, timeout: float) -> bool:
    """:func:`_math_equal` bounded by a SIGALRM timer (main thread only)."""
    state = {"active": True}

    def on_alarm(signum, frame):
        if state["active"]:
            signal.setitimer(signal.ITIMER_REAL, _REFIRE_S)  # in case someone swallows this one
            raise _Deadline()

    start = time.monotonic()
    previous_handler = signal.signal(signal.SIGALRM, on_alarm)
    outer_delay, outer_interval = signal.setitimer(signal.ITIMER_REAL, max(timeout, 1e-3))
    if 0 < outer_delay < timeout:  # an enclosing timer expires first: honour it
        signal.setitimer(signal.ITIMER_REAL, outer_delay)
    try:
        try:
            return _math_equal(pred, ref)
        except _Deadline:
            return False
        finally:
            state["active"] = False
    except _Deadline:  # arrived just before the flag was cleared
        return False
    finally:
        state["active"] = False
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous_handler)
        if outer_delay > 0:  # give the enclosing timer back what is left of it
            left = outer_delay - (time.monotonic() - start)
            signal.setitimer(signal.ITIMER_REAL, max(left, 1e-3), outer_interval)


def _math_equal(pred: str, ref: str) -> bool:
    """math-verify parse + verify, LaTeX reading only, without math-verify's own timeouts."""
    from math_verify import verify as mv_verify

    gold = _parse_latex(ref)
    if not gold:
        return False
    target = _parse_latex(pred)
    if not target:
        return False
    return bool(mv_verify(list(gold), list(target), timeout_seconds=None))


@functools.lru_cache(maxsize=4096)
def _parse_latex(answer: str) -> tuple:
    """math-verify's LaTeX reading of one answer, cached: a reference is compared with many samples.

    An interrupted parse raises (nothing is cached); a finished one is cached
    as an immutable tuple.
    """
    from math_verify import LatexExtractionConfig, parse

    return tuple(parse(f"${answer}$", extraction_config=[LatexExtractionConfig()], parsing_timeout=None))


class _Worker:
    """A child process answering ``[pred, ref, timeout]`` lines with ``true``/``false``."""

    def __init__(self, command: list[str] | None = None):
        src = str(Path(__file__).resolve().parents[2])  # the folder holding the sftlab package
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH")) if p))
        self.proc = subprocess.Popen(
            command or [sys.executable, "-m", "sftlab.verify._worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        self._finalizer = weakref.finalize(self, _terminate, self.proc)
        if self._readline(_STARTUP_LIMIT_S) != "ready":
            self.kill()
            raise RuntimeError("the answer-verification worker process failed to start")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def ask(self, pred: str, ref: str, timeout: float) -> bool:
        try:
            self.proc.stdin.write(json.dumps([pred, ref, timeout]) + "\n")
            self.proc.stdin.flush()
        except OSError:  # died between calls
            self.kill()
            raise TimeoutError from None
        line = self._readline(timeout + _GRACE_S)
        if line is None:
            self.kill()
            raise TimeoutError
        return line == "true"

    def _readline(self, timeout: float) -> str | None:
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            return None
        line = self.proc.stdout.readline()
        return line.strip() if line else None

    def kill(self) -> None:
        self._finalizer()


def _terminate(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    for stream in (proc.stdin, proc.stdout):
        if stream:
            try:
                stream.close()
            except OSError:
                pass


_local = threading.local()
