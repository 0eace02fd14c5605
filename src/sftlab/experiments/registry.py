"""The demo's entries, in run order: the one list ``sftlab demo`` reads (no registration by import).

``default=True`` marks what a plain ``sftlab demo`` runs (every method family, at the
recipes' ``standard`` size: it must fit 10 minutes on 2 CPU cores from an empty cache;
measured figures in docs/lab.md) and ``quick=True`` what ``--quick`` runs (about 2
minutes). Every other entry runs with ``--methods all`` or by name. An
entry's ``group`` shares one report section, drawn by the runner after the
group's last selected entry; every entry of a group names the same ``section``.
An entry whose seeds share a step (DART's adaptation, S2L's proxy, the no-prior
lab) names it as ``prepare``: run once before its seeds, which may run at once.
"""

from __future__ import annotations

from types import MappingProxyType

from sftlab.experiments.context import DemoEntry
from sftlab.experiments.entries import core, dart, distill, irl, landscape, nft, s2l
from sftlab.methods.dart.config import DartConfig
from sftlab.methods.distill.loop import DistillConfig
from sftlab.methods.irl import IRLConfig
from sftlab.methods.landscape.landscape import LandscapeConfig
from sftlab.methods.nft import NFTTrainConfig
from sftlab.methods.sft import TrainConfig

SFT = "configs/lab/sft.yaml"
DART = "configs/lab/dart.yaml"
S2L = "configs/lab/s2l.yaml"


def _opts(**kw) -> MappingProxyType:
    return MappingProxyType(kw)


