"""The one loader: its dtype/device policy per purpose (CPU, one GPU, several processes, --no-bf16), real loads of
a tiny saved model, one-line errors, and a scan that no other module loads a model or a tokenizer itself."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import torch

from sftlab import models
from sftlab.errors import SftlabError
from sftlab.models import Placement, load_causal_lm, load_model_and_tokenizer, load_tokenizer, placement
from tiny import char_tokenizer


def test_missing_tokenizer_is_one_error_naming_the_path(tmp_path):
    missing = tmp_path / "no-model"
    missing.mkdir()
    with pytest.raises(SftlabError) as e:
        load_tokenizer(str(missing))
    assert str(missing) in str(e.value) and "cannot load the tokenizer" in str(e.value)
    assert "\n" not in str(e.value)


def test_a_tokenizer_without_pad_pads_with_eos(tmp_path):
    tok = char_tokenizer()
    assert tok.pad_token is None
    tok.save_pretrained(tmp_path)
    loaded = load_tokenizer(str(tmp_path))
    assert loaded.pad_token == loaded.eos_token == "</s>"


# -- the dtype and device policy ----------------------------------------------------------------------------------


@pytest.fixture
def cpu_only(monkeypatch):
    """A machine without CUDA, accelerate placing this process on the CPU."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    monkeypatch.setattr(models, "process_device", lambda: "cpu")


