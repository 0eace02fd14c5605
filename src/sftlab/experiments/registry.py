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
from sftlab.experiments.entries import core, dart, distill, irl, landscape, nft, regimes, rl, s2l
from sftlab.methods.dart.config import AdaptConfig, DartConfig
from sftlab.methods.distill.loop import DistillConfig
from sftlab.methods.irl import IRLConfig
from sftlab.methods.landscape.landscape import LandscapeConfig
from sftlab.methods.nft import NFTTrainConfig
from sftlab.methods.s2l.select import SelectConfig
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
        after=(),
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
        after=(),
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
        after=(),
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
        after=(),
    ),
    DemoEntry(
        "s2l",
        f"S2L {round(100 * s2l.HEADLINE)}%",
        "SFT on a subset chosen by S2L (arXiv 2403.07384): k-means on a proxy's loss trajectories, smallest "
        "cluster first. Headline: 30% of the train split; the S2L section has 10/30% (10/30/50% with --full).",
        "s2l",
        s2l.run_entry,
        default=True,
        recipe=S2L,
        section=s2l.section,
        options=_opts(method="s2l"),
        paper_recipe="configs/select_s2l.yaml",
        config=SelectConfig,
        prepare=s2l.prepare_proxy,
        after=("sft",),
    ),
    DemoEntry(
        "random-subset",
        f"random {round(100 * s2l.HEADLINE)}%",
        "SFT on a uniformly random subset of the train split (the selection baseline), same budgets as S2L.",
        "s2l",
        s2l.run_entry,
        default=True,
        recipe=S2L,
        section=s2l.section,
        options=_opts(method="random"),
        paper_recipe="configs/select_s2l.yaml",  # compare: s2l's budget (random-subset takes s2l's settings)
        config=SelectConfig,
        after=("s2l",),
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
        after=("sft", "dft"),
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
        after=(),
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
        paper_recipe="configs/dart.yaml",  # compare: its adaptation part; the fine-tuning is the SFT recipe's
        config=AdaptConfig,
        after=(),
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
        after=(),
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
        after=(),
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
        after=(),
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
        after=(),
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
        after=(),
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
        after=("dft-noprior",),
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
        after=("sft",),
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
        options=_opts(method="spin", eval_iterations=True),  # its claim is per iteration: each one evaluated
        paper_recipe="configs/spin.yaml",
        config=IRLConfig,
        after=("sft",),
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
        after=("sft",),
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
        after=(),
    ),
    # Claim scenarios (docs/lab.md): the lab settings in which papers state their claims; fixed before any run.
    DemoEntry(
        "sft-native",
        "SFT (native data)",
        "SFT on the train questions with solutions in the lab model's own native style (DFT's regime).",
        "claim-dft",
        core.train_objective,
        recipe=SFT,
        section=regimes.dft_section,
        options=_opts(objective="nll", data="native"),
        after=(),
    ),
    DemoEntry(
        "dft-native",
        "DFT (native data)",
        "DFT (arXiv 2508.05629) on the native-style train data: targets already likely under the model.",
        "claim-dft",
        core.train_objective,
        recipe=SFT,
        section=regimes.dft_section,
        options=_opts(objective="dft", data="native"),
        after=(),
    ),
    DemoEntry(
        "sft-noisy",
        "SFT (noisy demos)",
        "SFT on the train split with 30% low-quality demonstrations (wrong last step and answer; seeded).",
        "claim-irft",
        core.train_objective,
        recipe=SFT,
        section=regimes.irft_section,
        options=_opts(objective="nll", data="noisy"),
        after=(),
    ),
    DemoEntry(
        "irft-noisy",
        "IRFT (noisy demos)",
        "IRFT (arXiv 2405.17888) from sft-noisy's model, on the same noisy demonstrations.",
        "claim-irft",
        irl.run_irl_entry,
        recipe="configs/lab/irft.yaml",
        section=regimes.irft_section,
        options=_opts(method="irft", data="noisy", start="sft-noisy"),
        after=("sft-noisy",),
    ),
    DemoEntry(
        "rft-noisy",
        "RFT (noisy demos)",
        "RFT (arXiv 2405.17888) from sft-noisy's model, on the same noisy demonstrations.",
        "claim-irft",
        irl.run_irl_entry,
        recipe="configs/lab/rft.yaml",
        section=regimes.irft_section,
        options=_opts(method="rft", data="noisy", start="sft-noisy"),
        after=("sft-noisy",),
    ),
    DemoEntry(
        "rs-sft",
        "rejection-sampling SFT",
        "NFT's budget without its negative term: the lab model's verified-correct samples alone, unweighted "
        "(NFT with negative_weight 0, prompt_weighting none).",
        "claim-nft",
        nft.run_nft_entry,
        recipe="configs/lab/nft.yaml",
        section=regimes.nft_section,
        options=_opts(method="nft", negative_weight=0.0, prompt_weighting="none"),
        after=(),
    ),
    DemoEntry(
        "base-careless",
        "base model (careless lab)",
        "The careless lab variant's base model (60% of its native pretraining solutions skip the last step): "
        "greedy and avg@4; RL's regime, the answer among its samples but not its mode.",
        "claim-rl",
        rl.run_base_careless,
        section=rl.section,
        per_seed=False,
        prepare=rl.careless_lab,
        after=(),
    ),
    DemoEntry(
        "grpo-careless",
        "GRPO (careless lab)",
        "GRPO with the verifier's 0/1 reward on the careless lab's base model (configs/lab/rl_careless.yaml: the "
        "settings the default lab's dev search chose), greedy and avg@4.",
        "claim-rl",
        rl.run_grpo_careless,
        recipe="configs/lab/rl_careless.yaml",
        section=rl.section,
        prepare=rl.careless_lab,
        after=(),
    ),
    DemoEntry(
        "nft-careless",
        "NFT (careless lab)",
        "NFT (arXiv 2505.18116) from the careless lab's base model at grpo-careless's budget "
        "(configs/lab/nft_careless.yaml), greedy and avg@4.",
        "claim-rl",
        rl.run_nft_careless,
        recipe="configs/lab/nft_careless.yaml",
        section=rl.section,
        prepare=rl.careless_lab,
        after=(),
    ),
    DemoEntry(
        "rs-sft-careless",
        "rejection-sampling SFT (careless lab)",
        "nft-careless without NFT's negative term (negative_weight 0, prompt_weighting none): the verified-correct "
        "samples alone, same budget.",
        "claim-rl",
        rl.run_nft_careless,
        recipe="configs/lab/nft_careless.yaml",
        section=rl.section,
        options=_opts(negative_weight=0.0, prompt_weighting="none"),
        prepare=rl.careless_lab,
        after=(),
    ),
    DemoEntry(
        "full-pool",
        "SFT (full pool)",
        "SFT on the whole redundant, imbalanced pool (one family 60%, near-duplicates), the demo's steps; S2L's proxy.",
        "claim-s2l",
        core.train_objective,
        recipe=SFT,
        section=regimes.s2l_section,
        options=_opts(objective="nll", data="pool"),
        after=(),
    ),
    DemoEntry(
        "s2l-pool",
        "S2L 30% (pool)",
        "S2L on the redundant, imbalanced pool: 10% and 30% of it (headline 30%).",
        "claim-s2l",
        s2l.run_budgets,
        recipe="configs/lab/s2l_pool.yaml",
        section=regimes.s2l_section,
        options=_opts(method="s2l", data="pool", full="full-pool"),
        after=("full-pool",),
    ),
    DemoEntry(
        "random-pool",
        "random 30% (pool)",
        "Uniformly random 10% and 30% of the redundant, imbalanced pool (headline 30%).",
        "claim-s2l",
        s2l.run_budgets,
        recipe="configs/lab/s2l_pool.yaml",
        section=regimes.s2l_section,
        options=_opts(method="random", data="pool", full="full-pool"),
        after=("s2l-pool",),
    ),
    DemoEntry(
        "distill-protein",
        "self-distill (protein)",
        "Self-distillation on the protein pack (synthetic TrpB-like family, lab protein LM): pass rate per round, "
        "no math accuracy; runs beside a method with accuracy (the report's table). Needs the [protein] extra "
        "(parasail); where it is missing it skips with one line.",
        "claim-protein",
        distill.run_entry,
        recipe="configs/lab/distill_protein.yaml",
        section=regimes.protein_section,
        options=_opts(pack="protein"),
        after=(),
        accuracy=False,
    ),
)

BY_NAME = MappingProxyType({e.name: e for e in ENTRIES})
