"""The IRFT/SPIN/RFT entries on the real DemoContext: valid configs from their recipes, and the section's table and
curves equal to the runs' numbers."""

from __future__ import annotations

import pytest

import sftlab.experiments.entries.irl as demo
from sftlab.experiments.registry import BY_NAME

IRL = [BY_NAME[m] for m in ("irft", "spin", "rft")]


def _its(key, values):
    return [{"iteration": i + 1, "n_pairs": 4, key: v, "logp_gap": 2.0 + i, "ref_logp_gap": 1.0 + i,
             "sample_accuracy": 0.25} for i, v in enumerate(values)]  # fmt: skip


@pytest.mark.parametrize("full", [False, True])
def test_entry_configs_are_valid(demo_ctx, full):
    ctx = demo_ctx(full=full)
    for entry in IRL:
        cfg = demo.irl_config(ctx, entry, 3, "start-model")  # an IRLConfig checks itself when built
        assert (cfg.method, cfg.model, cfg.seed) == (entry.name, "start-model", 3)
        assert cfg.output_dir == str(ctx.run_dir(entry.name, 3) / "irl")


def test_section_shows_the_runs_numbers(demo_ctx):
    ctx = demo_ctx(quick=True)
    ctx.results["irft"] = {
        "runs": [
            {"iterations": _its("reward_accuracy", [0.5, 1.0])},
            {"iterations": _its("reward_accuracy", [1.0, 1.0])},
        ]
    }
    ctx.results["rft"] = {"runs": [{"iterations": _its("heldout_reward_accuracy", [0.6, 0.8])}]}
    assert demo.section(ctx, [BY_NAME["spin"]]) is None  # nothing ran
    spin = _its("reward_accuracy", [0.5, 0.75])
    for it, acc in zip(spin, (0.3, 0.325)):
        it["accuracy"] = {"test_id": acc, "test_ood": 0.05}
    ctx.results["spin"] = {"runs": [{"iterations": spin}]}
    sec = demo.section(ctx, IRL)
    assert sec.tables[0].rows == [  # first seed only: gaps, reward accuracy, generations correct, test accuracy in %
        ["IRFT", 1, 4, "1.0", "2.0", "50", "25", ""],
        ["IRFT", 2, 4, "2.0", "3.0", "100", "25", ""],
        ["SPIN", 1, 4, "1.0", "2.0", "50", "25", "30.0"],
        ["SPIN", 2, 4, "2.0", "3.0", "75", "25", "32.5"],
        ["RFT", 1, 4, "1.0", "2.0", "60", "25", ""],
        ["RFT", 2, 4, "2.0", "3.0", "80", "25", ""],
    ]
    assert "IRFT: 2 iteration(s) over 24 train prompts (cut into chunks), 4 steps per iteration." in sec.paragraphs[0]
    assert (
        "RFT: 2 iterations of a reward step (4 Bradley-Terry steps) and a policy step (3 GRPO steps)"
        in sec.paragraphs[0]
    )
    (fig,) = sec.images.values()
    gap, acc = fig.axes
    lines = {line.get_label(): (list(line.get_xdata()), list(line.get_ydata())) for line in acc.lines}
    assert lines == {
        "IRFT (implicit)": ([1, 2], [75.0, 100.0]),
        "SPIN (implicit)": ([1, 2], [50.0, 75.0]),
        "RFT (reward model, held out)": ([1, 2], [60.0, 80.0]),
    }
    assert demo._mean_over_seeds(ctx, "irft", "logp_gap") == ([1, 2], [2.0, 3.0])


def test_spin_evaluates_every_iteration_but_the_last_from_its_checkpoint(tmp_path):
    """SPIN's entry asks for a test evaluation per iteration: iterations before the last are evaluated from
    ``iter-<t>/model`` under their own tag; the last is the entry's own evaluation; a deleted model has none."""
    assert BY_NAME["spin"].options.get("eval_iterations") and not BY_NAME["irft"].options.get("eval_iterations")
    for t in (1, 2):
        (tmp_path / f"iter-{t}" / "model").mkdir(parents=True)
        (tmp_path / f"iter-{t}" / "model" / "config.json").write_text("{}")
    calls = []

    class Ctx:
        def evaluate(self, name, seed, model_dir, *, tag=""):
            calls.append((name, seed, model_dir, tag))
            return {"accuracy": {"test_id": 0.1 * int(tag[-1]), "test_ood": 0.0}}

    summary = {"output_dir": str(tmp_path), "iterations": [{"iteration": t} for t in (1, 2, 3)]}
    final = {"accuracy": {"test_id": 0.5, "test_ood": 0.1}}
    its = demo.evaluate_iterations(Ctx(), BY_NAME["spin"], 4, summary, final)
    assert calls == [("spin", 4, str(tmp_path / f"iter-{t}" / "model"), f"iter-{t}") for t in (1, 2)]
    assert [it["accuracy"] for it in its] == [{"test_id": 0.1, "test_ood": 0.0}, {"test_id": 0.2, "test_ood": 0.0},
                                              final["accuracy"]]  # fmt: skip
    (tmp_path / "iter-1" / "model" / "config.json").unlink()
    calls.clear()
    assert demo.evaluate_iterations(Ctx(), BY_NAME["spin"], 4, summary, final)[0]["accuracy"] is None
    assert [c[3] for c in calls] == ["iter-2"]
