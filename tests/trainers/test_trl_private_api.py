"""The TRL internals sftlab relies on still exist, with the parameters sftlab uses (the guard for ``trl>=1.16,<1.17``).

sftlab's trainers are thin subclasses of TRL's: they override private hooks (``GRPOTrainer._compute_loss``, ...),
read private state (``_metrics``, ``_total_train_tokens``, ...) and import helpers TRL does not export as API. A TRL
release may rename any of them without notice. Before raising the pin in pyproject.toml, run this file: each failure
names what moved and which sftlab code depends on it. A new private use in sftlab's trainers must be listed in
``USES`` (:func:`test_every_private_use_in_the_trainers_is_listed` finds unlisted ones).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
import trl

SRC = Path(__file__).resolve().parents[2] / "src"


@dataclass(frozen=True)
class Use:
    """sftlab's ``user`` (a dotted path) ``how``s ``owner.name`` ("overrides", "calls", "reads" or "imports").

    ``params``: the parameter names sftlab relies on (for an override: the parent's exact parameter list, which
    TRL passes positionally; for a call: the names sftlab passes).
    """

    owner: str
    name: str
    how: str
    user: str
    params: tuple[str, ...] | None = None

    def __str__(self):
        return f"{self.owner.split('.')[-1]}.{self.name}"


NFT, IRFT, SFT = (
    "sftlab.trainers.nft.NFTTrainer",
    "sftlab.trainers.irft.IRFTTrainer",
    "sftlab.trainers.sft.SFTLabTrainer",
)
GRPO, DPO, SFTT, HF = "trl.GRPOTrainer", "trl.DPOTrainer", "trl.SFTTrainer", "transformers.Trainer"
NFT_EXTRAS = ("pixel_values", "image_grid_thw", "num_images", "pixel_attention_mask", "spatial_shapes", "num_tiles",
              "image_sizes", "token_type_ids", "mm_token_type_ids", "image_position_ids")  # fmt: skip

USES = [
    # NFTTrainer (GRPOTrainer): rewards kept per function, NFT's batch fields, NFT's loss
    Use(GRPO, "_calculate_rewards", "overrides", NFT, ("inputs", "prompts", "completions", "completion_ids_list")),
    Use(GRPO, "_generate_and_score_completions", "overrides", NFT, ("inputs",)),
    Use(GRPO, "_compute_loss", "overrides", NFT, ("model", "inputs")),
    Use(
        GRPO,
        "_get_per_token_logps_and_entropies",
        "calls",
        NFT,
        ("model", "input_ids", "attention_mask", "logits_to_keep", "compute_entropy", *NFT_EXTRAS),
    ),
    Use(GRPO, "_metrics", "reads", NFT),
    Use(GRPO, "num_generations", "reads", NFT),
    Use(GRPO, "num_generations_eval", "reads", NFT),
    Use(GRPO, "reward_weights", "reads", NFT),
    # IRFTTrainer (DPOTrainer): the IRL link as the loss, sftlab's tokenized pairs, TRL's reference pass
    Use(DPO, "_compute_loss", "overrides", IRFT, ("model", "inputs", "return_outputs")),
    Use(DPO, "_prepare_dataset", "overrides", IRFT, ("dataset", "processing_class", "args", "dataset_name")),
    Use(DPO, "compute_ref_log_probs", "calls", IRFT, ("model", "inputs")),
    Use(DPO, "precompute_ref_logps", "reads", IRFT),
    Use(DPO, "ref_model", "reads", IRFT),
    Use(DPO, "_metrics", "reads", IRFT),
    Use(DPO, "_total_train_tokens", "reads", IRFT),
    Use(DPO, "_tp_size", "reads", IRFT),
    Use(HF, "_prepare_inputs", "calls", IRFT, ("inputs",)),
    # SFTLabTrainer (SFTTrainer): the objective as the loss, TRL's token metrics
    Use(SFTT, "compute_loss", "overrides", SFT, ("model", "inputs", "return_outputs", "num_items_in_batch")),
    Use(SFTT, "_metrics", "reads", SFT),
    Use(SFTT, "_total_train_tokens", "reads", SFT),
    Use(SFTT, "_tp_size", "reads", SFT),
    Use(HF, "get_tp_size", "calls", SFT, ()),
    # helpers imported from TRL modules
    Use("trl.trainer.utils", "add_fused_lm_head", "imports", "sftlab.generation.scoring", ("model", "outputs")),
    Use("trl.kernels.chunked_divergence", "ChunkedDivergenceFunction", "imports", "sftlab.objectives.chunked"),
    Use("trl.models.utils", "prepare_deepspeed", "imports", "sftlab.trainers.sft", ("model", "accelerator")),
    Use("trl.models.utils", "prepare_fsdp", "imports", "sftlab.trainers.sft", ("model", "accelerator")),
    Use("trl.trainer.reward_trainer", "suppress_seqcls_warning", "imports", "sftlab.models", ()),
    Use("trl.trainer.utils", "get_config_model_id", "reads", "sftlab.methods.irl.rft"),  # see the _name_or_path test
]


def resolve(dotted: str):
    """``a.b.C`` -> the object (the longest importable module prefix, then attributes)."""
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for p in parts[i:]:
            obj = getattr(obj, p)
        return obj
    raise ImportError(dotted)


def where(use: Use) -> str:
    """``src/sftlab/...py:LINE`` where the user defines (an override) or first names the TRL attribute."""
    user = resolve(use.user)
    path = Path(inspect.getsourcefile(user))
    lines = path.read_text(encoding="utf-8").splitlines()
    start = inspect.getsourcelines(user)[1] if inspect.isclass(user) else 1
    for pattern in (rf"def {re.escape(use.name)}\(", rf"\.{re.escape(use.name)}\b", rf"\b{re.escape(use.name)}\b"):
        for n, line in enumerate(lines[start - 1 :], start):
            if re.search(pattern, line) and not line.lstrip().startswith("#"):
                return f"{path.relative_to(SRC.parent)}:{n}"
    return str(path.relative_to(SRC.parent))


def problem(use: Use, what: str) -> str:
    verb = {"overrides": "overrides it", "calls": "calls it", "reads": "reads it", "imports": "imports it"}[use.how]
    return f"TRL {trl.__version__}: {use} {what}; {use.user} {verb} (see {where(use)})"


def set_in_init(cls, name: str) -> bool:
    """Whether an ``__init__`` in ``cls``'s TRL/transformers ancestry assigns ``self.<name>``."""
    pattern = re.compile(rf"\bself\.{re.escape(name)}\s*(:[^=\n]*)?=[^=]")
    for klass in cls.__mro__:
        if klass.__module__.split(".")[0] in ("trl", "transformers") and "__init__" in vars(klass):
            if pattern.search(inspect.getsource(klass.__init__)):
                return True
    return False


