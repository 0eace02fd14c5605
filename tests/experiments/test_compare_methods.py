"""`sftlab compare` with the methods that run their own loop (IRFT/SPIN/RFT, NFT, direct RL, self-distillation),
end to end on a tiny model with test-sized settings; and the checks of what they need of the training set (one line,
exit 2, before anything loads)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import sftlab.methods.sft as sft_method
from sftlab.cli import main

# test-sized settings of every method ('*' applies where the method has the field)
TINY = [
    "*.max_steps=2",
    "*.per_device_train_batch_size=2",
    "*.gradient_accumulation_steps=1",
    "*.max_length=256",
    "*.lora=false",
    "*.gradient_checkpointing=false",
    "*.save_steps=1000",
    "*.use_vllm=false",
]


def compare(lab, out: Path, methods: str, *sets: str, data: str | None = None) -> list[str]:
    args = [
        "compare",
        "--model",
        str(lab.model_dir),
        "--data",
        data or str(lab.data["train"]),
        "--eval",
        f"in-domain={lab.data['test_id']}",
        "--methods",
        methods,
        "--seeds",
        "1",
        "--eval-limit",
        "4",
        "--max-new-tokens",
        "8",
        "--output-dir",
        str(out),
        "--workers",
        "1",  # the runs in this process, where the tests' monkeypatches reach them
    ]
    for s in [*TINY, *sets]:
        args += ["--set", s]
    return args


def _metrics(out: Path) -> dict:
    return json.loads((out / "metrics.json").read_text())


def _check_runs(out: Path, names: list[str]) -> dict:
    metrics = _metrics(out)
    assert list(metrics["methods"]) == names
    for name in names:
        [run] = metrics["methods"][name]["runs"]
        assert run["n"]["in-domain"] == 4 and 0 <= run["accuracy"]["in-domain"] <= 1
        assert run["cost"]["wall_seconds"] > 0 and run["cost"]["peak_memory_bytes"] > 0
        assert metrics["config"]["recipes"][name].endswith(
            f"configs/{metrics['config']['recipes'][name].split('/')[-1]}"
        )
        [settings] = (out / "runs" / name).glob("*/settings.json")
        assert json.loads(settings.read_text())["method"] == name
    return metrics


def test_irl_methods_start_from_the_sft_run_of_their_seed(lab, tmp_path, monkeypatch):
    out = tmp_path / "irl"
    sets = [
        "*.iterations=1",
        "*.max_prompts=4",
        "*.steps_per_iteration=1",
        "*.max_new_tokens=6",
        "rft.reward_steps=1",
        "rft.num_generations=2",
        "rft.heldout_fraction=0.5",
    ]
    trained = []
    real = sft_method.run_train
    monkeypatch.setattr(sft_method, "run_train", lambda cfg: trained.append(cfg.output_dir) or real(cfg))
    assert main(compare(lab, out, "irft,spin,rft", *sets)) == 0
    metrics = _check_runs(out, ["irft", "spin", "rft"])
    assert [Path(p).parents[2].name for p in trained] == ["sft"]  # one SFT run, the start of all three
    settings = metrics["config"]["settings"]
    assert settings["irft"]["method"] == "irft" and settings["irft"]["learning_rate"] == 5e-7  # configs/irft.yaml
    assert settings["sft"]["max_steps"] == 2  # the starting point's settings are in the report
    assert "from the SFT run of the same seed" in metrics["methods"]["irft"]["description"]
    assert metrics["methods"]["irft"]["runs"][0]["iterations"][0]["n_pairs"] > 0
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "IRL from demonstrations" in html
    # cached: a rerun trains nothing; a changed SFT setting is a new start, so IRFT runs again
    assert main(compare(lab, out, "irft,rft", *sets)) == 0 and len(trained) == 1
    irft_keys = {p.name for p in (out / "runs" / "irft").iterdir()}
    assert main(compare(lab, out, "irft,rft", *sets, "sft.learning_rate=1e-4")) == 0 and len(trained) == 2
    assert len({p.name for p in (out / "runs" / "irft").iterdir()} - irft_keys) == 1


def test_nft_and_direct_rl_learn_from_the_reference_answers(lab, tmp_path):
    out = tmp_path / "rl"
    sets = [
        "nft.max_prompts=4",
        "nft.num_generations=2",
        "nft.prompts_per_step=2",
        "nft.updates_per_generation=1",
        "nft.max_completion_length=6",
        "direct-rl.rl_steps=1",
        "direct-rl.group_size=2",
        "direct-rl.prompts_per_step=1",
        "direct-rl.max_completion_length=6",
        "direct-rl.max_examples=4",
    ]
    assert main(compare(lab, out, "nft,direct-rl", *sets)) == 0
    metrics = _check_runs(out, ["direct-rl", "nft"])  # the entry list's order
    assert metrics["config"]["settings"]["direct-rl"]["method"] == "direct_rl"
    assert metrics["config"]["settings"]["nft"]["learning_rate"] == 1e-6  # configs/nft.yaml
    assert metrics["methods"]["nft"]["runs"][0]["nft"]["step"] == [1, 2]


def test_distill_trains_on_its_own_checked_samples(lab, tmp_path):
    out = tmp_path / "distill"
    sets = [
        "distill.rounds=1",
        "distill.max_prompts=4",
        "distill.n=2",
        "distill.max_new_tokens=6",
        "distill.train_steps=1",
        "distill.filters=dedup",
    ]
    assert main(compare(lab, out, "distill", *sets)) == 0
    metrics = _check_runs(out, ["distill"])
    assert metrics["config"]["settings"]["distill"]["pack"] == "math"
    [run] = metrics["methods"]["distill"]["runs"]
    assert run["rounds"][0]["n_samples"] == 8


@pytest.mark.parametrize(
    "methods, message",
    [
        (
            "nft",
            "--methods nft: NFT rewards sampled answers by checking them against the training set's reference answers"
            "; no record of --data",
        ),
        ("distill", "--methods distill: self-distillation keeps the samples whose answer matches"),
        ("direct-rl", "--methods direct-rl: direct RL (GRPO with the correctness reward) checks sampled answers"),
    ],
)
def test_methods_that_need_reference_answers_say_so_before_anything_loads(
    lab, tmp_path, monkeypatch, capsys, methods, message
):
    monkeypatch.setattr("sftlab.models.load_model_and_tokenizer", lambda *a, **k: pytest.fail("loaded a model"))
    monkeypatch.setattr("sftlab.models.load_tokenizer", lambda *a, **k: pytest.fail("loaded a tokenizer"))
    chat = tmp_path / "chat.jsonl"
    chat.write_text(
        "".join(json.dumps({"prompt": f"Say hi {i}", "completion": "Hello there!"}) + "\n" for i in range(3))
    )
    assert main(compare(lab, tmp_path / "out", f"sft,{methods}", data=str(chat))) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "out").exists()


def test_direct_rl_needs_question_records(lab, tmp_path, capsys):
    data = tmp_path / "pc.jsonl"
    data.write_text(
        "".join(json.dumps({"prompt": f"{i} + 1 =", "completion": f" The answer is {i + 1}."}) + "\n" for i in range(3))
    )
    assert main(compare(lab, tmp_path / "out", "direct-rl", data=str(data))) == 2
    err = capsys.readouterr().err
    assert "takes question/solution/answer records; --data" in err and "holds prompt_completion records" in err, err


def test_landscape_reads_the_first_eval_set_with_the_sft_and_dft_runs(lab, tmp_path):
    """--label-field on the user's records: base (0-shot and with solved examples from --data) vs the SFT and DFT
    runs of seed 0, on the first eval set; its section is in the report and its settings key names those runs."""
    out = tmp_path / "landscape"
    args = compare(lab, out, "sft,dft,landscape", "landscape.shots=0,1", "landscape.max_examples=12")
    assert main([*args, "--label-field", "family"]) == 0
    metrics = _check_runs(out, ["sft", "dft"])
    assert metrics["config"]["settings"]["landscape"]["label_field"] == "family"
    [run_dir] = (out / "runs" / "landscape").glob("*/once")
    result = json.loads((run_dir / "metrics.json").read_text())
    assert list(result["conditions"]) == ["base 0-shot", "base 1-shot", "SFT", "DFT"] and "family" in result["labels"]
    assert "landscape" in (out / "report.html").read_text().lower()
