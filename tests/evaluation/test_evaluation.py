"""Evaluation metrics against hand-computed values, the files written, and `sftlab eval`'s runner."""

import json

import pytest

import sftlab.evaluation.scoring as ev
from sftlab.errors import SftlabError
from sftlab.evaluation import evaluate, pass_at_k
from sftlab.generation import SamplingConfig
from sftlab.io import read_jsonl
from sftlab.methods.eval import EvalConfig, run_eval
from sftlab.verify import verify

# ---------------------------------------------------------------- pass@k


def test_pass_at_k_hand_values():
    # 1 - C(n-c, k) / C(n, k)
    assert pass_at_k(4, 1, 2) == pytest.approx(1 - 3 / 6)
    assert pass_at_k(5, 2, 2) == pytest.approx(1 - 3 / 10)
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)  # pass@1 = c / n
    assert pass_at_k(8, 0, 8) == 0.0
    assert pass_at_k(8, 1, 8) == 1.0  # n == k: any sample correct
    assert pass_at_k(3, 2, 2) == 1.0  # fewer wrong samples than k
    with pytest.raises(ValueError):
        pass_at_k(2, 3, 1)


# ---------------------------------------------------------------- evaluate with a scripted "model"

ITEMS = {
    "test": [
        {"prompt": "P0", "answer": "4", "_row": 1, "family": "add"},
        {"prompt": "P1", "answer": "0.5", "_row": 2, "family": "div"},
        {"prompt": "P2", "answer": None, "_row": 3},  # no reference: skipped
        {"prompt": "P3", "answer": "7", "_row": 4},
    ],
    "ood": [
        {"prompt": "Q0", "answer": "10", "_row": 1},
        {"prompt": "Q1", "answer": "1,000", "_row": 2},
    ],
}
GREEDY = {
    "P0": "2 + 2 = 4\n#### 4",  # right
    "P1": "The answer is 1/2.",  # right in math mode, wrong in exact mode
    "P3": "I do not know",  # no answer at all
    "Q0": "#### 11",  # wrong
    "Q1": "The answer is $1000$.",  # right (thousands separator)
}
SAMPLES = {  # k = 4
    "P0": ["#### 4", "#### 5", "nothing", r"\boxed{4}"],  # 2 of 4
    "P1": ["#### 0.4", "#### 2", "#### 1", "none"],  # 0 of 4
    "P3": ["#### 7", "#### 7", "#### 7", "#### 7"],  # 4 of 4
    "Q0": ["#### 10", "#### 9", "#### 9", "#### 9"],  # 1 of 4
    "Q1": ["#### 1", "#### 2", "#### 3", "#### 4"],  # 0 of 4
}


@pytest.fixture
def scripted(monkeypatch):
    """Replace generation by scripted completions; record the configs it was called with."""
    calls = []

    def fake_generate(model, tokenizer, prompts, config, *, progress=True):
        calls.append((list(prompts), config))
        table = GREEDY if config.temperature == 0 else SAMPLES
        return [[GREEDY[p]] * config.n if config.temperature == 0 else table[p][: config.n] for p in prompts]

    monkeypatch.setattr(ev, "generate", fake_generate)
    return calls


def test_greedy_accuracy_by_hand(scripted):
    m = evaluate(None, None, ITEMS, progress=False)
    test, ood = m["splits"]["test"], m["splits"]["ood"]
    assert test == {"accuracy": 2 / 3, "n": 3, "n_correct": 2, "n_skipped": 1, "n_no_answer": 1, "n_truncated": 0}
    assert ood == {"accuracy": 1 / 2, "n": 2, "n_correct": 1, "n_skipped": 0, "n_no_answer": 0, "n_truncated": 0}
    assert m["k"] == 1 and len(scripted) == 1  # no sampling pass when k == 1
    prompts, config = scripted[0]
    assert prompts == ["P0", "P1", "P3", "Q0", "Q1"] and config.temperature == 0 and config.n == 1


def test_exact_mode(scripted):
    m = evaluate(None, None, ITEMS, mode="exact", progress=False)
    assert m["splits"]["test"]["accuracy"] == pytest.approx(1 / 3)  # "1/2" is not "0.5" as strings
    assert m["splits"]["ood"]["accuracy"] == pytest.approx(1 / 2)  # "1000" == "1,000" after normalization


