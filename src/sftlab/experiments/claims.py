"""The claims scoreboard: each paper's headline claim, fixed in code, checked against the demo's runs.

A claim is data, written from the papers before any lab result was seen: the
paper (arXiv id), the figure it reports, the lab scenario that tests it (text
and the entries it uses), and one or more :class:`Effect` s, each a function of
the demo's runs returning one value per seed, and the direction the paper
claims. An effect is *paired by seed*: the method's run of seed s minus the
baseline's run of seed s (a baseline run once, such as ``base``, is a
constant). The scoreboard shows the mean over seeds with the 95% Student-t
interval of the paired differences (:func:`sftlab.report.summary.t_interval`,
the one behind the report's ``ci95``), in accuracy points, and a verdict:

- **shown**: the interval excludes 0 in the claimed direction;
- **opposite**: it excludes 0 the other way;
- **not shown**: it contains 0, or every seed's difference is the same (a Student-t interval with no spread
  between seeds is a single point: undefined, not narrow; with a fixed test set this happens, e.g. each
  seed one problem lower);
- for an equivalence claim ("matches", ``margin`` set): **shown** if the whole
  interval lies within ``±margin``, else **not shown**;
- **too few seeds**: fewer than :data:`MIN_SEEDS` paired seeds (rerun with ``--seeds 3``);
- **not run**: an entry it needs did not run (the row says which ``--methods`` runs it);
- **not measured**: the entries ran but cannot give the effect (the row says why).

Entries named here that the registry does not hold yet are being built under
exactly these names; until then their rows read "not run". The scoreboard is
the demo's first report section (:mod:`sftlab.experiments.scoreboard` scores and draws it; ``sftlab compare`` evaluates on the user's own
eval sets, not in-domain/out-of-domain, so it has none).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

MIN_SEEDS = 3  # fewer paired seeds give an interval too wide to say anything (t(0.975, 1) = 12.7)
DEDUP_FILTERS = ("dedup", "near_dedup")  # self-distillation filters that are not constraints on a sample

Runs = Mapping[str, list[dict]]  # entry name -> its runs (one per seed; one for an entry run once)


class NotMeasured(Exception):
    """The entries ran but their runs cannot give the effect (the message says why)."""


@dataclass(frozen=True)
class Effect:
    """One measured effect of a claim: one row of the scoreboard.

    ``measure(runs)`` returns ``{seed: value}`` in accuracy units (fractions; shown x100 as points).
    ``direction``: +1 if the paper claims the value positive (the method higher), -1 if negative.
    ``margin``: an equivalence claim ("matches"): shown if the 95% interval lies within ``±margin``.
    ``why``: what is known of why the lab shows (or does not show) it; empty until someone finds out.
    """

    label: str  # what is measured, e.g. "dft-native - sft-native, out-of-domain"
    entries: tuple[str, ...]  # the entries it needs, in --methods order
    measure: Callable[[Runs], dict[int, float]]
    direction: int = 1
    margin: float | None = None
    why: str = ""


@dataclass(frozen=True)
class Claim:
    """A paper's claim as data: ``effects`` are measured over seeds; a ``descriptive`` claim (no interval) instead
    turns the landscape's metrics (None: it did not run) into text."""

    name: str
    paper: str  # arXiv id
    figure: str  # what the paper reports
    scenario: str  # the lab scenario that tests it
    effects: tuple[Effect, ...] = ()
    descriptive: Callable[[dict | None], str] | None = None
    descriptive_entries: tuple[str, ...] = ()
    why: str = ""


# ---------------------------------------------------------------- effect functions


def _by_seed(runs: list[dict], split: str, metric: str = "greedy") -> dict[int, float]:
    """Each run's accuracy on ``split`` by seed: ``greedy`` (the evaluation's accuracy) or ``avg`` (avg@k, the mean
    correctness of its k samples per problem; runs evaluated without samples are left out)."""
    out = {}
    for r in runs:
        values = r.get("accuracy", {}) if metric == "greedy" else (r.get("sampled") or {}).get(metric, {})
        if values.get(split) is not None:
            out[int(r.get("seed", 0))] = float(values[split])
    return out


