"""The data of the claim scenarios (docs/lab.md, "Claim scenarios"): transforms of the lab's train split, fixed and
seeded before any run, and :func:`scenario_data`, which writes each one once per demo output folder.

* ``native``: the same questions and answers, each solution in the lab model's own native style (DFT's regime:
  SFT targets the model already finds likely);
* ``noisy``: a fixed share of the demonstrations are low quality: the last step's result and the final answer are
  wrong, consistently (IRFT's robustness claim);
* ``pool``: a redundant, imbalanced pool: the first family holds 60% of it, as ten renderings of each of its
  problems, the second 20% as four renderings, the other families the rest, one rendering each (S2L's regime).
"""

from __future__ import annotations

import random
import re
from pathlib import Path

from sftlab.errors import SftlabError
from sftlab.io import atomic_write_jsonl, read_jsonl
from sftlab.lab import Problem, expert_solution, native_solution, parse_expert_steps

DATA_SEED = 0  # one data set per scenario, whatever the training seed
NOISY_SHARE = 0.3
NOISY_OFFSETS = (-3, -2, -1, 1, 2, 3)  # a wrong result is the right one moved by one of these
POOL_SHARES = (0.6, 0.2)  # shares of the pool held by the first two families (in order of appearance)
POOL_COPIES = (10, 4)  # renderings of each distinct problem of those families; every other family: 1


def _problem(record: dict) -> Problem:
    return Problem(record["family"], record["question"], parse_expert_steps(record["solution"]), int(record["answer"]))


def native_records(records: list[dict]) -> list[dict]:
    """Every record with its solution rewritten in the native style (``3+9=12; 12*4=48; #### 48``): the same
    question, arithmetic and answer."""
    return [{**r, "solution": native_solution(_problem(r)), "style": "native"} for r in records]


def noisy_records(records: list[dict], share: float = NOISY_SHARE, seed: int = DATA_SEED) -> list[dict]:
    """``round(share * n)`` records (a seeded sample) made low quality: the last step's result and the final answer
    become a wrong value (the right one moved by 1 to 3, at least 1), in the solution text and the ``answer`` field
    alike, so the demonstration stays self-consistent and only its arithmetic is wrong. ``quality``: clean/wrong."""
    rng = random.Random(f"sftlab-scenario:noisy:{seed}")
    wrong = set(rng.sample(range(len(records)), round(share * len(records))))
    out = []
    for i, r in enumerate(records):
        if i not in wrong:
            out.append({**r, "quality": "clean"})
            continue
        right = int(r["answer"])
        bad = rng.choice([right + d for d in NOISY_OFFSETS if right + d >= 1])
        text, closing = r["solution"].rstrip(), f" The answer is {right}."
        last = list(re.finditer(r"\d+", text[: -len(closing)]))[-1:]  # the last step's result: its last number
        if not text.endswith(closing) or not last or last[0][0] != str(right):
            raise SftlabError(f"noisy data: record {r['id']}: no last step ending in {right} before '{closing}'")
        text = f"{text[: last[0].start()]}{bad}{text[last[0].end() : -len(closing)]} The answer is {bad}."
        out.append({**r, "solution": text, "answer": str(bad), "quality": "wrong", "true_answer": str(right)})
    return out


def imbalanced_pool(records: list[dict], seed: int = DATA_SEED) -> list[dict]:
    """A pool of (at most) ``len(records)`` rows: family k < 2 (in order of appearance) holds ``POOL_SHARES[k]`` of it
    as ``POOL_COPIES[k]`` renderings of each of its sampled problems (the original record, then its arithmetic
    re-told with freshly drawn expert wording: same question and answer); the other families share the rest evenly,
    one distinct problem per row. Seeded; shuffled. ``copy``: 0 for an original record."""
    rng = random.Random(f"sftlab-scenario:pool:{seed}")
    families = list(dict.fromkeys(r["family"] for r in records))
    by_family = {f: [r for r in records if r["family"] == f] for f in families}
    n, rows = len(records), []
    for family, share, copies in zip(families, POOL_SHARES, POOL_COPIES):
        k = min(len(by_family[family]), max(1, round(share * n / copies)))
        for r in rng.sample(by_family[family], k):
            rows.append({**r, "copy": 0})
            p = _problem(r)
            rows += [{**r, "id": f"{r['id']}-c{j}", "solution": expert_solution(p, rng), "copy": j}
                     for j in range(1, copies)]  # fmt: skip
    rest = families[len(POOL_SHARES) :]
    left = n - len(rows)
    for j, family in enumerate(rest):
        k = min(len(by_family[family]), left // len(rest) + (1 if j < left % len(rest) else 0))
        rows += [{**r, "copy": 0} for r in rng.sample(by_family[family], k)]
    rng.shuffle(rows)
    return rows


BUILDERS = {"native": native_records, "noisy": noisy_records, "pool": imbalanced_pool}


def scenario_data(ctx, name: str) -> str:
    """The path of scenario data ``name`` (a key of :data:`BUILDERS`) built from ``ctx.train_data``: written once,
    deterministically, under the demo's output folder (``runs/scenario-data/once/<name>.jsonl``), never in the lab
    cache."""
    path = Path(ctx.run_dir("scenario-data", None)) / f"{name}.jsonl"
    if not path.is_file():
        atomic_write_jsonl(path, BUILDERS[name](read_jsonl(ctx.train_data)))
    return str(path)
