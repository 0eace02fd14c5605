"""Console helpers: silence third-party progress bars while a command shows its own; the live view of a
command's runs (:class:`RunView`)."""

from __future__ import annotations

import contextlib
import os


@contextlib.contextmanager
def quiet(enabled: bool):
    """Silence the progress bars of datasets, transformers and TRL while ``enabled``."""
    if not enabled:
        yield
        return
    import datasets
    from transformers.utils import logging as hf_logging

    ds_on, hf_on, env = (
        datasets.is_progress_bar_enabled(),
        hf_logging.is_progress_bar_enabled(),
        os.environ.get("TQDM_DISABLE"),
    )
    datasets.disable_progress_bars()
    hf_logging.disable_progress_bar()
    os.environ["TQDM_DISABLE"] = "1"  # TRL's reference-scoring bar reads it
    try:
        yield
    finally:
        if ds_on:
            datasets.enable_progress_bars()
        if hf_on:
            hf_logging.enable_progress_bar()
        if env is None:
            os.environ.pop("TQDM_DISABLE", None)
        else:
            os.environ["TQDM_DISABLE"] = env


class RunView:
    """One live view of a command's runs (``sftlab demo``, ``sftlab compare``): runs done / total, the current runs
    (several when worker processes run an entry's seeds at once: :meth:`start` / :meth:`finish` / :meth:`step` with
    their labels) and their training steps, the elapsed time and an estimate of what is left.

    On a terminal it is a rich ``Live`` display; elsewhere (CI, a pipe, ``--verbose``) plain lines. While it runs,
    unless ``verbose``, third-party progress bars are off (:func:`quiet`), transformers logs errors only, and what a
    run prints itself (the methods' own lines, the trainers' log dicts, warnings) goes to ``log`` instead of the
    console. Steps reach the view through a ``transformers.TrainerCallback`` added to every trainer built while it
    runs (transformers' ``DEFAULT_CALLBACKS``, restored on exit): the methods' trainers need no change. A worker
    process does the same to itself with :func:`worker_console`.
    """

    def __init__(
        self,
        total: int,
        *,
        title: str,
        verbose: bool = False,
        log: str | os.PathLike | None = None,
        live: bool | None = None,
    ):
        self.total, self.title, self.verbose = total, title, verbose
        self.log_path = log
        self.live_requested = live
        self.done = self.started = 0
        # the runs under way (several when a pool runs an entry's seeds at once): label -> (step, max_steps) or None
        self.active: dict[str, tuple[int, int] | None] = {}
        self._began: dict[str, float] = {}
        self._plain_quarter: dict[str, int] = {}
        self._stack = contextlib.ExitStack()
        self._live = None
        self.use_live = False

    # -- lifetime ---------------------------------------------------------------------------------
    def __enter__(self) -> RunView:
        import sys
        import time

        self.t0 = time.time()
        self.out = sys.stdout  # the console, before any run's output is redirected
        tty = getattr(self.out, "isatty", lambda: False)()
        self.use_live = use_live = (tty if self.live_requested is None else self.live_requested) and not self.verbose
        if not self.verbose:
            self._stack.enter_context(quiet(True))
            self._stack.enter_context(_transformers_errors_only())
        self._stack.enter_context(step_callback(self.step))
        if not self.verbose and self.log_path is not None:  # one command's runs under one header
            os.makedirs(os.path.dirname(os.path.abspath(self.log_path)), exist_ok=True)
            with open(self.log_path, "a", encoding="utf-8") as f:
                f.write(f"\n===== {self.title}, {time.strftime('%Y-%m-%d %H:%M:%S')}: {self.total} runs\n")
        if use_live:
            from rich.console import Console
            from rich.live import Live

            self._console = Console(file=self.out)
            self._live = self._stack.enter_context(
                Live(
                    self._render(),
                    console=self._console,
                    refresh_per_second=4,
                    transient=True,
                    redirect_stdout=False,
                    redirect_stderr=False,
                )
            )
        return self

    def __exit__(self, *exc) -> None:
        self._stack.close()
        self._live = None

    # -- what the runner reports ------------------------------------------------------------------
    @contextlib.contextmanager
    def run(self, label: str, *, counted: bool = True):
        """One run (an entry's seed) in this process: its output goes to the log unless verbose; counted done when it
        returns. ``counted=False``: a step that is not one of the ``total`` runs (an entry's shared preparation)."""
        self.start(label, counted=counted)
        with contextlib.ExitStack() as stack:
            if not self.verbose and self.log_path is not None:  # the view keeps writing to self.out
                f = stack.enter_context(open(self.log_path, "a", encoding="utf-8"))
                f.write(f"\n== {label}\n")
                stack.enter_context(contextlib.redirect_stdout(f))
                stack.enter_context(contextlib.redirect_stderr(f))
                stack.enter_context(_warnings_to(f))
            yield
        self.finish(label, counted=counted)

    def start(self, label: str, *, counted: bool = True) -> None:
        """A run began (here or in a worker process): shown as current until :meth:`finish`."""
        import time

        self.active[label], self._began[label], self._plain_quarter[label] = None, time.time(), -1
        self.started += counted
        if self._live is None:
            self.line(f"run {self.started} of {self.total}: {label}" if counted else f"{label}")
        self._refresh()

    def finish(self, label: str, *, counted: bool = True) -> None:
        import time

        self.active.pop(label, None)
        seconds = time.time() - self._began.pop(label, time.time())
        self.done += counted
        if self._live is None and counted:
            self.line(f"{self.done}/{self.total} runs done ({label}: {_duration(seconds)}); {self._times()}")
        self._refresh()

    def step(self, step: int, max_steps: int, label: str | None = None) -> None:
        """A trainer's progress within run ``label`` (default: the run started last)."""
        label = label if label is not None else next(reversed(self.active), None)
        if label not in self.active:
            return
        self.active[label] = (step, max_steps)
        if self._live is not None:
            self._refresh()
        elif max_steps > 0:  # plain lines: at most one per quarter of the steps
            quarter = 4 * step // max_steps
            if quarter > self._plain_quarter[label] and step > 0:
                self._plain_quarter[label] = quarter
                self.line(f"      {label}: step {step}/{max_steps}")

    def line(self, text: str = "") -> None:
        """A line above the live view (or a plain line)."""
        if self._live is not None:
            self._live.console.print(text, markup=False, highlight=False)
        else:
            print(text, file=self.out, flush=True)

    def table(self, title: str, columns: list[str], rows: list[list[str]]) -> None:
        """A results table: rich on a terminal, aligned plain text otherwise."""
        if self.use_live:
            from rich.console import Console
            from rich.table import Table

            t = Table(title=title)
            for c in columns:
                t.add_column(c)
            for r in rows:
                t.add_row(*r)
            Console(file=self.out).print(t)
            return
        widths = [max(len(str(x)) for x in col) for col in zip(columns, *rows)]
        print(title, file=self.out)
        for r in [columns, *rows]:
            print("  " + "  ".join(str(x).ljust(w) for x, w in zip(r, widths)).rstrip(), file=self.out)
        self.out.flush()

    # -- drawing ----------------------------------------------------------------------------------
    def _times(self) -> str:
        import time

        elapsed = time.time() - self.t0
        progress = self.done + sum(at[0] / at[1] for at in self.active.values() if at and at[1])
        text = f"{_duration(elapsed)} elapsed"
        if 0 < progress < self.total:
            text += f", about {_duration(elapsed / progress * (self.total - progress))} left"
        return text

    def _render(self):
        from rich.text import Text

        parts = [f"{self.title}: {self.done}/{self.total} runs done"]
        if self.active:
            now = [f"{label} step {at[0]}/{at[1]}" if at and at[1] else label for label, at in self.active.items()]
            parts.append("now " + ", ".join(now))
        parts.append(self._times())
        return Text(" | ".join(parts))

    def _refresh(self) -> None:
        if self._live is not None:
            self._live.update(self._render())


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