def fake_gpu(monkeypatch, device: str = "cuda", bf16: bool = True):
    """A machine with a GPU (``bf16``: whether it supports bf16), accelerate placing this process on ``device``."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: bf16)
    monkeypatch.setattr(models, "process_device", lambda: device)


@pytest.mark.parametrize("purpose", ["train", "infer", "score"])
@pytest.mark.parametrize("bf16", [None, True, False])
def test_cpu_is_float32_on_cpu_for_every_purpose(cpu_only, purpose, bf16):
    """On CPU bf16 matmuls are slow, and --bf16 training there means autocast: the weights stay float32."""
    assert placement(purpose, bf16=bf16) == Placement(device="cpu", bf16=False)


def test_one_gpu_infers_and_scores_in_bf16_on_the_gpu_and_trains_from_the_cpu(monkeypatch):
    fake_gpu(monkeypatch)
    assert placement("infer") == placement("score") == Placement(device="cuda", bf16=True)
    # the trainer (accelerate) moves the model; bf16 weights when bf16 training is on (default: on where supported)
    assert placement("train") == placement("train", bf16=True) == Placement(device="cpu", bf16=True)


def test_no_bf16_is_respected_on_a_gpu(monkeypatch):
    fake_gpu(monkeypatch)
    for purpose in ("train", "infer", "score"):
        assert placement(purpose, bf16=False).bf16 is False, purpose
    assert placement("infer", bf16=False).device == "cuda"


def test_a_gpu_without_bf16_gets_float32(monkeypatch):
    fake_gpu(monkeypatch, bf16=False)
    assert placement("infer") == Placement(device="cuda", bf16=False)
    assert placement("train") == Placement(device="cpu", bf16=False)
    assert placement("infer", bf16=True).bf16 is False  # asked for, not supported: the policy stays float32


def test_several_processes_infer_on_their_own_gpu(monkeypatch):
    fake_gpu(monkeypatch, device="cuda:1")
    assert placement("infer") == placement("score") == Placement(device="cuda:1", bf16=True)
    assert placement("train").device == "cpu"


def test_process_device_is_accelerates_device_for_this_process(monkeypatch):
    import accelerate

    class Rank1:
        device = torch.device("cuda", 1)

    monkeypatch.setattr(accelerate, "PartialState", Rank1)
    assert models.process_device() == "cuda:1"


def test_unknown_purpose_is_refused():
    with pytest.raises(ValueError, match="unknown purpose"):
        placement("serve")


# -- a real load ----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    from tiny import make_model, make_tokenizer

    path = tmp_path_factory.mktemp("tiny-model")
    tok = make_tokenizer()
    make_model(len(tok)).train().save_pretrained(path)
    tok.save_pretrained(path)
    return path


def test_infer_load_is_eval_mode_float32_on_cpu(cpu_only, tiny_dir):
    model, tok = load_model_and_tokenizer(str(tiny_dir), "infer")
    assert not model.training and not any(m.training for m in model.modules())
    assert {p.dtype for p in model.parameters()} == {torch.float32}
    assert {p.device.type for p in model.parameters()} == {"cpu"}
    assert tok.pad_token == "<pad>"


def test_train_load_is_float32_on_cpu_even_with_bf16(cpu_only, tiny_dir):
    model = load_causal_lm(str(tiny_dir), "train", bf16=True)  # --bf16 on CPU: autocast, float32 weights
    assert {(p.dtype, p.device.type) for p in model.parameters()} == {(torch.float32, "cpu")}


def test_the_load_follows_the_policy_dtype(monkeypatch, tiny_dir):
    """A bf16 GPU placement loads bf16 weights and --no-bf16 float32 ones (the device is the CPU: no GPU here)."""
    fake_gpu(monkeypatch, device="cpu")
    assert {p.dtype for p in load_causal_lm(str(tiny_dir), "score").parameters()} == {torch.bfloat16}
    assert {p.dtype for p in load_causal_lm(str(tiny_dir), "infer", bf16=False).parameters()} == {torch.float32}
    assert {p.dtype for p in load_causal_lm(str(tiny_dir), "train").parameters()} == {torch.bfloat16}


def test_a_reward_model_is_a_one_output_classifier_on_the_backbone(cpu_only, tiny_dir):
    rm = models.load_reward_model(str(tiny_dir))
    assert rm.config.num_labels == 1 and rm.score.out_features == 1
    assert {p.dtype for p in rm.parameters()} == {torch.float32}


def test_a_missing_model_is_one_error_naming_the_path(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(SftlabError, match="cannot load the model") as e:
        load_causal_lm(str(tmp_path / "empty"), "infer")
    assert str(tmp_path / "empty") in str(e.value) and "\n" not in str(e.value)


# -- one loader: nothing else loads a model or a tokenizer --------------------------------------------------------


def _loaded_class(node: ast.expr, aliases: dict[str, str]) -> str | None:
    """The class name a ``X.from_pretrained`` call loads (``transformers.AutoModel`` -> ``AutoModel``), or None."""
    if isinstance(node, ast.Name):
        return aliases.get(node.id, node.id)
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def direct_loads(package: Path) -> list[str]:
    """``file:line: Class.from_pretrained`` for every model, tokenizer or adapter that a module of ``package`` other
    than its ``models.py`` loads by ``from_pretrained`` (configurations excepted: building from one is no load)."""
    found = []
    for path in sorted(package.rglob("*.py")):
        if path == package / "models.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        aliases = {
            a.asname: a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names if a.asname
        }
        for node in ast.walk(tree):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "from_pretrained"
            ):
                continue
            cls = _loaded_class(node.func.value, aliases) or "?"
            if not cls.endswith("Config"):
                found.append(f"{path.relative_to(package.parent)}:{node.lineno}: {cls}.from_pretrained")
    return sorted(found)


def test_models_py_is_the_only_loader():
    """Every model and tokenizer load goes through sftlab.models (one dtype/device policy); the lab's pretraining
    builds its model from a config, which is not a load."""
    offenders = direct_loads(Path(models.__file__).parent)
    assert not offenders, "load through sftlab.models (load_causal_lm, load_tokenizer, ...), not:\n" + "\n".join(
        offenders
    )


def test_the_scan_sees_a_load(tmp_path):
    """The scan is not vacuous: it finds direct and aliased loads outside models.py, naming file and line."""
    package = tmp_path / "sftlab"
    (package / "methods").mkdir(parents=True)
    (package / "models.py").write_text("from transformers import AutoTokenizer\nAutoTokenizer.from_pretrained('x')\n")
    (package / "methods" / "probe.py").write_text(
        "import transformers\nfrom transformers import AutoTokenizer as T\nfrom transformers import LlamaConfig\n\n\n"
        "def f(p):\n    config = LlamaConfig.from_pretrained(p)\n"
        "    return transformers.AutoModelForCausalLM.from_pretrained(p, config=config), T.from_pretrained(p)\n"
    )
    assert direct_loads(package) == [
        "sftlab/methods/probe.py:8: AutoModelForCausalLM.from_pretrained",
        "sftlab/methods/probe.py:8: AutoTokenizer.from_pretrained",
    ]