def parameter_names(fn) -> list[str]:
    return [p for p in inspect.signature(fn).parameters if p != "self"]


@pytest.mark.parametrize("use", USES, ids=str)
def test_trl_still_has_it(use: Use):
    owner = resolve(use.owner)
    if use.how == "reads" and isinstance(owner, type):  # state set by the trainer's __init__, or a class attribute
        assert hasattr(owner, use.name) or set_in_init(owner, use.name), problem(use, "is no longer set")
        return
    assert hasattr(owner, use.name), problem(use, "is gone")
    target = getattr(owner, use.name)
    if use.params is None:
        return
    names = parameter_names(target)
    if use.how == "overrides":
        override = getattr(resolve(use.user), use.name)
        assert names == list(use.params), problem(use, f"now takes ({', '.join(names)}), not ({', '.join(use.params)})")
        assert parameter_names(override) == names, f"{use.user}.{use.name} does not take the parent's parameters"
    else:
        missing = [p for p in use.params if p not in names]
        assert not missing, problem(use, f"no longer takes {', '.join(missing)} (it takes {', '.join(names)})")


def test_the_divergence_kernel_takes_what_chunked_kl_passes():
    """objectives.chunked calls ``ChunkedDivergenceFunction.apply(h, W, b, h_ref, W_ref, b_ref, beta)``."""
    from trl.kernels.chunked_divergence import ChunkedDivergenceFunction

    names = parameter_names(ChunkedDivergenceFunction.forward)[1:]  # after ctx
    expected = ["student_hidden", "student_weight", "student_bias", "teacher_hidden", "teacher_weight",
                "teacher_bias", "beta"]  # fmt: skip
    assert names[:7] == expected, (
        f"TRL {trl.__version__}: ChunkedDivergenceFunction.forward now takes "
        f"({', '.join(names)}); sftlab.objectives.chunked.chunked_kl passes {expected}"
    )


def test_the_fused_head_output_has_the_fields_sftlab_reads():
    """SFTLabTrainer reads log_probs, label_mask, is_top1, entropy; IRFT and the scoring service log_probs."""
    from trl.trainer.utils import FusedCausalLMOutput

    fields = set(FusedCausalLMOutput.__dataclass_fields__)
    missing = {"log_probs", "label_mask", "is_top1", "entropy"} - fields
    assert not missing, (
        f"TRL {trl.__version__}: FusedCausalLMOutput lost {sorted(missing)}; sftlab.trainers.sft reads them"
    )


