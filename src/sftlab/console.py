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
    """One live view of a command's runs (``sftlab demo``, ``sftlab compare``): runs done / total, the current run
    and its training step, the elapsed time and an estimate of what is left.

    On a terminal it is a rich ``Live`` display; elsewhere (CI, a pipe, ``--verbose``) plain lines. While it runs,
    unless ``verbose``, third-party progress bars are off (:func:`quiet`), transformers logs errors only, and what a
    run prints itself (the methods' own lines, the trainers' log dicts, warnings) goes to ``log`` instead of the
    console. Steps reach the view through a ``transformers.TrainerCallback`` added to every trainer built while it
    runs (transformers' ``DEFAULT_CALLBACKS``, restored on exit): the methods' trainers need no change.
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
        self.done = 0
        self.current: str | None = None
        self.step_at: tuple[int, int] | None = None
        self._plain_quarter = -1
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
        self._stack.enter_context(_step_callback(self))
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
    def run(self, label: str):
        """One run (an entry's seed): its output goes to the log unless verbose; counted done when it returns."""
        import time

        self.current, self.step_at, self._plain_quarter = label, None, -1
        t0 = time.time()
        if self._live is None:
            self.line(f"run {self.done + 1} of {self.total}: {label}")
        self._refresh()
        with contextlib.ExitStack() as stack:
            if not self.verbose and self.log_path is not None:  # the view keeps writing to self.out
                f = stack.enter_context(open(self.log_path, "a", encoding="utf-8"))
                f.write(f"\n== {label}\n")
                stack.enter_context(contextlib.redirect_stdout(f))
                stack.enter_context(contextlib.redirect_stderr(f))
                stack.enter_context(_warnings_to(f))
            yield
        self.done += 1
        self.current, self.step_at = None, None
        if self._live is None:
            self.line(f"{self.done}/{self.total} runs done ({label}: {_duration(time.time() - t0)}); {self._times()}")
        self._refresh()

    def step(self, step: int, max_steps: int) -> None:
        """A trainer's progress within the current run."""
        self.step_at = (step, max_steps)
        if self._live is not None:
            self._refresh()
        elif max_steps > 0 and self.current is not None:  # plain lines: at most one per quarter of the steps
            quarter = 4 * step // max_steps
            if quarter > self._plain_quarter and step > 0:
                self._plain_quarter = quarter
                self.line(f"      {self.current}: step {step}/{max_steps}")

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
        progress = self.done + (self.step_at[0] / self.step_at[1] if self.step_at and self.step_at[1] else 0.0)
        text = f"{_duration(elapsed)} elapsed"
        if 0 < progress < self.total:
            text += f", about {_duration(elapsed / progress * (self.total - progress))} left"
        return text

    def _render(self):
        from rich.text import Text

        parts = [f"{self.title}: {self.done}/{self.total} runs done"]
        if self.current:
            step = f" step {self.step_at[0]}/{self.step_at[1]}" if self.step_at and self.step_at[1] else ""
            parts.append(f"now {self.current}{step}")
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
def _step_callback(view: RunView):
    """Every trainer built while the view runs reports its steps to it."""
    import transformers.trainer as hf_trainer
    from transformers import TrainerCallback

    class StepReporter(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            view.step(state.global_step, state.max_steps)

        def on_step_end(self, args, state, control, **kwargs):
            view.step(state.global_step, state.max_steps)

    reporter = StepReporter()
    hf_trainer.DEFAULT_CALLBACKS.append(reporter)
    try:
        yield
    finally:
        hf_trainer.DEFAULT_CALLBACKS.remove(reporter)
