"""Representation landscape (Doimo et al. 2024, arXiv 2409.03662): per-layer geometry of hidden states.

>>> result = run_landscape(LandscapeConfig(model="base=path/to/base", compare="sft=path/to/sft",
...                                        data="test.jsonl", label_field="topic,answer"))  # doctest: +SKIP

- :mod:`.extract`: k-shot prompts and the last prompt token's hidden state at every layer;
- :mod:`.estimators`, :mod:`.adp`: 2NN and Gride intrinsic dimension, kNN density and
  Advanced Density Peaks clustering, without DADApy;
- :mod:`.geometry`: one layer's metrics, with DADApy when installed (``sftlab[landscape]``)
  or the built-in estimators;
- :mod:`.landscape`: ``LandscapeConfig`` / ``run_landscape`` (``sftlab landscape``), plots and
  the report section; :mod:`.demo`: the lab demo's landscape step.
"""

from .extract import few_shot_prompt, last_token_states, pick_shots
from .geometry import dadapy_version, layer_geometry, resolve_backend
from .landscape import LandscapeConfig, landscape_figures, landscape_section, run_landscape

__all__ = [
    "LandscapeConfig",
    "dadapy_version",
    "few_shot_prompt",
    "landscape_figures",
    "landscape_section",
    "last_token_states",
    "layer_geometry",
    "pick_shots",
    "resolve_backend",
    "run_landscape",
]