@pytest.mark.parametrize("trainer, outputs", [("SFTTrainer", ("entropy", "is_top1")), ("DPOTrainer", ())])
def test_the_trainers_still_install_the_fused_head(trainer, outputs):
    """SFTLabTrainer and IRFTTrainer call ``model(..., fused_lm_head=True)``: TRL's __init__ must patch the model."""
    source = inspect.getsource(getattr(trl, trainer).__init__)
    assert "add_fused_lm_head(" in source, (
        f"TRL {trl.__version__}: {trainer}.__init__ no longer adds the fused LM "
        f"head; sftlab's {'SFTLabTrainer' if trainer == 'SFTTrainer' else 'IRFTTrainer'}"
        " calls model(..., fused_lm_head=True)"
    )
    for field in outputs:
        assert f'"{field}"' in source, f"TRL {trl.__version__}: {trainer}'s fused head no longer computes {field}"


def test_grpo_output_still_has_the_fields_nft_reads():
    source = inspect.getsource(trl.GRPOTrainer._generate_and_score_completions)
    for key in ("prompt_ids", "prompt_mask", "completion_ids", "completion_mask", "old_per_token_logps", "tool_mask"):
        assert f'"{key}"' in source, (
            f"TRL {trl.__version__}: GRPOTrainer._generate_and_score_completions no longer "
            f"returns {key!r}; sftlab.trainers.nft.NFTTrainer reads it"
        )


def test_grpo_still_builds_its_reference_from_config_name_or_path():
    """methods/irl/rft.py rewrites ``policy.config._name_or_path`` so GRPOTrainer's KL reference is the run's start."""
    from transformers import LlamaConfig
    from trl.trainer.utils import get_config_model_id

    config = LlamaConfig()
    config._name_or_path = "/runs/start"
    what = "sftlab.methods.irl.rft.policy_step rewrites model.config._name_or_path to set the KL reference"
    assert get_config_model_id(config) == "/runs/start", (
        f"TRL {trl.__version__}: get_config_model_id no longer reads config._name_or_path; {what}"
    )
    init = inspect.getsource(trl.GRPOTrainer.__init__)
    assert "create_model_from_path(get_config_model_id(self.model.config)" in init, (
        f"TRL {trl.__version__}: GRPOTrainer no longer builds its reference model from the policy's config id; {what}"
    )


def _trainer_classes():
    return [(resolve(u), resolve(p)) for u, p in ((NFT, GRPO), (IRFT, DPO), (SFT, SFTT))]


@pytest.mark.parametrize("cls, parent", _trainer_classes(), ids=lambda c: c.__name__)
def test_every_private_use_in_the_trainers_is_listed(cls, parent):
    """Each TRL/transformers name starting with ``_`` that a trainer overrides, calls or reads is in USES."""
    tree = ast.parse(inspect.getsource(inspect.getmodule(cls)))
    node = next(n for n in ast.walk(tree) if isinstance(n, ast.ClassDef) and n.name == cls.__name__)
    own = {n.name for n in node.body if isinstance(n, ast.FunctionDef)}
    touched = own | {
        n.attr
        for n in ast.walk(node)
        if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == "self"
    }
    inherited = {
        name
        for name in touched
        if name.startswith("_") and not name.startswith("__") and (hasattr(parent, name) or set_in_init(parent, name))
    }
    listed = {u.name for u in USES if u.user == f"{cls.__module__}.{cls.__name__}"}
    assert inherited <= listed, f"{cls.__name__} uses TRL's {sorted(inherited - listed)}: add them to USES"


@pytest.mark.parametrize("cls, parent", _trainer_classes(), ids=lambda c: c.__name__)
def test_sftlab_helpers_do_not_shadow_trl(cls, parent):
    """A private helper sftlab adds must not silently replace a TRL method of the same name (a new TRL hook)."""
    overridden = {u.name for u in USES if u.how == "overrides"} | {"__init__"}
    clashes = sorted(n for n, v in vars(cls).items() if callable(v) and n not in overridden and hasattr(parent, n))
    assert not clashes, (
        f"TRL {trl.__version__}: {parent.__name__} now has {clashes}, which "
        f"{cls.__module__}.{cls.__name__} defines for itself: rename them or list them as overrides"
    )


def test_the_pin_points_here():
    lines = (SRC.parent / "pyproject.toml").read_text(encoding="utf-8").splitlines()
    i = next(i for i, x in enumerate(lines) if '"trl>=' in x)
    assert "test_trl_private_api" in lines[i - 1] + lines[i], "pyproject.toml: the trl pin should point to this test"