ENTRIES: tuple[DemoEntry, ...] = (
    DemoEntry(
        "base",
        "base model",
        "The lab's pretrained model, before any fine-tuning.",
        "core",
        core.evaluate_base,
        default=True,
        quick=True,
        per_seed=False,
        paper_recipe="",
    ),
    DemoEntry(
        "sft",
        "SFT",
        "Plain SFT (token NLL) on the expert-style data.",
        "core",
        core.train_objective,
        default=True,
        quick=True,
        recipe=SFT,
        options=_opts(objective="nll"),
        paper_recipe="configs/sft.yaml",
        config=TrainConfig,
    ),
    DemoEntry(
        "dft",
        "DFT",
        "Dynamic Fine-Tuning (arXiv 2508.05629): NLL weighted by sg(p).",
        "core",
        core.train_objective,
        default=True,
        quick=True,
        recipe=SFT,
        options=_opts(objective="dft"),
        paper_recipe="configs/dft.yaml",
        config=TrainConfig,
    ),
    DemoEntry(
        "asft",
        "ASFT",
        "Anchored SFT (arXiv 2509.23753): DFT + 0.1 KL(pi_ref || pi_theta).",
        "core",
        core.train_objective,
        default=True,
        quick=True,
        recipe=SFT,
        options=_opts(objective="asft"),
        paper_recipe="configs/asft.yaml",
        config=TrainConfig,
    ),
    DemoEntry(
        "s2l",
        f"S2L {round(100 * s2l.HEADLINE)}%",
        "SFT on a subset chosen by S2L (arXiv 2403.07384): k-means on a proxy's loss trajectories, smallest "
        "cluster first. Headline: 30% of the train split; the S2L section has 10/30% (10/30/50% with --full).",
        "s2l",
        s2l.run_budgets,
        default=True,
        recipe=S2L,
        section=s2l.section,
        options=_opts(method="s2l"),
        prepare=s2l.prepare_proxy,
    ),
    DemoEntry(
        "random-subset",
        f"random {round(100 * s2l.HEADLINE)}%",
        "SFT on a uniformly random subset of the train split (the selection baseline), same budgets as S2L.",
        "s2l",
        s2l.run_budgets,
        default=True,
        recipe=S2L,
        section=s2l.section,
        options=_opts(method="random"),
    ),
    DemoEntry(
        "landscape",
        "landscape",
        "Per-layer geometry (ID, density peaks, ARI) of base + ICL vs SFT vs DFT (arXiv 2409.03662).",
        "landscape",
        None,
        default=True,
        quick=True,
        recipe="configs/lab/landscape.yaml",
        section=landscape.section,
        paper_recipe="configs/landscape.yaml",
        config=LandscapeConfig,
    ),
    DemoEntry(
        "distill",
        "self-distill",
        "Self-distillation (arXiv 2512.09329): fine-tune on the model's own samples "
        "whose steps and answer check out; uses the train split's answers only, not its solutions.",
        "distill",
        distill.run_entry,
        default=True,
        recipe="configs/lab/distill.yaml",
        section=distill.section,
        options=_opts(pack="math"),
        paper_recipe="configs/distill_math.yaml",
        config=DistillConfig,
    ),
    DemoEntry(
        "dart",
        "DART",
        "DART (arXiv 2605.26924, sftlab's design): a GRPO-trained mapper rewrites the expert "
        "data into the lab model's own style (best of n, fallback to the original), then SFT on the adapted "
        "records.",
        "dart",
        dart.run_adapted_entry,
        default=True,
        recipe=DART,
        section=dart.section,
        prepare=dart.prepare_adapted,
    ),
    DemoEntry(
        "direct-rl",
        "direct RL",
        "GRPO on the lab model itself with the correctness reward, as many policy "
        "updates as DART's mapper gets (DART's ablation).",
        "dart",
        dart.run_direct_rl_entry,
        default=True,
        recipe=DART,
        section=dart.section,
        options=_opts(method="direct_rl"),
        paper_recipe="configs/dart.yaml",
        config=DartConfig,
    ),
    DemoEntry(
        "sft-subset",
        "SFT (DART's subset)",
        "Plain SFT on the original records DART adapts.",
        "dart",
        dart.run_sft_subset_entry,
        recipe=DART,
        section=dart.section,
        prepare=dart.prepare_subset,
    ),
    DemoEntry(
        "sdft",
        "SDFT-style",
        "No RL (after arXiv 2402.13669): the lab model rewrites each solution given the "
        "question and the original; kept if correct; then SFT.",
        "dart",
        dart.run_adapted_entry,
        recipe=DART,
        section=dart.section,
        prepare=dart.prepare_adapted,
        options=_opts(method="sdft"),
    ),
    DemoEntry(
        "grape",
        "GRAPE-style",
        "No RL (after arXiv 2502.04194): the most target-likely correct one among the "
        "initial mapper's rewrites and the lab model's own samples; then SFT.",
        "dart",
        dart.run_adapted_entry,
        recipe=DART,
        section=dart.section,
        prepare=dart.prepare_adapted,
        options=_opts(method="grape"),
    ),
    DemoEntry(
        "dft-noprior",
        "DFT (no-prior lab)",
        "DFT on the original expert data, on the lab variant whose base model never saw the expert style.",
        "dart",
        dart.run_dft_noprior_entry,
        recipe=SFT,
        section=dart.section,
        prepare=dart.prepare_noprior_lab,
    ),
    DemoEntry(
        "dart-dft-noprior",
        "DART + DFT (no-prior lab)",
        "DFT on DART-adapted data, same no-prior lab variant (mapper, RL and target all from that variant).",
        "dart",
        dart.run_dart_dft_noprior_entry,
        recipe=DART,
        section=dart.section,
        prepare=dart.prepare_dart_noprior,
    ),
    DemoEntry(
        "irft",
        "IRFT",
        "Implicit-reward IRL (arXiv 2405.17888, Algorithm 2) from the SFT model: demonstration "
        "vs own generation, reference = the iteration's start, one chunk of prompts per iteration.",
        "irl",
        irl.run_irl_entry,
        default=True,
        recipe="configs/lab/irft.yaml",
        section=irl.section,
        options=_opts(method="irft"),
        paper_recipe="configs/irft.yaml",
        config=IRLConfig,
    ),
    DemoEntry(
        "spin",
        "SPIN",
        "Self-play fine-tuning (arXiv 2401.01335) from the SFT model: IRFT's logistic loss with "
        "every iteration regenerating the whole (subset of the) data.",
        "irl",
        irl.run_irl_entry,
        default=True,
        recipe="configs/lab/spin.yaml",
        section=irl.section,
        options=_opts(method="spin"),
        paper_recipe="configs/spin.yaml",
        config=IRLConfig,
    ),
    DemoEntry(
        "rft",
        "RFT",
        "Reward-learning fine-tuning (arXiv 2405.17888, Algorithm 1) from the SFT model: a "
        "Bradley-Terry reward model on demonstration vs generation, then GRPO on it with a KL anchor.",
        "irl",
        irl.run_irl_entry,
        default=True,
        recipe="configs/lab/rft.yaml",
        section=irl.section,
        options=_opts(method="rft"),
        paper_recipe="configs/rft.yaml",
        config=IRLConfig,
    ),
    DemoEntry(
        "nft",
        "NFT",
        "Negative-aware Fine-Tuning (arXiv 2505.18116) on the lab model: verified samples only, "
        "wrong answers trained through the implicit negative policy; direct-rl's budget.",
        "nft",
        nft.run_nft_entry,
        default=True,
        recipe="configs/lab/nft.yaml",
        section=nft.section,
        options=_opts(method="nft"),
        paper_recipe="configs/nft.yaml",
        config=NFTTrainConfig,
    ),
)

BY_NAME = MappingProxyType({e.name: e for e in ENTRIES})
