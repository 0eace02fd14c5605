"""Data selection: S2L (arXiv 2403.07384) and baselines, from a small proxy's loss trajectories.

>>> run_select(SelectConfig(method="s2l", budget="0.1", data="train.jsonl"))  # doctest: +SKIP

See docs/selection.md.
"""

from .sampling import (
    METHODS,
    balanced_allocation,
    cluster_trajectories,
    parse_budget,
    proportional_allocation,
    select_indices,
    split_by_source,
)
from .select import SelectConfig, proxy_plan, run_select
from .trajectories import record_trajectories

__all__ = [
    "METHODS",
    "SelectConfig",
    "balanced_allocation",
    "cluster_trajectories",
    "parse_budget",
    "proportional_allocation",
    "proxy_plan",
    "record_trajectories",
    "run_select",
    "select_indices",
    "split_by_source",
]