def paired(
    method: str, baseline: str, split: str, *, baseline_once: bool = False, metric: str = "greedy"
) -> Callable[[Runs], dict]:
    """``method``'s accuracy on ``split`` minus ``baseline``'s, seed by seed (seeds both have).

    ``baseline_once``: the baseline runs once (``per_seed=False``, e.g. ``base``): its one value is subtracted from
    every seed of ``method``. ``metric``: ``greedy`` accuracy or ``avg`` (avg@k, see :func:`_by_seed`).
    """

    def measure(runs: Runs) -> dict[int, float]:
        a = _by_seed(runs[method], split, metric)
        if metric != "greedy" and not a:
            raise NotMeasured(f"{method} was evaluated without samples (no avg@k)")
        if baseline_once:
            values = list(_by_seed(runs[baseline], split, metric).values())
            if len(values) != 1:
                raise NotMeasured(f"{baseline} should have run once, it has {len(values)} runs")
            return {s: a[s] - values[0] for s in sorted(a)}
        b = _by_seed(runs[baseline], split, metric)
        return {s: a[s] - b[s] for s in sorted(a.keys() & b.keys())}

    return measure


def irl_gain(method: str, split: str = "test_id") -> Callable[[Runs], dict]:
    """An IRL entry's accuracy after its last iteration minus at iteration 0, its start, seed by seed.

    The IRL entries start from the ``sft`` entry's model of the same seed (``run["start"] == "sft"``) and record
    per iteration only train-time statistics (pairs, reward accuracy, the accuracy of their *train-prompt*
    samples), not a test evaluation; so iteration 0 is the ``sft`` run of the seed (the same model, evaluated
    the same greedy way) and the last iteration is the entry's own evaluation (its final model).
    """

    def measure(runs: Runs) -> dict[int, float]:
        for r in runs[method]:
            if r.get("start", "sft") != "sft":
                raise NotMeasured(f"{method} started from {r.get('start')!r}, not the sft model")
            if not r.get("iterations"):
                raise NotMeasured(f"{method}'s run of seed {r.get('seed')} has no iterations")
        return paired(method, "sft", split)(runs)

    return measure


def iteration_gain(method: str, t: int, split: str = "test_id") -> Callable[[Runs], dict]:
    """An IRL entry's accuracy after iteration ``t`` minus after iteration ``t - 1``, seed by seed (iteration 0:
    the ``sft`` run of the seed, its start). Needs the per-iteration evaluation (``eval_iterations``)."""

    def measure(runs: Runs) -> dict[int, float]:
        start = _by_seed(runs["sft"], split)
        out = {}
        for r in runs[method]:
            seed, its = int(r.get("seed", 0)), r.get("iterations") or []
            acc = {it["iteration"]: (it.get("accuracy") or {}).get(split) for it in its}
            if r.get("start", "sft") != "sft" or acc.get(t) is None or (t > 1 and acc.get(t - 1) is None):
                raise NotMeasured(f"{method}'s run of seed {seed} has no test accuracy for iteration {t}")
            before = start.get(seed) if t == 1 else acc[t - 1]
            if before is not None:
                out[seed] = acc[t] - before
        return out

    return measure


def constraint_pass_rate(round_stats: dict) -> float:
    """The share of a self-distillation round's samples that pass every constraint filter (every filter but the
    deduplication ones): the product of their pass rates (each among the samples that reached it)."""
    rate = 1.0
    for f in round_stats["filters"]:
        if f["filter"] in DEDUP_FILTERS:
            continue
        rate *= f["pass_rate"] if f.get("pass_rate") is not None else 0.0  # none reached it: none passed
    return rate


def pass_rate_gain(entry: str) -> Callable[[Runs], dict]:
    """A self-distillation entry's last round's constraint pass rate minus its first round's, seed by seed."""

    def measure(runs: Runs) -> dict[int, float]:
        out = {}
        for r in runs[entry]:
            rounds = r.get("rounds") or []
            if len(rounds) < 2:
                raise NotMeasured(
                    f"{entry} ran {len(rounds)} round(s); the gain needs 2 or more rounds: sftlab demo --full"
                )
            out[int(r.get("seed", 0))] = constraint_pass_rate(rounds[-1]) - constraint_pass_rate(rounds[0])
        return out

    return measure


