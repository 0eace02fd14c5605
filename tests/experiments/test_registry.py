"""The entry list: order, defaults, one section per group, and the lab recipes (packaged, equal to the settings the
demo has always used)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from sftlab.errors import SftlabError
from sftlab.experiments import registry
from sftlab.experiments.entries import dart, distill, irl, landscape, nft, regimes, rl
from sftlab.experiments.recipes import read_recipe, recipe_text
from sftlab.experiments.runner import resolve_methods

ROOT = Path(__file__).resolve().parents[2]
ORDER = [
    "base",
    "sft",
    "dft",
    "asft",
    "s2l",
    "random-subset",
    "landscape",
    "distill",
    "dart",
    "direct-rl",
    "sft-subset",
    "sdft",
    "grape",
    "dft-noprior",
    "dart-dft-noprior",
    "irft",
    "spin",
    "rft",
    "nft",
    "sft-native",
    "dft-native",
    "sft-noisy",
    "irft-noisy",
    "rft-noisy",
    "rs-sft",
    "base-careless",
    "grpo-careless",
    "nft-careless",
    "rs-sft-careless",
    "full-pool",
    "s2l-pool",
    "random-pool",
    "distill-protein",
]


def test_order_and_defaults():
    assert [e.name for e in registry.ENTRIES] == ORDER
    families = ["base", "sft", "dft", "asft", "s2l", "random-subset", "landscape", "distill", "dart", "direct-rl"]
    assert resolve_methods(None) == [*families, "irft", "spin", "rft", "nft"]  # every method family
    assert resolve_methods(None, "quick") == ["base", "sft", "dft", "asft", "landscape"]
    assert resolve_methods("all") == ORDER
    assert resolve_methods(" rft, sft ") == ["rft", "sft"]  # the order given
    for alone in ("distill-protein", "landscape"):  # sections only: the report's accuracy table would be empty
        with pytest.raises(SftlabError, match=f"--methods {alone}: none of these reports test accuracy"):
            resolve_methods(alone)
    assert resolve_methods("base,distill-protein") == ["base", "distill-protein"]


def test_groups_share_one_section_and_entries_are_frozen():
    groups = {}
    for e in registry.ENTRIES:
        groups.setdefault(e.group, set()).add(e.section)
    assert all(len(sections) == 1 for sections in groups.values()), groups
    assert {g: next(iter(s)) for g, s in groups.items()} == {
        "core": None,
        "s2l": registry.s2l.section,
        "landscape": landscape.section,
        "distill": distill.section,
        "dart": dart.section,
        "irl": irl.section,
        "nft": nft.section,
        "claim-dft": regimes.dft_section,
        "claim-irft": regimes.irft_section,
        "claim-nft": regimes.nft_section,
        "claim-rl": rl.section,
        "claim-s2l": regimes.s2l_section,
        "claim-protein": regimes.protein_section,
    }
    with pytest.raises(dataclasses.FrozenInstanceError):
        registry.ENTRIES[0].default = False
    with pytest.raises(TypeError):
        registry.BY_NAME["sft"].options["objective"] = "dft"


def test_every_recipe_is_packaged_and_is_the_repository_file():
    """configs/lab is a symlink to the packaged recipes: one copy, read by `sftlab demo` from any directory."""
    assert (ROOT / "configs" / "lab").is_symlink()
    assert (ROOT / "configs" / "lab").resolve() == (ROOT / "src" / "sftlab" / "configs" / "lab").resolve()
    names = {e.recipe for e in registry.ENTRIES if e.recipe}
    assert names == {
        f"configs/lab/{n}.yaml"
        for n in (
            "sft",
            "s2l",
            "landscape",
            "distill",
            "dart",
            "irft",
            "spin",
            "rft",
            "nft",
            "s2l_pool",
            "distill_protein",
            "rl_careless",
            "nft_careless",
        )
    }
    for name in names:
        assert recipe_text(name) == (ROOT / name).read_text(encoding="utf-8")


# The settings the demo used when they were Python dataclasses (IRLDemoSettings, NFTDemoSettings, DartDemoSettings,
# S2LDemoSettings, DistillDemoSettings, the landscape's DEFAULT/QUICK and DemoContext.train): (full, standard), the
# standard size being what --quick was before the demo had three sizes (SPIN kept 2 iterations for its per-iteration
# claim); --quick changes the standard size only where QUICK says.
IRL_COMMON = dict(
    beta=0.1,
    learning_rate=1e-4,
    lr_scheduler_type="linear",
    warmup_ratio=0.1,
    per_device_train_batch_size=8,
    max_length=512,
    temperature=1.0,
    generation_batch_size=64,
    logging_steps=2,
    link="logistic",
    n=1,
)
EXPECTED = {
    "irft": (
        {**IRL_COMMON, "iterations": 3, "max_prompts": 96, "steps_per_iteration": 12, "max_new_tokens": 128},
        {**IRL_COMMON, "iterations": 2, "max_prompts": 24, "steps_per_iteration": 4, "max_new_tokens": 96},
    ),
    "spin": (
        {**IRL_COMMON, "iterations": 2, "max_prompts": 48, "steps_per_iteration": 12, "max_new_tokens": 128},
        {**IRL_COMMON, "iterations": 2, "max_prompts": 16, "steps_per_iteration": 4, "max_new_tokens": 96},
    ),
    "rft": tuple(
        {
            **IRL_COMMON,
            "iterations": 2,
            "learning_rate": 1e-5,
            "reward_learning_rate": 1e-4,
            "num_generations": 4,
            "per_device_train_batch_size": 16,
            "heldout_fraction": 0.2,
            **size,
        }
        for size in (
            {"max_prompts": 96, "steps_per_iteration": 8, "reward_steps": 8, "max_new_tokens": 128},
            {"max_prompts": 24, "steps_per_iteration": 3, "reward_steps": 4, "max_new_tokens": 96},
        )
    ),
    "nft": tuple(
        {
            "num_generations": 4,
            "prompts_per_step": 4,
            "updates_per_generation": 2,
            "per_device_train_batch_size": 16,
            "learning_rate": 1e-4,
            "warmup_steps": 0,
            "weight_decay": 0.0,
            "max_completion_length": 96,
            "logging_steps": 1,
            "lr_scheduler_type": "constant_with_warmup",
            "temperature": 1.0,
            **size,
        }
        for size in ({"max_steps": 30, "max_prompts": 128}, {"max_steps": 8, "max_prompts": 32})
    ),
    "dart": tuple(
        {
            "group_size": 4,
            "prompts_per_step": 4,
            "rl_learning_rate": 1e-4,
            "kl_beta": 0.04,
            "n_samples": 2,
            "max_completion_length": 96,
            "generation_batch_size": 64,
            "scoring_batch_size": 64,
            **size,
        }
        for size in ({"max_examples": 512, "rl_steps": 30}, {"max_examples": 128, "rl_steps": 8})
    ),
    "distill": tuple(
        {
            "pack": "math",
            "n": 4,
            "epochs": 2.0,
            "learning_rate": 1e-4,
            "max_new_tokens": 64,
            "temperature": 1.0,
            "filters": "dedup,arithmetic:require=true,verifier",
            "train_steps": 0,
            "evaluate": False,
            "batch_size": 16,
            **size,
        }
        for size in ({"rounds": 2, "max_prompts": 96}, {"rounds": 1, "max_prompts": 48})
    ),
    "landscape": tuple(
        {"label_field": "family,answer", "batch_size": 32, "seed": 0, **size}
        for size in ({"shots": "0,1,5", "max_examples": 400}, {"shots": "0,5", "max_examples": 200})
    ),
}


QUICK = {"landscape": {"max_examples": 100, "shot_source": "same_label"}}


@pytest.mark.parametrize("size", ["full", "standard", "quick"])
def test_recipes_hold_the_settings_the_demo_used(demo_ctx, size):
    ctx = demo_ctx(quick=size == "quick", full=size == "full")
    assert ctx.size == size
    e = registry.BY_NAME
    built = {m: irl.irl_config(ctx, e[m], 0, "start") for m in ("irft", "spin", "rft")}
    built["nft"] = nft.nft_config(ctx, e["nft"], 0)
    built["dart"] = dart.adapt_config(ctx, e["dart"], ctx.lab, Path("out"), "dart", "mapper")
    built["distill"] = distill.distill_config(ctx, e["distill"], 0)
    built["landscape"] = landscape.landscape_config(ctx, e["landscape"], {"SFT": "sft"})
    for name, cfg in built.items():
        expected = {**EXPECTED[name][size != "full"], **(QUICK.get(name, {}) if size == "quick" else {})}
        assert {k: getattr(cfg, k) for k in expected} == expected, name
    assert (ctx.steps, ctx.learning_rate, ctx.batch_size) == (
        {"full": 300, "standard": 80, "quick": 30}[size],
        1e-3,
        16,
    )
    sft = {k: ctx.sft.options[k] for k in ("lr_scheduler_type", "warmup_ratio", "max_length", "weight_decay")}
    assert sft == {"lr_scheduler_type": "cosine", "warmup_ratio": 0.05, "max_length": 512, "weight_decay": 0.0}
    from sftlab.methods.s2l.select import SelectConfig

    s2l = ctx.recipe("configs/lab/s2l.yaml", SelectConfig)
    assert s2l.demo == {"budgets": [0.1, 0.3, 0.5] if size == "full" else [0.1, 0.3]}
    assert {k: s2l.options[k] for k in ("n_checkpoints", "n_clusters", "max_length")} == (
        {"n_checkpoints": 3, "n_clusters": 50, "max_length": 512}
        if size != "full"
        else {"n_checkpoints": 4, "n_clusters": 100, "max_length": 512}
    )


def test_commands_read_the_lab_recipes_without_the_demo_block():
    from sftlab.config import load_recipe
    from sftlab.methods.irl import IRLConfig

    values = load_recipe(str(ROOT / "configs" / "lab" / "spin.yaml"), IRLConfig)
    assert "demo" not in values and values["max_prompts"] == 48
    assert read_recipe("configs/lab/spin.yaml", IRLConfig, quick=True).options["max_prompts"] == 16
