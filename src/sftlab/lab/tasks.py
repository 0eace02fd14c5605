"""Synthetic multi-step arithmetic word problems with two solution styles.

A problem is a chain of integer operations (``+ - * /``, exact division) told
as a short story from one of several *families* (shopping, travel, ...). Every
family phrase has several wordings; the last wording of each is held out for
the out-of-distribution test.

Two solution styles state the same arithmetic:

* **native** (the base model's own, used in pretraining)::

      12+7=19; 19*2=38; #### 38

* **expert** (the SFT data: verbose sentences, operands named in a different
  order, a different closing)::

      Let us work through the problem one step at a time. First, adding 7 to 12
      gives 19. Finally, 2 times 19 is 38. The answer is 38.

Both end in a form that :func:`sftlab.verify.verify` extracts.

Splits (generated from the seed, question texts disjoint across splits):
``pretrain`` (base families, native style, a small share expert style),
``train`` (expert style, base + new families), ``test_id`` (as ``train``), and
``test_ood`` (as ``train`` under one shift each: one more step, held-out
wording, or larger numbers).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from sftlab.errors import SftlabError

SPLITS = ("pretrain", "train", "test_id", "test_ood")
SHIFTS = ("steps", "wording", "numbers")
OPS = {"add": "+", "sub": "-", "mul": "*", "div": "/"}

NAMES = [
    ("Mia", "she"),
    ("Tom", "he"),
    ("Ana", "she"),
    ("Ben", "he"),
    ("Lea", "she"),
    ("Sam", "he"),
    ("Ivy", "she"),
    ("Leo", "he"),
    ("Zoe", "she"),
    ("Max", "he"),
    ("Eva", "she"),
    ("Dan", "he"),
    ("Nora", "she"),
    ("Omar", "he"),
    ("Rita", "she"),
    ("Hugo", "he"),
    ("Lucy", "she"),
    ("Ravi", "he"),
    ("Maya", "she"),
    ("Noah", "he"),
    ("Iris", "she"),
    ("Yuki", "he"),
    ("Sofia", "she"),
    ("Ethan", "he"),
]
_POSS = {"she": "her", "he": "his"}
_OBJ = {"she": "her", "he": "him"}


@dataclass(frozen=True)
class Family:
    """A story template. Phrases may use {name} {Pron} {pron} {obj} {poss} {Poss} {a} {b}
    {item}, and, for chains of people, {prev} {new} {last}. The last wording of
    every phrase is held out for the 'wording' shift."""

    name: str
    start: tuple[str, ...]
    ops: dict
    ask: tuple[str, ...]
    items: tuple[str, ...] = ()
    people_chain: bool = False  # each step introduces a new person ({new}) related to {prev}


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in [
        Family(
            "shopping",
            start=(
                "{name} has {a} dollars.",
                "{name} goes to the market with {a} dollars.",
                "In {poss} wallet, {name} keeps {a} dollars.",
            ),
            ops={
                "add": (
                    "{Pron} earns {b} dollars washing cars.",
                    "A friend pays {obj} back {b} dollars.",
                    "{Pron} finds {b} dollars in an old coat.",
                ),
                "sub": (
                    "{Pron} spends {b} dollars on {item}.",
                    "{Pron} buys {item} for {b} dollars.",
                    "Then {item} costs {obj} {b} dollars.",
                ),
                "mul": (
                    "{Pron} sells {poss} old games and now has {b} times as much money.",
                    "{Poss} money grows to {b} times as much.",
                    "A lucky bet makes {poss} money {b} times bigger.",
                ),
                "div": (
                    "{Pron} splits {poss} money into {b} equal parts and keeps one part.",
                    "{Pron} shares the money so that there are {b} equal shares, and keeps one share.",
                    "Only one of {b} equal parts of the money stays with {obj}.",
                ),
            },
            ask=(
                "How many dollars does {name} have now?",
                "How much money does {name} have at the end?",
                "What amount of money is left with {name}?",
            ),
            items=("a book", "lunch", "a toy", "a hat", "some fruit", "a ticket", "a pen", "a scarf"),
        ),
        Family(
            "travel",
            start=(
                "{name} drives {a} km in the morning.",
                "{name} starts a trip by riding {a} km.",
                "On the first leg, {name} covers {a} km.",
            ),
            ops={
                "add": (
                    "After lunch {pron} drives {b} km more.",
                    "{Pron} adds another {b} km to the trip.",
                    "The next leg takes {obj} {b} km farther.",
                ),
                "sub": (
                    "{Pron} turns back and drives {b} km toward home.",
                    "A detour sends {obj} back {b} km.",
                    "{Pron} returns {b} km to pick up a bag.",
                ),
                "mul": (
                    "By evening {pron} is {b} times as far from home.",
                    "{Poss} distance from home becomes {b} times larger.",
                    "The road sign says {pron} is now {b} times as far out.",
                ),
            },
            ask=(
                "How many km from home is {name} now?",
                "How far from home is {name} at the end?",
                "What is {name}'s distance from home in km?",
            ),
        ),
        Family(
            "savings",
            start=(
                "{name} has {a} coins in a jar.",
                "{name}'s piggy bank holds {a} coins.",
                "There are {a} coins in {name}'s savings box.",
            ),
            ops={
                "add": (
                    "{Pron} puts in {b} more coins.",
                    "{Pron} saves {b} coins from {poss} allowance.",
                    "Grandpa adds {b} coins to it.",
                ),
                "sub": (
                    "{Pron} takes out {b} coins for a snack.",
                    "{Pron} gives {b} coins to {poss} brother.",
                    "Then {b} coins pay for a game.",
                ),
                "mul": (
                    "{Poss} parents match the savings so the coins become {b} times as many.",
                    "The bank rewards {obj}, making the coins {b} times as many.",
                    "A bonus turns the savings into {b} times the amount.",
                ),
                "div": (
                    "{Pron} splits the coins into {b} equal piles and keeps one pile.",
                    "{Pron} divides the coins equally among {b} jars and keeps one jar.",
                    "Only one of {b} equal stacks of coins is kept.",
                ),
            },
            ask=(
                "How many coins does {name} have now?",
                "How many coins are left in the end?",
                "What is the number of coins {name} ends with?",
            ),
        ),
        Family(
            "sharing",
            start=(
                "There are {a} cookies on a plate.",
                "{name} bakes {a} cookies.",
                "A box holds {a} cookies for {name}'s class.",
            ),
            ops={
                "add": (
                    "{name} adds {b} more cookies.",
                    "Then {b} extra cookies are added.",
                    "A neighbour brings {b} more cookies.",
                ),
                "sub": ("{b} cookies get eaten.", "{name} gives away {b} cookies.", "The dog steals {b} cookies."),
                "mul": (
                    "{name} bakes until there are {b} times as many cookies.",
                    "The number of cookies grows to {b} times as many.",
                    "A bigger batch gives {b} times the cookies.",
                ),
                "div": (
                    "They are shared equally among {b} children, and we follow one child's share.",
                    "{name} splits them equally into {b} bags and takes one bag.",
                    "Each of {b} friends gets an equal part; count one part.",
                ),
            },
            ask=(
                "How many cookies are there now?",
                "How many cookies does {name} end up with?",
                "What is the final number of cookies?",
            ),
        ),
        Family(
            "ages",
            start=("{name} is {a} years old.", "{name} has just turned {a}.", "{name}'s age is {a} years."),
            ops={
                "add": (
                    "{new} is {b} years older than {prev}.",
                    "{new} was born {b} years before {prev}.",
                    "{new}'s age is {prev}'s age plus {b}.",
                ),
                "sub": (
                    "{new} is {b} years younger than {prev}.",
                    "{new} was born {b} years after {prev}.",
                    "{new}'s age is {prev}'s age minus {b}.",
                ),
                "mul": (
                    "{new} is {b} times as old as {prev}.",
                    "{new}'s age is {b} times {prev}'s age.",
                    "Multiply {prev}'s age by {b} to get {new}'s age.",
                ),
                "div": (
                    "{prev} is {b} times as old as {new}.",
                    "{prev}'s age is {b} times {new}'s age.",
                    "{new}'s age is {prev}'s age divided by {b}.",
                ),
            },
            ask=("How old is {last}?", "What is {last}'s age?", "How many years old is {last}?"),
            people_chain=True,
        ),
    ]
}

# Expert-style phrasing (shared by all families). Clauses name the operand
# before the running value: a different order from the native "a+b=c".
_EXPERT_INTRO = (
    "Let us work through the problem one step at a time.",
    "We follow the numbers through each event in order.",
    "We can solve this by tracking the quantity step by step.",
)
_EXPERT_OPS = {
    "add": ("adding {b} to {a} gives {c}", "{b} more than {a} is {c}", "increasing {a} by {b} makes {c}"),
    "sub": ("taking {b} away from {a} leaves {c}", "{b} less than {a} is {c}", "decreasing {a} by {b} leaves {c}"),
    "mul": ("{b} times {a} is {c}", "multiplying {a} by {b} gives {c}", "{a} taken {b} times makes {c}"),
    "div": (
        "dividing {a} by {b} gives {c}",
        "{a} split into {b} equal parts is {c} each",
        "{a} shared {b} ways gives {c}",
    ),
}
_FIRST, _MIDDLE, _LAST = ("First, ", "To begin, "), ("Next, ", "Then ", "After that, "), ("Finally, ", "Last, ")


@dataclass(frozen=True)
class Problem:
    family: str
    question: str
    steps: tuple  # ((a, op, b, c), ...) with op in OPS
    answer: int


def make_problem(
    rng: random.Random, family: str, n_steps: int, operand_max: int, value_max: int, held_out_wording: bool = False
) -> Problem:
    """One problem of ``family`` with ``n_steps`` operations, operands in
    [1, operand_max] and every value in [1, value_max]."""
    fam = FAMILIES[family]

    def phrase(variants):
        return variants[-1] if held_out_wording else rng.choice(variants[:-1])

    name, pron = rng.choice(NAMES)
    people = [n for n, _ in rng.sample(NAMES, k=min(len(NAMES), n_steps + 2)) if n != name][:n_steps]
    slots = {
        "name": name,
        "pron": pron,
        "Pron": pron.capitalize(),
        "obj": _OBJ[pron],
        "poss": _POSS[pron],
        "Poss": _POSS[pron].capitalize(),
        "last": people[-1] if fam.people_chain else name,
    }
    value = rng.randint(2, min(operand_max, value_max))
    sentences = [phrase(fam.start).format(a=value, **slots)]
    steps = []
    for i in range(n_steps):
        choices = {op: _operands(op, value, operand_max, value_max) for op in fam.ops}
        op = rng.choice([op for op, bs in choices.items() if bs])
        b = rng.choice(choices[op])
        c = _apply(op, value, b)
        extra = {"b": b, "item": rng.choice(fam.items) if fam.items else ""}
        if fam.people_chain:
            extra.update(prev=name if i == 0 else people[i - 1], new=people[i])
        sentences.append(_cap(phrase(fam.ops[op]).format(**slots, **extra)))
        steps.append((value, op, b, c))
        value = c
    sentences.append(phrase(fam.ask).format(**slots))
    return Problem(family, " ".join(sentences), tuple(steps), value)


def _operands(op: str, v: int, hi: int, vmax: int) -> list[int]:
    if op == "add":
        return list(range(1, min(hi, vmax - v) + 1))
    if op == "sub":
        return list(range(1, min(hi, v - 1) + 1))
    if op == "mul":
        return list(range(2, min(hi, vmax // v) + 1))
    return [b for b in range(2, min(hi, v) + 1) if v % b == 0]  # div: exact


def _exceeds(p: Problem, operand_max: int, value_max: int) -> bool:
    """Whether ``p`` leaves the in-domain number range (the 'numbers' shift must)."""
    return any(b > operand_max or max(a, c) > value_max for a, _, b, c in p.steps)


def _apply(op: str, a: int, b: int) -> int:
    return {"add": a + b, "sub": a - b, "mul": a * b, "div": a // b}[op]


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def native_solution(p: Problem, *, careless: bool = False) -> str:
    """Terse equations: ``12+7=19; 19*2=38; #### 38``. ``careless``: the last step skipped and the value before it
    stated (``12+7=19; #### 19``; needs two or more steps)."""
    steps = p.steps[:-1] if careless else p.steps
    eqs = [f"{a}{OPS[op]}{b}={c}" for a, op, b, c in steps]
    return "; ".join(eqs + [f"#### {steps[-1][3]}"])


def expert_solution(p: Problem, rng: random.Random) -> str:
    """Verbose sentences ending ``The answer is 38.``."""
    out = [rng.choice(_EXPERT_INTRO)]
    n = len(p.steps)
    for i, (a, op, b, c) in enumerate(p.steps):
        conn = _FIRST if i == 0 else _LAST if i == n - 1 else _MIDDLE
        out.append(rng.choice(conn) + rng.choice(_EXPERT_OPS[op]).format(a=a, b=b, c=c) + ".")
    out.append(f"The answer is {p.answer}.")
    return " ".join(out)


def _clause_pattern(template: str) -> re.Pattern:
    body = re.escape(template)
    for slot in ("a", "b", "c"):
        body = body.replace(re.escape("{" + slot + "}"), f"(?P<{slot}>\\d+)")
    return re.compile(body + r"\.?$", re.IGNORECASE)


_EXPERT_CLAUSES = [(op, _clause_pattern(t)) for op, templates in _EXPERT_OPS.items() for t in templates]


def parse_expert_steps(solution: str, *, check: bool = True) -> tuple:
    """The ``((a, op, b, c), ...)`` an expert-style solution states, read back from its wording (the inverse of
    :func:`expert_solution` on the arithmetic; intro, connectives and closing are ignored). Raises on a solution
    that states no step, and (``check``) on a step whose arithmetic is wrong."""
    steps = []
    for sentence in re.split(r"(?<=\.)\s+", solution.strip()):
        for op, pattern in _EXPERT_CLAUSES:
            m = pattern.search(sentence)
            if m:
                a, b, c = (int(m[k]) for k in "abc")
                if check and _apply(op, a, b) != c:
                    raise SftlabError(f"expert solution: {sentence!r} states a wrong step")
                steps.append((a, op, b, c))
                break
    if not steps:
        raise SftlabError(f"expert solution: no step found in {solution!r}")
    return tuple(steps)


def make_record(
    p: Problem,
    rng: random.Random,
    *,
    style: str,
    split: str,
    idx: int,
    shift: str | None = None,
    careless: bool = False,
) -> dict:
    """A split's record of ``p``. ``careless`` (native style only): the solution skips the last step (its
    ``answer`` stays the problem's; the record says ``"careless": true``)."""
    solution = native_solution(p, careless=careless) if style == "native" else expert_solution(p, rng)
    rec = {
        "id": f"{split}-{idx:05d}",
        "question": p.question,
        "solution": solution,
        "answer": str(p.answer),
        "family": p.family,
        "style": style,
        "split": split,
        "steps": len(p.steps),
    }
    if shift is not None:
        rec["shift"] = shift
    if careless:
        rec["careless"] = True
    return rec


def generate_splits(cfg) -> dict[str, list[dict]]:
    """All four splits for a :class:`~sftlab.lab.config.LabConfig`, deterministic for ``cfg.seed``.

    Test splits are drawn first, so they do not change when the pretraining or
    SFT sizes change; a question already drawn for any split is redrawn.
    """
    seen: set[str] = set()
    out = {}
    for split in ("test_id", "test_ood", "train", "pretrain"):
        rng = random.Random(f"sftlab-lab:{cfg.seed}:{split}")
        out[split] = _split_records(cfg, split, rng, seen)
    return {s: out[s] for s in SPLITS}


def _split_records(cfg, split: str, rng: random.Random, seen: set[str]) -> list[dict]:
    n = {
        "pretrain": cfg.pretrain_size,
        "train": cfg.train_size,
        "test_id": cfg.test_id_size,
        "test_ood": cfg.test_ood_size,
    }[split]
    families = cfg.base_list if split == "pretrain" else cfg.train_families
    expert_idx: set[int] = set()
    careless = None  # a stream of its own: the variant's problems are the default lab's, only solutions differ
    if split == "pretrain":
        expert_idx = set(rng.sample(range(n), k=round(cfg.expert_prior_fraction * n)))
        if cfg.careless_fraction > 0:
            careless = random.Random(f"sftlab-lab:{cfg.seed}:careless")
    records, tries = [], 0
    while len(records) < n:
        i = len(records)
        tries += 1
        if tries > 20 * n + 1000:
            raise SftlabError(
                f"lab config: cannot draw {n} distinct '{split}' problems; widen operand_max/value_max or steps"
            )
        family = families[i % len(families)]
        steps, hi, vmax, held_out, shift = (
            rng.randint(cfg.min_steps, cfg.max_steps),
            cfg.operand_max,
            cfg.value_max,
            False,
            None,
        )
        if split == "test_ood":
            shift = cfg.shift_list[(i // len(families)) % len(cfg.shift_list)]
            if shift == "steps":
                steps = cfg.max_steps + 1
            elif shift == "wording":
                held_out = True
            else:
                hi, vmax = cfg.ood_operand_max, cfg.ood_value_max
        p = make_problem(rng, family, steps, hi, vmax, held_out_wording=held_out)
        if p.question in seen or (shift == "numbers" and not _exceeds(p, cfg.operand_max, cfg.value_max)):
            continue
        seen.add(p.question)
        style = "native" if split == "pretrain" and i not in expert_idx else "expert"
        skip = careless is not None and style == "native" and careless.random() < cfg.careless_fraction
        records.append(make_record(p, rng, style=style, split=split, idx=i, shift=shift, careless=skip))
    return records
