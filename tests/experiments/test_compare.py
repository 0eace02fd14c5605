"""`sftlab compare` end to end on a tiny model (through `sftlab.cli.main`): the report and its numbers, runs cached
by their settings (an interrupted comparison resumes and trains nothing twice), and the one-line errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import sftlab.methods.sft as sft_method
from sftlab.cli import main

SMALL = [
    "*.max_steps=3",
    "*.per_device_train_batch_size=4",
    "*.gradient_accumulation_steps=1",
    "*.logging_steps=1",
    "*.max_length=256",
    "*.save_steps=2",
]


def argv(lab, out: Path, *extra: str, methods: str = "base,sft,dft") -> list[str]:
    args = [
        "compare",
        "--model",
        str(lab.model_dir),
        "--data",
        str(lab.data["train"]),
        "--eval",
        f"in-domain={lab.data['test_id']}",
        "--eval",
        f"ood={lab.data['test_ood']}",
        "--methods",
        methods,
        "--seeds",
        "2",
        "--eval-limit",
        "6",
        "--max-new-tokens",
        "12",
        "--output-dir",
        str(out),
        "--workers",
        "1",  # the runs in this process, where the tests' monkeypatches reach them
        *extra,
    ]
    for s in SMALL:
        args += ["--set", s]
    return args


@pytest.fixture
def count_training(monkeypatch):
    """Every call of the real ``run_train`` is recorded as (method folder, seed); ``fail_after`` calls in, the next
    one is interrupted (KeyboardInterrupt, as a Ctrl-C would) before it trains."""
    real = sft_method.run_train
    calls: list[tuple[str, int]] = []
    resumed: list[bool] = []
    state = {"fail_after": None, "resumed": resumed}

    def counted(cfg):
        if state["fail_after"] is not None and len(calls) >= state["fail_after"]:
            raise KeyboardInterrupt
        calls.append((Path(cfg.output_dir).parents[2].name, cfg.seed))
        resumed.append(cfg.resume)
        return real(cfg)

    monkeypatch.setattr(sft_method, "run_train", counted)
    return calls, state


@pytest.fixture(scope="module")
def uninterrupted(lab, tmp_path_factory):
    out = tmp_path_factory.mktemp("compare-full")
    assert main(argv(lab, out, "--workers", "2")) == 0  # the seeds in 2 worker processes; resumed below with 1
    return out


def _accuracies(metrics: dict) -> dict:
    return {
        name: [(r["seed"], r["accuracy"], r["n"], r.get("curve")) for r in m["runs"]]
        for name, m in metrics["methods"].items()
    }


def test_compare_writes_the_report_and_its_numbers_are_the_runs(lab, uninterrupted):
    out = uninterrupted
    for name in ("report.html", "metrics.json", "summary.md", "plots/accuracy.png", "plots/training_curves.png"):
        assert (out / name).is_file(), name
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["splits"] == ["in-domain", "ood"] and metrics["seeds"] == [0, 1]
    assert list(metrics["methods"]) == ["base", "sft", "dft"]
    assert metrics["config"]["recipes"]["dft"].endswith("configs/dft.yaml")
    dft = metrics["config"]["settings"]["dft"]
    assert dft["objective"] == "dft" and dft["max_steps"] == 3 and dft["learning_rate"] == 5e-5  # recipe + --set
    for name, m in metrics["methods"].items():
        assert len(m["runs"]) == (1 if name == "base" else 2)
        for run in m["runs"]:
            seed_dir = "once" if name == "base" else f"seed{run['seed']}"
            [eval_file] = (out / "runs" / name).glob(f"*/{seed_dir}/eval/*/metrics.json")
            evaluated = json.loads(eval_file.read_text())["splits"]
            lines = [json.loads(x) for x in (eval_file.parent / "generations.jsonl").read_text().splitlines()]
            for split in ("in-domain", "ood"):
                assert run["accuracy"][split] == evaluated[split]["accuracy"]
                assert run["n"][split] == evaluated[split]["n"] == min(6, len(lab_split(lab, split)))
                correct = sum(x["correct"] for x in lines if x["split"] == split)
                assert evaluated[split]["accuracy"] == correct / run["n"][split]
            cost = run["cost"]
            assert cost["wall_seconds"] > 0 and cost["peak_memory_bytes"] > 0 and cost["peak_memory_kind"] == "max_rss"
            assert (cost["tokens_trained"] or 0) > 0 if name != "base" else cost["tokens_trained"] is None
        values = [r["accuracy"]["in-domain"] for r in m["runs"]]
        summary = m["summary"]["in-domain"]
        assert summary["mean"] == pytest.approx(sum(values) / len(values))
        assert summary["n_seeds"] == len(values) and (summary["ci95"] is None) == (len(values) == 1)
        if name != "base":
            assert m["runs"][0]["curve"]["nll"]
    html = (out / "report.html").read_text(encoding="utf-8")
    summary_md = (out / "summary.md").read_text(encoding="utf-8")
    assert "tokens trained" in html and "peak memory" in html and "95% CI" in html
    assert (
        "| method | in-domain (n=6) | ood (n=4) | seeds | train time | wall time | tokens trained | peak memory |"
        in summary_md
        and "95% Student-t interval" in summary_md
    )


def lab_split(lab, split):
    path = lab.data["test_id" if split == "in-domain" else "test_ood"]
    return Path(path).read_text().splitlines()


def test_an_interrupted_compare_resumes_without_training_anything_twice(lab, uninterrupted, tmp_path, count_training):
    calls, state = count_training
    out = tmp_path / "compare"
    state["fail_after"] = 1  # sft seed 0 trains, then the run is interrupted before sft seed 1
    assert main(argv(lab, out)) == 130
    assert calls == [("sft", 0)] and not (out / "metrics.json").exists()
    state["fail_after"] = None
    assert main(argv(lab, out)) == 0
    assert calls == [("sft", 0), ("sft", 1), ("dft", 0), ("dft", 1)]  # each run trained exactly once
    expected = json.loads((uninterrupted / "metrics.json").read_text())
    got = json.loads((out / "metrics.json").read_text())
    assert _accuracies(got) == _accuracies(expected)
    assert {n: m["summary"] for n, m in got["methods"].items()} == {
        n: m["summary"] for n, m in expected["methods"].items()
    }

    # finished: a rerun trains nothing; a changed setting is a new run of that method only
    assert main(argv(lab, out)) == 0 and len(calls) == 4
    assert main(argv(lab, out, "--set", "dft.learning_rate=1e-3")) == 0
    assert calls[4:] == [("dft", 0), ("dft", 1)]
    assert len(list((out / "runs" / "dft").iterdir())) == 2 and len(list((out / "runs" / "sft").iterdir())) == 1
    settings = json.loads((out / "metrics.json").read_text())["config"]["settings"]["dft"]
    assert settings["learning_rate"] == 1e-3
    assert not any(state["resumed"])


def test_a_training_run_cut_short_continues_from_its_last_checkpoint(lab, tmp_path, count_training, monkeypatch):
    calls, state = count_training
    out = tmp_path / "compare"
    real_save = sft_method.save_final

    def cut(*args, **kwargs):  # all 3 steps ran (checkpoints 2 and 3 saved), then the process died
        raise KeyboardInterrupt

    monkeypatch.setattr(sft_method, "save_final", cut)
    args = [*argv(lab, out, methods="sft"), "--seeds", "1"]
    assert main(args) == 130
    [model_dir] = (out / "runs" / "sft").glob("*/seed0/model")
    assert sorted(p.name for p in model_dir.glob("checkpoint-*")) == ["checkpoint-2", "checkpoint-3"]
    shutil.rmtree(model_dir / "checkpoint-3")  # as if cut after step 2's checkpoint
    monkeypatch.setattr(sft_method, "save_final", real_save)
    assert main(args) == 0
    assert calls == [("sft", 0), ("sft", 0)] and state["resumed"] == [False, True]
    assert json.loads((model_dir / "train_summary.json").read_text())["global_step"] == 3
    assert not list(model_dir.glob("checkpoint-*"))  # a finished run keeps its final model only


@pytest.mark.parametrize(
    "extra, methods, message",
    [
        (["--set", "dft.nope=1"], "base,sft,dft", "--set dft.nope: unknown setting for dft"),
        (["--set", "spin.beta=0.1"], "base,sft,dft", "--set spin.beta=0.1: method 'spin' is not among --methods"),
        (["--set", "dft.learning_rate"], "base,sft,dft", "expected METHOD.FIELD=VALUE"),
        (["--set", "dft.model=x"], "base,sft,dft", "'model' is set by --model"),
        (["--set", "dft.learning_rate=fast"], "base,sft,dft", "expected a number"),
        ([], "base,sft,nope", "'nope' is not a method"),
        (
            [],
            "base,s2l",
            "--methods s2l: S2L needs a small proxy model whose loss trajectories on --data it "
            "clusters; pass --proxy-model PATH",
        ),
        (
            [],
            "random-subset",
            "--methods random-subset: random-subset is S2L's baseline (S2L's budget, drawn at "
            "random) and runs with S2L's proxy model; pass --proxy-model PATH",
        ),
        (
            ["--proxy-model", "p"],
            "base,sft",
            "--proxy-model: only s2l and random-subset use a proxy model, and "
            "--methods names neither (add it to --methods, or drop --proxy-model)",
        ),
        (["--mapper-model", "m"], "base,sft", "--mapper-model: only dart uses a mapper model"),
        (["--mapper-model", "./nowhere"], "dart", "--mapper-model ./nowhere: model folder not found"),
        (
            ["--proxy-model", "p", "--set", "random-subset.budget=0.5"],
            "s2l,random-subset",
            "--set random-subset.budget=0.5: random-subset draws S2L's budget at random and takes s2l's settings; "
            "--set s2l.budget=... sets both",
        ),
        (
            ["--proxy-model", "p", "--set", "s2l.budget=1.5"],
            "random-subset",
            "s2l (select_s2l.yaml + --set): budget 1.5: a fraction must be in (0, 1] (--data",
        ),
        (
            ["--proxy-model", "p", "--set", "s2l.budget=25"],
            "s2l",
            "budget 25: a count must be between 1 and the data set size (24)",
        ),
        (
            ["--set", "dart.train_learning_rate=1e-4"],
            "dart",
            "--set dart.train_learning_rate: unknown setting for dart (a field of AdaptConfig; see sftlab adapt "
            "--help); its fine-tuning is the SFT recipe's: --set sft.FIELD",
        ),
        (["--set", "dart.mapper=m"], "dart", "'mapper' is set by --mapper-model"),
        ([], "landscape", "give --label-field FIELD[,FIELD]"),
        (["--label-field", "family,topic"], "landscape", "has no 'topic' field (the landscape reads the first eval"),
    ],
)
def test_bad_flags_are_one_line_and_exit_2_before_anything_loads(
    lab, tmp_path, monkeypatch, capsys, extra, methods, message
):
    monkeypatch.setattr("sftlab.models.load_model_and_tokenizer", lambda *a, **k: pytest.fail("loaded a model"))
    monkeypatch.setattr(sft_method, "run_train", lambda cfg: pytest.fail("trained"))
    assert main(argv(lab, tmp_path / "out", *extra, methods=methods)) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "out").exists()


def test_an_eval_set_without_reference_answers_cannot_be_scored(lab, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sft_method, "run_train", lambda cfg: pytest.fail("trained"))
    chat = tmp_path / "chat.jsonl"
    chat.write_text(
        "".join(json.dumps({"prompt": f"Say hi {i}", "completion": "Hello there!"}) + "\n" for i in range(3))
    )
    args = argv(lab, tmp_path / "out") + ["--eval", f"chat={chat}"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        f"sftlab compare: error: --eval chat={chat}: no record has a reference answer (an 'answer' field, "
        "or a stated final answer in the completion), so it cannot be scored"
    )
    assert main([*argv(lab, tmp_path / "out")[: -len(SMALL) * 2], "--eval", "nameless"]) == 2
    assert "expected NAME=PATH" in capsys.readouterr().err


THIRD_PARTY = ("Building labels", "Loading weights", "Writing model shards")


@pytest.mark.parametrize("verbose", [False, True])
def test_the_console_shows_the_runs_and_silences_third_party_output_unless_verbose(lab, tmp_path, capfd, verbose):
    out = tmp_path / "compare"
    args = [*argv(lab, out, methods="base,sft"), "--seeds", "1"] + (["--verbose"] if verbose else [])
    assert main(args) == 0
    captured = capfd.readouterr()
    text = captured.out + captured.err
    assert "run 2 of 2: SFT seed 0" in text and "2/2 runs done" in text and "elapsed" in text
    assert "SFT seed 0: step 3/3" in text  # the trainer's steps reach the view
    assert "accuracy (%), mean ± std over seeds" in text and f"report at {out / 'report.html'}" in text
    if verbose:
        assert any(line in text for line in THIRD_PARTY), text
        assert not (out / "console.log").exists()
    else:
        assert not any(line in text for line in THIRD_PARTY), text
        assert "(reasoning): 24 records" not in text  # the method's own lines went to the log
        log = (out / "console.log").read_text()
        assert "== SFT seed 0" in log and "(reasoning): 24 records" in log
        assert f"what the runs printed is in {out / 'console.log'}" in text
