"""Console helpers: silence third-party progress bars while a command shows its own."""

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
