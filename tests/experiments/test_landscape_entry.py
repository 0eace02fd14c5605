"""The demo's landscape step on a stand-in lab (tiny saved models, a small reasoning file)."""

from __future__ import annotations

from types import SimpleNamespace

from sftlab.experiments.entries.landscape import demo_config, demo_entry
from sftlab.report import Section


def test_demo_config_sizes():
    lab = SimpleNamespace(model_dir="/lab/model", data={"test_id": "/lab/test_id.jsonl", "train": "/lab/train.jsonl"})
    full = demo_config(lab, {"SFT": "/ck/sft", "DFT": "/ck/dft"}, "/out")
    quick = demo_config(lab, {"SFT": "/ck/sft"}, "/out", quick=True)
    assert full.compare == "SFT=/ck/sft,DFT=/ck/dft" and full.model == "base=/lab/model"
    assert full.data == "/lab/test_id.jsonl" and full.shot_pool == "/lab/train.jsonl"
    assert full.label_field == "family,answer" and (full.z, full.k) == (1.6, 16)
    assert quick.max_examples < full.max_examples and len(quick.shot_list()) < len(full.shot_list())


def test_demo_entry_returns_a_report_section(models, data_file, tmp_path):
    lab = SimpleNamespace(model_dir=models["base"], data={"test_id": data_file, "train": data_file})
    ctx = {"lab": lab, "checkpoints": {"SFT": models["ft"]}, "output_dir": tmp_path, "quick": True, "progress": False}
    out = demo_entry(ctx)
    assert isinstance(out["section"], Section) and out["section"].images
    assert list(out["metrics"]["conditions"]) == ["base 0-shot", "base 5-shot", "SFT"]
    assert (tmp_path / "landscape" / "metrics.json").is_file()


def test_demo_entry_with_the_demo_registry_context(models, data_file, tmp_path):
    """With the registry's DemoContext, the SFT/DFT checkpoints are found in the entries' run folders."""
    import shutil

    class Ctx:  # the parts of sftlab.experiments.runner.DemoContext the entry uses
        lab = SimpleNamespace(model_dir=models["base"], data={"test_id": data_file, "train": data_file})
        quick, progress = True, False

        def run_dir(self, name, seed):
            return tmp_path / "runs" / name / ("once" if seed is None else f"seed{seed}")

    ctx = Ctx()
    shutil.copytree(models["ft"], ctx.run_dir("sft", 0) / "model")  # DFT did not run: left out
    out = demo_entry(ctx)
    assert list(out["metrics"]["conditions"]) == ["base 0-shot", "base 5-shot", "SFT"]
    assert (tmp_path / "runs" / "landscape" / "once" / "metrics.json").is_file()