def landscape_summary(metrics: dict | None) -> str:
    """The landscape's ARI figures: the ICL condition (most shots, same-label shots) vs SFT, max over layers."""
    if not metrics or not metrics.get("conditions"):
        return "see the landscape section"
    conds = metrics["conditions"]
    icl = [(c["shots"], name) for name, c in conds.items() if c.get("shots") and c.get("shot_source") != "random"]
    if not icl or "SFT" not in conds:
        return "see the landscape section"
    icl_name = max(icl)[1]
    parts = []
    for label in metrics.get("labels", {}):
        cells = []
        for short, name in (("ICL", icl_name), ("SFT", "SFT")):
            layers = [(lay["ari"][label], lay["layer"]) for lay in conds[name]["layers"] if label in lay.get("ari", {})]
            if layers:
                ari, layer = max(layers)
                cells.append(f"{short} {ari:.2f} (layer {layer})")
        if cells:
            parts.append(f"{label} ARI: " + " vs ".join(cells))
    return f"{icl_name} vs SFT, max over layers: " + "; ".join(parts) if parts else "see the landscape section"


def landscape_metrics(run_dir: Path) -> dict | None:
    """The landscape step's metrics.json in its run folder (None if it is not there)."""
    path = Path(run_dir) / "metrics.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


# ---------------------------------------------------------------- the claims (fixed before any result)

ID, OOD = "test_id", "test_ood"

