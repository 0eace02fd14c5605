"""`sftlab compare` with the methods that run their own loop (IRFT/SPIN/RFT, NFT, direct RL, self-distillation) and
those that fine-tune on data of their own (S2L and random-subset on a tiny proxy's selection, DART on its adapted set),
end to end on a tiny model with test-sized settings; and the checks of what they need of the inputs (one line, exit 2,
before anything loads)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import sftlab.experiments.entries.dart as dart_entry
import sftlab.methods.s2l.trajectories as trajectories
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


@pytest.fixture(scope="module")
def proxy_dir(tmp_path_factory, tiny_tokenizer):
    """A tiny proxy: a smaller random Llama than the target, with the same tokenizer."""
    from tiny import make_model

    d = tmp_path_factory.mktemp("proxy")
    make_model(len(tiny_tokenizer), seed=1, hidden=16).save_pretrained(d)
    tiny_tokenizer.save_pretrained(d)
    return d


S2L = [
    "s2l.budget=0.25",  # 6 of the 24 training records
    "s2l.n_checkpoints=2",
    "s2l.n_clusters=3",
    "s2l.proxy_max_steps=2",
    "s2l.proxy_batch_size=4",
    "s2l.proxy_micro_batch_size=4",
    "s2l.eval_batch_size=8",
]


def test_s2l_and_random_subset_share_one_proxy_and_train_the_target_on_the_budget(
    lab, tmp_path, monkeypatch, proxy_dir
):
    out = tmp_path / "s2l"
    trained, scored = [], []
    real_train, real_losses = sft_method.run_train, trajectories.example_losses
    monkeypatch.setattr(sft_method, "run_train", lambda cfg: trained.append(cfg) or real_train(cfg))
    monkeypatch.setattr(trajectories, "example_losses", lambda *a, **k: scored.append(1) or real_losses(*a, **k))
    args = [*compare(lab, out, "s2l,random-subset", *S2L), "--seeds", "2", "--proxy-model", str(proxy_dir)]
    args += ["--eval", f"ood={lab.data['test_ood']}"]
    assert main(args) == 0

    metrics = _metrics(out)
    assert list(metrics["methods"]) == ["s2l", "random-subset"]
    for name, m in metrics["methods"].items():
        assert m["label"] == ("S2L 25%" if name == "s2l" else "random 25%")
        assert [r["seed"] for r in m["runs"]] == [0, 1]
        for run in m["runs"]:
            assert run["n"] == {"in-domain": 4, "ood": 4} and set(run["accuracy"]) == {"in-domain", "ood"}
            assert run["by_budget"]["25"]["n_selected"] == 6
    # the proxy: trained once (2 steps, 2 checkpoints), its losses recorded once per checkpoint, for every seed and both
    proxy_runs = [c for c in trained if Path(c.output_dir).name == "proxy"]
    assert len(proxy_runs) == 1 and proxy_runs[0].model == str(proxy_dir) and len(scored) == 2
    [work] = (out / "runs" / "s2l-proxy").glob("*/once")
    assert np.load(work / "trajectories" / "trajectories.npy").shape == (24, 2)
    assert not (work / "proxy").exists()  # its checkpoints are deleted once their losses are recorded
    # the target: fine-tuned per method and seed on the selected records, with the SFT recipe (max_steps 2 x 25%)
    targets = [c for c in trained if c not in proxy_runs]
    assert [(Path(c.data).parents[3].name, c.seed, c.model, c.max_steps) for c in targets] == [
        (name, seed, str(lab.model_dir), 1) for name in ("s2l", "random-subset") for seed in (0, 1)
    ]
    subsets = {}
    for name in ("s2l", "random-subset"):
        for seed in (0, 1):
            [manifest] = (out / "runs" / name).glob(f"*/seed{seed}/selection/manifest.json")
            selection = json.loads(manifest.read_text())
            assert selection["n_selected"] == 6 and selection["method"] == ("s2l" if name == "s2l" else "random")
            subsets[name, seed] = selection["indices"]
    assert subsets["s2l", 0] != subsets["random-subset", 0] and subsets["s2l", 0] != subsets["s2l", 1]
    settings = metrics["config"]["settings"]
    assert settings["random-subset"] == {"budget": 0.25, "source_split": "balanced", "method": "random"}
    assert settings["s2l"]["n_clusters"] == 3 and settings["sft"]["learning_rate"] == 5e-5  # the SFT recipe's
    assert "S2L data selection vs random" in (out / "report.html").read_text(encoding="utf-8")

    # resumed: nothing trained or scored again; another budget selects again from the same trajectories
    assert main(args) == 0 and len(trained) == 5 and len(scored) == 2
    assert main([*args, "--set", "s2l.budget=0.5"]) == 0 and len(scored) == 2
    assert [(Path(c.output_dir).parents[2].name, len(Path(c.data).read_text().splitlines())) for c in trained[5:]] == [
        (name, 12) for name in ("s2l", "random-subset") for _ in (0, 1)
    ]


def test_dart_adapts_the_data_once_and_each_seed_fine_tunes_on_it(lab, tmp_path, monkeypatch):
    out = tmp_path / "dart"
    adapted, trained = [], []
    real_adapt, real_train = dart_entry.run_adapt, sft_method.run_train
    monkeypatch.setattr(dart_entry, "run_adapt", lambda cfg: adapted.append(cfg) or real_adapt(cfg))
    monkeypatch.setattr(sft_method, "run_train", lambda cfg: trained.append(cfg) or real_train(cfg))
    sets = [
        "dart.max_examples=4",
        "dart.rl_steps=1",
        "dart.group_size=2",
        "dart.prompts_per_step=1",
        "dart.n_samples=2",
        "dart.max_completion_length=8",
    ]
    args = [*compare(lab, out, "dart", *sets), "--seeds", "2"]
    assert main(args) == 0

    [cfg] = adapted  # once for both seeds: --data adapted to --model, by a copy of --model (no --mapper-model)
    assert (cfg.model, cfg.mapper, cfg.data) == (str(lab.model_dir), str(lab.model_dir), str(lab.data["train"]))
    assert cfg.rl_steps == 1 and cfg.kl_beta == 0.04  # --set over configs/dart.yaml
    data = str(Path(cfg.output_dir) / "adapted.jsonl")
    assert [(c.data, c.seed, c.learning_rate, c.max_steps) for c in trained] == [(data, 0, 5e-5, 2), (data, 1, 5e-5, 2)]
    metrics = _metrics(out)
    runs = metrics["methods"]["dart"]["runs"]
    assert [r["seed"] for r in runs] == [0, 1] and all(r["n"]["in-domain"] == 4 for r in runs)
    assert runs[0]["adapt"]["manifest"]["n"] == 4 and runs[0]["adapt"]["rl"]["steps"] == 1
    assert runs[1]["adapt"] == runs[0]["adapt"]
    assert metrics["config"]["fingerprints"]["mapper"] == metrics["config"]["fingerprints"]["model"]
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "DART: adapted data" in html and "native style" not in html  # the lab's style check is the demo's

    # resumed: the adaptation is read back, nothing is trained; a changed SFT setting trains again, on the same set
    assert main(args) == 0 and len(adapted) == 1 and len(trained) == 2
    assert main([*args, "--set", "sft.learning_rate=1e-4"]) == 0 and len(adapted) == 1
    assert [(c.data, c.learning_rate) for c in trained[2:]] == [(data, 1e-4), (data, 1e-4)]


def test_dart_needs_reference_answers_in_its_question_records(lab, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("sftlab.models.load_model_and_tokenizer", lambda *a, **k: pytest.fail("loaded a model"))
    data = tmp_path / "unanswered.jsonl"
    data.write_text("".join(json.dumps({"question": f"{i} + 1?", "solution": "Add one."}) + "\n" for i in range(3)))
    assert main(compare(lab, tmp_path / "out", "sft,dart", data=str(data))) == 2
    err = capsys.readouterr().err
    assert (
        "--methods dart: DART's gate keeps a rewrite only if its answer matches the training set's reference answer; "
        f"no record of --data {data} has one"
    ) in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "out").exists()
