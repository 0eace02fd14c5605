"""Restatement triples for DART's lab mapper: a lab problem's expert solution and its rewrite target."""

from __future__ import annotations

import random


def restatement_triples(lab_cfg, n: int, native_share: float, seed: int, exclude: set[str]) -> list[dict]:
    """``n`` new lab problems as ``{"question", "source", "target", "answer"}``.

    ``source`` is an expert-style solution; ``target`` is the native-style solution of
    the same problem with probability ``native_share``, else another expert-style one.
    Questions in ``exclude`` (the lab's splits) are never drawn.
    """
    from .tasks import expert_solution, make_problem, native_solution

    rng = random.Random(f"sftlab-dart-mapper:{lab_cfg.seed}:{seed}")
    families = lab_cfg.base_list
    rows, seen, tries = [], set(exclude), 0
    while len(rows) < n and tries < 50 * n:
        tries += 1
        steps = rng.randint(lab_cfg.min_steps, lab_cfg.max_steps)
        p = make_problem(rng, families[len(rows) % len(families)], steps, lab_cfg.operand_max, lab_cfg.value_max)
        if p.question in seen:
            continue
        seen.add(p.question)
        source = expert_solution(p, rng)
        target = native_solution(p) if rng.random() < native_share else expert_solution(p, rng)
        rows.append({"question": p.question, "source": source, "target": target, "answer": str(p.answer)})
    return rows