CLAIMS: tuple[Claim, ...] = (
    Claim(
        "RL works on the lab",
        "baseline",
        "-",
        "Default lab: GRPO with the correctness reward on the lab model itself. Careless variant (RL's regime: the "
        "base model's samples finish the chain its greedy answer cuts short): GRPO from that variant's base model.",
        effects=(
            Effect(
                "direct-rl - base, in-domain",
                ("base", "direct-rl"),
                paired("direct-rl", "base", ID, baseline_once=True),
                why="No headroom for sharpening: the lab model's greedy answer beats its own majority vote (dev: greedy 38.5, maj@8 36.5 at T=1); GRPO fits the prompts it trains on (+4-5 points there) but not new problems, at every budget tried up to 7,680 samples (docs/dart.md). On the careless variant, whose samples hold the answers its greedy decoding misses, the rows below test RL in its regime.",
            ),
            Effect(
                "grpo-careless - base-careless, in-domain greedy",
                ("base-careless", "grpo-careless"),
                paired("grpo-careless", "base-careless", ID, baseline_once=True),
            ),
            Effect(
                "grpo-careless - base-careless, in-domain avg@4",
                ("base-careless", "grpo-careless"),
                paired("grpo-careless", "base-careless", ID, baseline_once=True, metric="avg"),
            ),
        ),
    ),
    Claim(
        "DFT generalizes better than SFT",
        "2508.05629",
        "Qwen2.5-Math-1.5B, mean of five math benchmarks: SFT 18.0, DFT 31.6",
        "Expert solutions the base model already finds likely (native-style solutions).",
        effects=(
            Effect(
                "dft-native - sft-native, out-of-domain",
                ("sft-native", "dft-native"),
                paired("dft-native", "sft-native", OOD),
                why="Regime check: target tokens' mean probability under the base model 0.92 (native) vs 0.81 (expert). Out-of-domain both stay at the base model's level (about 7%).",
            ),
            Effect(
                "dft-native - sft-native, in-domain",
                ("sft-native", "dft-native"),
                paired("dft-native", "sft-native", ID),
            ),
        ),
    ),
    Claim(
        "DART beats SFT on the same data and direct RL",
        "2605.26924",
        "DART above SFT on the same records and above RL on the target directly",
        "Default lab (foreign expert style).",
        effects=(
            Effect("dart - sft-subset, in-domain", ("sft-subset", "dart"), paired("dart", "sft-subset", ID)),
            Effect(
                "dart - direct-rl, in-domain",
                ("direct-rl", "dart"),
                paired("dart", "direct-rl", ID),
                why="At the demo's budget direct RL barely moves the model, so it keeps the base accuracy; DART's SFT on the adapted data costs a few points.",
            ),
        ),
    ),
    Claim(
        "IRFT improves on SFT with the same demonstrations, robust to low-quality ones",
        "2405.17888",
        "1B and 7B models on the Open LLM Leaderboard: RFT and IRFT above SFT on the same demonstrations",
        "SFT data with a share of wrong demonstrations.",
        effects=(
            Effect(
                "irft-noisy - sft-noisy, in-domain",
                ("sft-noisy", "irft-noisy"),
                paired("irft-noisy", "sft-noisy", ID),
                why="At this size IRFT takes 8 small steps from the SFT model and stays within noise of it.",
            ),
            Effect(
                "rft-noisy - sft-noisy, in-domain", ("sft-noisy", "rft-noisy"), paired("rft-noisy", "sft-noisy", ID)
            ),
        ),
    ),
    Claim(
        "SPIN improves over its SFT start iteration by iteration",
        "2401.01335",
        "zephyr-7b-sft-full, Open LLM Leaderboard average: 58.14 (SFT start) to 63.16 after iteration 3, up at each "
        "iteration",
        "Default lab: SPIN from the SFT model of the same seed.",
        effects=(
            Effect(
                "spin after its last iteration - its iteration 0 (sft), in-domain",
                ("sft", "spin"),
                irl_gain("spin"),
                why="2 iterations of 4 steps from the SFT model: SPIN stays within noise of its start.",
            ),
            *(
                Effect(f"spin iteration {t} - iteration {t - 1}, in-domain", ("sft", "spin"), iteration_gain("spin", t))
                for t in (1, 2)  # the lab recipe's iterations (configs/lab/spin.yaml)
            ),
        ),
    ),
    Claim(
        "NFT matches GRPO and beats training on positives alone",
        "2505.18116",
        "Qwen2.5-Math-7B and Qwen2.5-32B on math benchmarks: NFT matches or beats GRPO and DAPO, well above "
        "rejection-sampling fine-tuning (positives only)",
        "Default lab, the direct-RL budget, verified samples only; and the careless variant (RL's regime) at "
        "grpo-careless's budget.",
        effects=(
            Effect(
                "nft - rs-sft, in-domain",
                ("rs-sft", "nft"),
                paired("nft", "rs-sft", ID),
                why="8 steps on 32 prompts: both stay near the base model; the negative term has little to act on at this budget.",
            ),
            Effect(
                "nft - direct-rl, in-domain (matches: within ±3 points)",
                ("direct-rl", "nft"),
                paired("nft", "direct-rl", ID),
                margin=0.03,
            ),
            Effect(
                "nft-careless - rs-sft-careless, in-domain",
                ("rs-sft-careless", "nft-careless"),
                paired("nft-careless", "rs-sft-careless", ID),
            ),
            Effect(
                "nft-careless - grpo-careless, in-domain (matches: within ±3 points)",
                ("grpo-careless", "nft-careless"),
                paired("nft-careless", "grpo-careless", ID),
                margin=0.03,
                why="Both learn the habit the reward pays for; the scenario does not separate NFT from a copy with its negative term's sign flipped (+3.2 [-3.1, +9.4], benchmarks/lab_sensitivity.py), so the match says little about that term.",
            ),
        ),
    ),
    Claim(
        "S2L at a small budget matches the full set and beats random",
        "2403.07384",
        "MathInstruct: S2L on 11% of the data matches the full set; 4.7 points above the best other selection "
        "method, average of 6 math sets",
        "A redundant, imbalanced pool; the headline budget.",
        effects=(
            Effect(
                "s2l-pool - random-pool at the headline budget, in-domain",
                ("random-pool", "s2l-pool"),
                paired("s2l-pool", "random-pool", ID),
            ),
        ),
    ),
    Claim(
        "Self-distillation raises the share of samples that meet the constraints round over round",
        "2512.09329",
        "the share of generated samples passing the constraints rises over rounds",
        "Math (the verifier and arithmetic checks) and the protein pack (sequence constraints).",
        effects=(
            Effect("distill: last round's pass rate - first round's", ("distill",), pass_rate_gain("distill")),
            Effect(
                "distill-protein: last round's pass rate - first round's",
                ("distill-protein",),
                pass_rate_gain("distill-protein"),
            ),
        ),
    ),
    Claim(
        "ICL and SFT shape the representation landscape differently",
        "2409.03662",
        "ICL: clusters by subject in the first half of the layers; SFT: sharper clusters by answer in the second half",
        "Lab in-domain test prompts, base model 5-shot (same family) vs the SFT model 0-shot.",
        descriptive=landscape_summary,
        descriptive_entries=("sft", "landscape"),
    ),
)
