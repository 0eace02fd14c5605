"""The lab's mapper initialization: a copy of the lab base model taught to restate solutions.

The lab's tiny base model has never seen a rewriting prompt, so RL alone would
have no rewrite to shape. This fine-tunes a copy of it briefly on pairs
``mapper prompt(question, expert solution) -> solution`` built with the lab's
task generator (:mod:`sftlab.lab.tasks`), where the target solution is the same
problem's native-style solution with probability ``native_share`` and another
expert-style wording otherwise. The initial mapper thus restates correctly but
mixes styles; GRPO with DART's reward is what moves it toward the target's
own (native) style.

The pairs come from fresh problems of the base families, drawn with their own
seed, and any question that appears in a lab split is redrawn, so the mapper
never sees the SFT or test problems. The result is cached beside the lab build
(``<lab cache>/<lab key>-dart-mapper-<key>/``), built once; for the lab build that ships with sftlab, the
default settings' mapper ships too (:mod:`sftlab.lab.shipped`) and is copied instead of trained.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from sftlab.data.templates import completion_text
from sftlab.io import atomic_dir, atomic_write_jsonl
from sftlab.methods.lab_defaults import ensure_lab, restatement_triples, shipped_artifact

from .prompt import DEFAULT_MAPPER_TEMPLATE, mapper_prompt


@dataclass
class LabMapperSettings:
    """How the lab mapper is initialized (sized for a few minutes on 2 CPU cores, once per lab)."""

    pairs: int = 3000
    native_share: float = 0.5
    steps: int = 300
    learning_rate: float = 1e-3
    batch_size: int = 16
    seed: int = 0

    def key(self, template: str) -> str:
        blob = json.dumps({**asdict(self), "template": template}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:12]


def mapper_pairs(lab, n: int, native_share: float, template: str, seed: int) -> list[dict]:
    """``n`` prompt/completion records (mapper prompt with an expert solution -> native or expert solution)."""
    rows = []
    for t in restatement_triples(lab, n, native_share, seed):
        prompt = mapper_prompt(t["question"], t["source"], template)
        rows.append({"prompt": prompt, "completion": completion_text(prompt, t["target"]), "answer": t["answer"]})
    return rows


def ensure_lab_mapper(
    lab=None,
    *,
    mapper_template: str = DEFAULT_MAPPER_TEMPLATE,
    settings: LabMapperSettings | None = None,
    progress: bool = True,
) -> Path:
    """Path of the lab's initial mapper, trained and cached on first use."""
    from sftlab.methods.sft import TrainConfig, run_train

    lab = lab or ensure_lab()
    s = settings or LabMapperSettings()
    root = lab.root.parent / f"{lab.root.name}-dart-mapper-{s.key(mapper_template)}"
    if (root / "train_summary.json").is_file():
        return root
    if shipped_artifact(lab, root.name.removeprefix(f"{lab.root.name}-"), root):  # the shipped lab's own mapper
        return root
    with atomic_dir(root) as tmp:
        rows = mapper_pairs(lab, s.pairs, s.native_share, mapper_template, s.seed)
        atomic_write_jsonl(Path(tmp) / "pairs.jsonl", rows)
        print(f"sftlab adapt: initializing the lab mapper ({s.steps} steps on {len(rows)} restatement pairs)")
        run_train(TrainConfig(
            model=str(lab.model_dir), data=str(Path(tmp) / "pairs.jsonl"), output_dir=str(tmp), max_steps=s.steps,
            learning_rate=s.learning_rate, lr_scheduler_type="cosine", warmup_ratio=0.05,
            per_device_train_batch_size=s.batch_size, max_length=512, logging_steps=max(1, s.steps // 10),
            save_steps=10**9, save_total_limit=None, seed=s.seed, progress=progress,
        ))  # fmt: skip
    return root
