"""summarize_runs, mean_curve and the printed formats against hand-worked values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sftlab.report import format_accuracy, machine_info, summarize_runs
from sftlab.report.plots import mean_curve
from sftlab.report.summary import format_seconds


def test_summarize_runs_hand_worked():
    """test_id: 0.50, 0.56 -> mean 0.53, std = sqrt(2 * 0.03^2 / 1) = 0.0424264.

    test_ood: 0.1, 0.2, 0.6 (third run) -> mean 0.3, var = (0.04 + 0.01 + 0.09) / 2 = 0.07.
    95% t-intervals: test_id 0.53 ± t(0.975, 1) 12.7062 * 0.0424264 / sqrt(2) = 0.53 ± 0.381186;
    test_ood 0.3 ± t(0.975, 2) 4.30265 * 0.264575 / sqrt(3) = 0.3 ± 0.657245, clipped at 0.
    """
    runs = [
        {"accuracy": {"test_id": 0.50, "test_ood": 0.1}},
        {"accuracy": {"test_id": 0.56, "test_ood": 0.2}},
        {"accuracy": {"test_ood": 0.6}},
    ]
    s = summarize_runs(runs, ["test_id", "test_ood", "missing"])
    assert s["test_id"]["mean"] == pytest.approx(0.53)
    assert s["test_id"]["std"] == pytest.approx(0.03 * math.sqrt(2))
    assert s["test_id"]["n_seeds"] == 2
    assert s["test_ood"]["mean"] == pytest.approx(0.3)
    assert s["test_ood"]["std"] == pytest.approx(math.sqrt(0.07))
    assert s["test_ood"]["n_seeds"] == 3
    assert s["test_id"]["ci95"] == pytest.approx([0.53 - 0.381186, 0.53 + 0.381186], abs=1e-5)
    assert s["test_ood"]["ci95"] == pytest.approx([0.0, 0.3 + 0.657245], abs=1e-5)
    assert s["missing"] == {"mean": None, "std": None, "n_seeds": 0, "ci95": None}


def test_summarize_single_seed_has_zero_std():
    assert summarize_runs([{"accuracy": {"t": 0.25}}], ["t"]) == {
        "t": {"mean": 0.25, "std": 0.0, "n_seeds": 1, "ci95": None}
    }


def test_formats():
    assert format_accuracy({"mean": 0.53, "std": 0.0424264}) == "53.0 ± 4.2"
    assert format_accuracy({"mean": None, "std": None, "n_seeds": 0}) == "–"
    seconds = [0.0, None, 3.21, 42.4, 330, 7200]
    assert [format_seconds(x) for x in seconds] == ["–", "–", "3.2 s", "42 s", "5.5 min", "2.0 h"]


def test_mean_curve_interpolates_onto_the_shortest_run():
    """Run A logs steps 0,10,20; run B logs every 5 steps up to 25. B at 0,10,20 is 4,3,2,
    so the mean is 3.5,2.5,1.5 and the sample std |a - b| / sqrt(2) = 0.5 * sqrt(2)."""
    runs = [
        {"curve": {"step": [0, 10, 20], "objective": [3.0, 2.0, 1.0]}},
        {"curve": {"step": [0, 5, 10, 15, 20, 25], "objective": [4.0, 3.5, 3.0, 2.5, 2.0, 1.5]}},
        {"curve": {}},  # a run without a curve (e.g. the base model) is left out
    ]
    steps, mean, std = mean_curve(runs, "objective")
    np.testing.assert_allclose(steps, [0, 10, 20])
    np.testing.assert_allclose(mean, [3.5, 2.5, 1.5])
    np.testing.assert_allclose(std, [0.5 * math.sqrt(2)] * 3)
    assert mean_curve(runs, "nll") is None


def test_machine_info_fields():
    info = machine_info()
    assert isinstance(info["cpu"], str) and info["cpu"]
    assert isinstance(info["cores"], int) and info["cores"] >= 1
    assert info["torch"] and info["transformers"] and info["trl"]
    import torch

    assert (info["gpu"] is not None) == torch.cuda.is_available()