def test_avg_and_pass_at_k_by_hand(scripted):
    sampling = SamplingConfig(temperature=0.0, top_p=0.9, max_new_tokens=32, seed=3)
    m = evaluate(None, None, ITEMS, sampling=sampling, k=4, progress=False)
    test, ood = m["splits"]["test"], m["splits"]["ood"]
    # test: per-prompt correct samples 2, 0, 4 of 4
    assert test["avg@4"] == pytest.approx((2 / 4 + 0 / 4 + 4 / 4) / 3)
    assert test["pass@4"] == pytest.approx((1 + 0 + 1) / 3)
    # ood: 1 and 0 of 4
    assert ood["avg@4"] == pytest.approx((1 / 4 + 0) / 2)
    assert ood["pass@4"] == pytest.approx(1 / 2)
    assert test["accuracy"] == pytest.approx(2 / 3)  # greedy accuracy unchanged
    greedy_cfg, sample_cfg = scripted[0][1], scripted[1][1]
    assert greedy_cfg.temperature == 0 and greedy_cfg.n == 1
    assert sample_cfg.temperature == 1.0 and sample_cfg.n == 4  # temperature 0 -> 1.0 for the samples
    assert (sample_cfg.top_p, sample_cfg.max_new_tokens, sample_cfg.seed) == (0.9, 32, 3)
    assert m["sampling"]["n"] == 4 and m["sampling"]["temperature"] == 1.0


def test_files_written(scripted, tmp_path):
    out = tmp_path / "eval"
    m = evaluate(None, None, ITEMS, k=4, output_dir=str(out), progress=False, extra={"model": "scripted"})
    assert json.loads((out / "metrics.json").read_text()) == json.loads(json.dumps(m))
    assert m["model"] == "scripted"
    rows = read_jsonl(out / "generations.jsonl")
    assert len(rows) == 5 * (1 + 4)  # scored items x (greedy + k samples)
    first = rows[0]
    assert first == {
        "split": "test",
        "index": 0,
        "_row": 1,
        "family": "add",
        "kind": "greedy",
        "sample": 0,
        "prompt": "P0",
        "completion": GREEDY["P0"],
        "extracted": "4",
        "reference": "4",
        "correct": True,
    }
    p3 = [r for r in rows if r["prompt"] == "P3"]
    assert [r["kind"] for r in p3] == ["greedy"] + ["sample"] * 4
    assert [r["sample"] for r in p3[1:]] == [0, 1, 2, 3]
    assert p3[0]["extracted"] is None and p3[0]["correct"] is False
    assert all(r["correct"] for r in p3[1:])
    assert not any(r["prompt"] == "P2" for r in rows)  # skipped items are not generated
    assert not list(out.glob(".*tmp"))  # no temporary files left behind


def test_empty_split_and_bad_arguments(scripted):
    m = evaluate(None, None, {"empty": [{"prompt": "x", "answer": None}]}, k=2, progress=False)
    assert m["splits"]["empty"] == {
        "accuracy": None,
        "n": 0,
        "n_correct": 0,
        "n_skipped": 1,
        "n_no_answer": 0,
        "n_truncated": 0,
        "avg@2": None,
        "pass@2": None,
    }
    with pytest.raises(SftlabError):
        evaluate(None, None, ITEMS, k=0, progress=False)
    with pytest.raises(SftlabError):
        evaluate(None, None, ITEMS, mode="fuzzy", progress=False)


# ---------------------------------------------------------------- a real tiny model


def test_evaluate_tiny_model_end_to_end(model, tokenizer, tmp_path):
    items = {"test": [{"prompt": f"Question: {a}+{a}?\nSolution:", "answer": str(2 * a)} for a in range(5)]}
    sampling = SamplingConfig(max_new_tokens=8, batch_size=2)
    m = evaluate(model, tokenizer, items, sampling=sampling, k=3, output_dir=str(tmp_path), progress=False)
    rows = read_jsonl(tmp_path / "generations.jsonl")
    assert len(rows) == 5 * 4
    for r in rows:  # every logged verdict is the verifier's verdict on the logged completion
        assert r["correct"] == verify(r["completion"], r["reference"])
    greedy = [r for r in rows if r["kind"] == "greedy"]
    assert m["splits"]["test"]["n_correct"] == sum(r["correct"] for r in greedy)
    assert m["splits"]["test"]["n"] == 5


def test_evaluate_cuts_long_prompts_from_the_left(model, tokenizer):
    """The tiny model's context is 256 tokens (tests/tiny.py): a 400-character prompt (one token per character)
    plus 8 new tokens would overrun it, so it is cut from the left and counted; the short one is not."""
    long_prompt = "x" * 400 + "\nQuestion: 1+1?\nSolution:"
    items = {"test": [{"prompt": long_prompt, "answer": "2"}, {"prompt": "Question: 1+1?\nSolution:", "answer": "2"}]}
    m = evaluate(model, tokenizer, items, sampling=SamplingConfig(max_new_tokens=8), progress=False)
    assert m["context"] == 256
    assert m["splits"]["test"]["n_truncated"] == 1
    with pytest.raises(SftlabError, match="leaves no room"):
        evaluate(model, tokenizer, items, sampling=SamplingConfig(max_new_tokens=256), progress=False)


