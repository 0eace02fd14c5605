"""The claim scenarios: their data transforms (native: same questions; noisy: exactly the share wrong, and wrong;
pool: the stated imbalance), their entries (registered, opt-in, one group and section each, the configs they
build), the verdict criterion and a protein entry that skips with one line where parasail is missing."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from sftlab.experiments import registry, scenarios
from sftlab.experiments.entries import distill, irl, nft, regimes
from sftlab.lab import LabConfig, generate_splits, parse_expert_steps
from sftlab.verify import verify

GROUPS = {
    "claim-dft": (["sft-native", "dft-native"], regimes.dft_section),
    "claim-irft": (["sft-noisy", "irft-noisy", "rft-noisy"], regimes.irft_section),
    "claim-nft": (["rs-sft"], regimes.nft_section),
    "claim-s2l": (["full-pool", "s2l-pool", "random-pool"], regimes.s2l_section),
    "claim-protein": (["distill-protein"], regimes.protein_section),
}


@pytest.fixture(scope="module")
def train():
    """Real lab train records (expert style, five families in turn), 200 of them."""
    return generate_splits(LabConfig(pretrain_size=10, train_size=200, test_id_size=10, test_ood_size=12))["train"]


def test_each_entry_is_registered_opt_in_in_its_group():
    for group, (names, section) in GROUPS.items():
        assert [e.name for e in registry.ENTRIES if e.group == group] == names
        for name in names:
            e = registry.BY_NAME[name]
            assert (e.default, e.section, e.paper_recipe) == (False, section, None), name


def test_native_data_has_the_same_questions_in_the_native_style(train):
    native = scenarios.native_records(train)
    assert [(r["id"], r["question"], r["answer"]) for r in native] == [
        (r["id"], r["question"], r["answer"]) for r in train
    ]
    for old, new in zip(train, native):
        assert new["style"] == "native" and new["solution"].endswith(f"#### {old['answer']}")
        equations = [f"{a}{'+-*/'[['add', 'sub', 'mul', 'div'].index(op)]}{b}={c}" for a, op, b, c in
                     parse_expert_steps(old["solution"])]  # fmt: skip
        assert new["solution"] == "; ".join([*equations, f"#### {old['answer']}"])
        assert verify(new["solution"], old["answer"])


def test_noisy_data_has_exactly_the_share_of_wrong_answers_and_they_are_wrong(train):
    noisy = scenarios.noisy_records(train)
    assert noisy == scenarios.noisy_records(train)  # seeded
    wrong = [(old, new) for old, new in zip(train, noisy) if new["quality"] == "wrong"]
    assert len(wrong) == round(0.3 * len(train)) == 60
    for old, new in zip(train, noisy):
        if new["quality"] == "clean":
            assert {k: v for k, v in new.items() if k != "quality"} == old
    for old, new in wrong:
        assert new["question"] == old["question"] and new["true_answer"] == old["answer"] != new["answer"]
        assert 1 <= abs(int(new["answer"]) - int(old["answer"])) <= 3 and int(new["answer"]) >= 1
        assert verify(new["solution"], new["answer"]) and not verify(new["solution"], old["answer"])
        steps, right = parse_expert_steps(new["solution"], check=False), parse_expert_steps(old["solution"])
        assert steps[:-1] == right[:-1] and steps[-1][:3] == right[-1][:3]  # only the last result changed
        assert steps[-1][3] == int(new["answer"]) != right[-1][3]  # consistently with the new answer
        with pytest.raises(Exception, match="wrong step"):
            parse_expert_steps(new["solution"])


def test_pool_has_the_stated_imbalance(train):
    pool = scenarios.imbalanced_pool(train)
    assert pool == scenarios.imbalanced_pool(train) and len(pool) == len(train)
    shares = Counter(r["family"] for r in pool)
    assert (shares["shopping"], shares["travel"]) == (120, 40)  # 60% and 20% of 200
    assert sorted(shares[f] for f in ("savings", "sharing", "ages")) == [13, 13, 14]
    by_question = Counter(r["question"] for r in pool)
    originals = {r["question"]: r for r in train}
    for q, n in by_question.items():
        assert n == {"shopping": 10, "travel": 4}.get(originals[q]["family"], 1)
    for r in pool:  # every rendering: the original question, answer and arithmetic
        orig = originals[r["question"]]
        assert r["answer"] == orig["answer"]
        assert parse_expert_steps(r["solution"]) == parse_expert_steps(orig["solution"])
    assert len({r["id"] for r in pool}) == len(pool)


def test_scenario_data_is_built_once_under_the_demo_folder(demo_ctx, lab):
    ctx = demo_ctx(quick=True)
    for name in ("native", "noisy", "pool"):
        path = scenarios.scenario_data(ctx, name)
        assert path == str(ctx.run_dir("scenario-data", None) / f"{name}.jsonl")
        assert not path.startswith(str(lab.root))
        rows = [json.loads(line) for line in open(path)]
        assert rows == scenarios.BUILDERS[name]([json.loads(line) for line in open(ctx.train_data)])
    noisy = [json.loads(line) for line in open(scenarios.scenario_data(ctx, "noisy"))]
    assert sum(r["quality"] == "wrong" for r in noisy) == round(0.3 * 24)


def test_entry_configs(demo_ctx):
    ctx = demo_ctx(quick=True)
    e = registry.BY_NAME
    noisy = scenarios.scenario_data(ctx, "noisy")
    for name, method in (("irft-noisy", "irft"), ("rft-noisy", "rft")):
        cfg, plain = irl.irl_config(ctx, e[name], 1, "start"), irl.irl_config(ctx, e[method], 1, "start")
        assert (cfg.method, cfg.data, cfg.output_dir) == (method, noisy, str(ctx.run_dir(name, 1) / "irl"))
        assert {k: v for k, v in vars(cfg).items() if k not in ("data", "output_dir")} == {
            k: v for k, v in vars(plain).items() if k not in ("data", "output_dir")
        }
    rs, ref = nft.nft_config(ctx, e["rs-sft"], 0), nft.nft_config(ctx, e["nft"], 0)
    assert (rs.negative_weight, rs.prompt_weighting, ref.negative_weight) == (0.0, "none", 1.0)
    differ = {k for k in vars(rs) if getattr(rs, k) != getattr(ref, k)}
    assert differ == {"negative_weight", "prompt_weighting", "output_dir"}  # NFT's budget, negative term off


def test_irl_start_is_the_noisy_sft_run(demo_ctx, monkeypatch):
    ctx = demo_ctx(quick=True)
    calls = []
    monkeypatch.setattr(ctx, "train", lambda name, seed, **kw: calls.append((name, seed, kw)) or {"output_dir": "m"})
    assert irl.start_model(ctx, 2, registry.BY_NAME["irft-noisy"]) == "m"
    assert irl.start_model(ctx, 2, registry.BY_NAME["irft"]) == "m"
    noisy = scenarios.scenario_data(ctx, "noisy")
    assert calls == [
        ("sft-noisy", 2, {"objective": "nll", "data": noisy}),
        ("sft", 2, {"objective": "nll", "data": None}),
    ]


def test_sections_name_the_claims_and_leave_verdicts_to_the_scoreboard(demo_ctx):
    ctx = demo_ctx(quick=True)
    assert regimes.nft_section(ctx, [registry.BY_NAME["rs-sft"]]) is None  # nothing of the group ran
    ctx.results["rs-sft"] = {"runs": [{"seed": 0, "accuracy": {"test_id": 0.3, "test_ood": 0.1}}]}
    sec = regimes.nft_section(ctx, [registry.BY_NAME["rs-sft"]])
    text = " ".join(sec.paragraphs)
    assert "Verdicts: the claims scoreboard" in text and "shown" not in text


def test_protein_entry_skips_with_one_line_without_parasail(demo_ctx, monkeypatch, capsys):
    from sftlab.experiments.runner import run_entries

    monkeypatch.setattr(distill, "protein_unavailable", lambda: "no parasail")
    ctx = demo_ctx(quick=True)
    entry = registry.BY_NAME["distill-protein"]
    methods, sections, _ = run_entries(ctx, [entry], [0, 1])
    assert methods == {}  # no accuracy to tabulate
    assert ctx.results["distill-protein"]["runs"][0]["skipped"] == "no parasail"
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert len(lines) == 1 and "no parasail" in lines[0]
    (sec,) = sections
    assert "skipped: no parasail" in " ".join(sec.paragraphs)