@contextlib.contextmanager
def _transformers_errors_only():
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)


@contextlib.contextmanager
def _warnings_to(f):
    import warnings

    with warnings.catch_warnings():
        warnings.showwarning = lambda message, category, filename, lineno, file=None, line=None: f.write(
            warnings.formatwarning(message, category, filename, lineno, line)
        )
        yield


@contextlib.contextmanager
def step_callback(on_step):
    """Every trainer built meanwhile reports its steps: ``on_step(step, max_steps)``."""
    import transformers.trainer as hf_trainer
    from transformers import TrainerCallback

    class StepReporter(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            on_step(state.global_step, state.max_steps)

        def on_step_end(self, args, state, control, **kwargs):
            on_step(state.global_step, state.max_steps)

    reporter = StepReporter()
    hf_trainer.DEFAULT_CALLBACKS.append(reporter)
    try:
        yield
    finally:
        hf_trainer.DEFAULT_CALLBACKS.remove(reporter)


@contextlib.contextmanager
def worker_console(log: str | os.PathLike | None, *, verbose: bool, on_step):
    """A worker process of a :class:`RunView`'s command, for its whole life: what the view does to the main process's
    runs (unless ``verbose``: third-party bars off, transformers errors only, and everything the process writes,
    its C libraries included, appended to ``log``), and its trainers' steps sent to ``on_step(step, max_steps)``."""
    import sys

    with contextlib.ExitStack() as stack:
        if not verbose:
            stack.enter_context(quiet(True))
            stack.enter_context(_transformers_errors_only())
            if log is not None:
                sys.stdout.flush()
                sys.stderr.flush()
                os.makedirs(os.path.dirname(os.path.abspath(log)), exist_ok=True)
                fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
                os.dup2(fd, 1)  # the process's own stdout and stderr: what a C library or tqdm writes goes there too
                os.dup2(fd, 2)
                os.close(fd)
        stack.enter_context(step_callback(on_step))
        yield