def test_recorded_sampling_is_the_one_used(scripted):
    m = evaluate(None, None, ITEMS, sampling=SamplingConfig(temperature=1.0), k=1, progress=False)
    assert m["sampling"]["temperature"] == 0.0 and m["sampling"]["n"] == 1  # a greedy run records greedy settings


def test_table_shows_no_answer_counts(scripted):
    from sftlab.evaluation import format_table

    table = format_table(evaluate(None, None, ITEMS, progress=False))
    header, test_line = table.splitlines()[:2]
    assert "no answer" in header
    assert test_line.split()[:4] == ["test", "3", "1", "1"]  # n, skipped, no answer (P3 states none)


# ---------------------------------------------------------------- run_eval (`sftlab eval`)


def test_run_eval_new_tokens_over_context_before_data(saved_model, tmp_path):
    """The model's context (256) is read from its config before the data: a missing data file is not reached."""
    with pytest.raises(
        SftlabError, match=r"--max-new-tokens.*257 exceeds the context of .*max_position_embeddings 256"
    ):
        run_eval(EvalConfig(model=saved_model, data=str(tmp_path / "missing.jsonl"), output_dir=str(tmp_path / "o")))


def _write_data(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def test_run_eval_groups_by_split_and_limits(saved_model, tmp_path, capsys):
    rows = [
        {"question": f"{a}+1?", "solution": f"{a}+1={a + 1}\n#### {a + 1}", "split": s}
        for s in ("id", "ood")
        for a in range(3)
    ]
    rows.append({"question": "no split field", "solution": "#### 1"})
    data = _write_data(tmp_path / "data.jsonl", rows)
    out = tmp_path / "out"
    cfg = EvalConfig(model=saved_model, data=data, output_dir=str(out), k=2, max_new_tokens=6, batch_size=4, limit=2)
    m = run_eval(cfg)
    assert set(m["splits"]) == {"id", "ood", "eval"}
    assert m["splits"]["id"]["n"] == 2 and m["splits"]["ood"]["n"] == 2 and m["splits"]["eval"]["n"] == 1
    assert m["model"] == saved_model and m["data"] == {"eval": data}
    assert json.loads((out / "metrics.json").read_text())["splits"] == json.loads(json.dumps(m["splits"]))
    gens = read_jsonl(out / "generations.jsonl")
    assert len(gens) == 5 * 3
    assert gens[0]["prompt"] == "Question: 0+1?\nSolution:" and gens[0]["reference"] == "1"
    table = capsys.readouterr().out
    assert "pass@2" in table and "ood" in table


def test_run_eval_bad_inputs_write_nothing(saved_model, tmp_path):
    out = tmp_path / "out"
    bad = _write_data(tmp_path / "bad.jsonl", [{"question": "q", "solution": "#### 1"}, {"question": "q"}])
    with pytest.raises(SftlabError, match=r"bad.jsonl:2: field 'solution'"):
        run_eval(EvalConfig(model=saved_model, data=bad, output_dir=str(out), max_new_tokens=32))
    good = _write_data(tmp_path / "good.jsonl", [{"question": "q", "solution": "#### 1"}])
    with pytest.raises(SftlabError, match="missing-model: model folder not found"):
        run_eval(EvalConfig(model=str(tmp_path / "missing-model"), data=good, output_dir=str(out)))
    (tmp_path / "not-a-model").mkdir()
    with pytest.raises(SftlabError, match="not-a-model: cannot load the model"):
        run_eval(EvalConfig(model=str(tmp_path / "not-a-model"), data=good, output_dir=str(out)))
    with pytest.raises(SftlabError, match="--k"):
        run_eval(EvalConfig(model=saved_model, data=good, output_dir=str(out), k=0))
    assert not out.exists()


def test_run_eval_without_model_or_data_uses_the_lab(saved_model, tmp_path, monkeypatch):
    import sftlab.lab

    monkeypatch.delattr(sftlab.lab, "default_eval_setup", raising=False)
    with pytest.raises(SftlabError, match="embedded lab is not available"):
        run_eval(EvalConfig(output_dir=str(tmp_path / "none")))

    lab_test = _write_data(tmp_path / "lab_test.jsonl", [{"question": "1+1?", "solution": "#### 2"}])
    lab_ood = _write_data(tmp_path / "lab_ood.jsonl", [{"question": "2+2?", "solution": "#### 4"}] * 2)
    monkeypatch.setattr(
        sftlab.lab, "default_eval_setup", lambda: (saved_model, {"test": lab_test, "ood": lab_ood}), raising=False
    )
    m = run_eval(EvalConfig(output_dir=str(tmp_path / "lab"), max_new_tokens=4))
    assert m["model"] == saved_model
    assert {s: v["n"] for s, v in m["splits"].items()} == {"test": 1, "ood": 2}
