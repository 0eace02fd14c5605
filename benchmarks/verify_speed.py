"""Answer verification speed: sftlab.verify vs math-verify called directly, and the worst case under the guard.

The mix (``--n`` cases, default 10,000, fixed seed): 70% lab-style
completions (``#### n`` / ``The answer is n.``, right or off by one) and 30%
LaTeX answers with random numbers (fractions, radicals, polynomials, pairs,
intervals, sets, multiples of pi, closing expressions without a marker),
every string distinct so no cache sees a repeat. Each case is checked by

* ``sftlab``: ``sftlab.verify.verify(completion, reference)`` (lenient, default
  time limit);
* ``math-verify``: ``math_verify.verify(parse(reference), parse(completion))``,
  as its README shows (its own 5 s timeouts; the reference wrapped in ``$..$``).

Then the pathological answers of the test suite (power towers, deep nests,
huge numbers) go through ``sftlab.verify`` under its limit; the slowest case
of everything is reported, and the script fails if it took longer than the
limit plus 1.5 s of slack.

    python benchmarks/verify_speed.py [--n 10000] [--seed 0]

The last line printed is one JSON object with every figure and the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import machine

PATHOLOGICAL = [
    "9" * 100_000,
    "(" * 100_000,
    "(" * 500,
    "2^2^2^2^2^2^2^2^2^2",
    r"2^{2^{2^{2^{2^{2}}}}}",
    r"9^{9^{9}}",
    "(10^{9})!",
    r"\frac{2^{2^{40}}}{2^{2^{40}}}",
    r"10^{10^8}",
    "{" * 300 + "1" + "}" * 300,
]


def lab_case(rng: random.Random) -> tuple[str, str]:
    a, b = rng.randint(2, 99), rng.randint(2, 99)
    n = a * b if rng.random() < 0.5 else a + b
    stated = n if rng.random() < 0.6 else n + 1
    if rng.random() < 0.5:
        return f"First, {a} and {b} give {n}.\n#### {stated}", str(n)
    return f"Step 1: {a} times {b}. Step 2: combine. The answer is {stated}.", str(n)


def latex_case(rng: random.Random) -> tuple[str, str]:
    a, b, k = rng.randint(1, 40), rng.randint(2, 40), rng.randint(2, 5)
    right = rng.random() < 0.5
    delta = 0 if right else 1
    templates = [
        (rf"Thus $\boxed{{\frac{{{k * a}}}{{{k * b}}}}}$.", rf"\frac{{{a + delta}}}{{{b}}}"),
        (rf"Hence $\boxed{{\sqrt{{{a * a * b}}}}}$", rf"{a + delta}\sqrt{{{b}}}"),
        (rf"So $\boxed{{x^2 + {a + b}x + {a * b}}}$", rf"(x+{a})(x+{b + delta})"),
        (rf"The answer is $({a}, {b})$.", rf"({a}, {b + delta})"),
        (rf"The interval is $\boxed{{[{a}, {a + b}]}}$", rf"[{a}, {a + b + delta}]"),
        (rf"The set is $\boxed{{\{{{a}, {b}\}}}}$", rf"\{{{b + delta}, {a}\}}"),
        (rf"The final answer is ${a}\pi$", rf"{a + delta}\pi"),
        (rf"which gives $\frac{{{2 * a + 1}}}{{2}}$", f"{a + delta}.5"),
        (rf"The answer is $\boxed{{{a}^{{{k}}}}}$", str(a**k + delta)),
    ]
    return templates[rng.randrange(len(templates))]


def build_cases(n: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    return [lab_case(rng) if rng.random() < 0.7 else latex_case(rng) for _ in range(n)]


def run(check, cases) -> tuple[list[bool], list[float]]:
    verdicts, times = [], []
    for completion, reference in cases:
        t = time.perf_counter()
        verdicts.append(bool(check(completion, reference)))
        times.append(time.perf_counter() - t)
    return verdicts, times


def math_verify_direct(completion: str, reference: str) -> bool:
    """math-verify as its README shows; a bare LaTeX reference goes in ``$...$`` so its LaTeX extraction reads it."""
    from math_verify import parse
    from math_verify import verify as mv_verify

    return mv_verify(parse(as_latex(reference)), parse(completion))


def as_latex(reference: str) -> str:
    return reference if "$" in reference or "\\boxed" in reference else f"${reference}$"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="cases in the mix")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import logging

    logging.getLogger("math_verify").setLevel(logging.ERROR)  # its timeout warnings would flood the output
    from sftlab.verify import default_timeout, verify

    cases = build_cases(args.n, args.seed)
    for c, r in (("#### 1", "1"), (r"$\boxed{\frac{1}{2}}$", "0.5")):  # imports and grammar loading, untimed
        verify(c, r), math_verify_direct(c, r)
    ours, our_times = run(verify, cases)
    theirs, their_times = run(math_verify_direct, cases)
    lab = [i for i, (c, _) in enumerate(cases) if c.startswith(("First, ", "Step 1: "))]
    latex = sorted(set(range(len(cases))) - set(lab))
    rate = lambda times, idx: len(idx) / sum(times[i] for i in idx) if idx else None
    _, worst_times = run(verify, [(f"The answer is ${p}$", "2") for p in PATHOLOGICAL])

    limit = default_timeout()
    all_ours = list(zip(our_times, [c for c, _ in cases])) + list(zip(worst_times, PATHOLOGICAL))
    slowest_s, slowest_case = max(all_ours, key=lambda x: x[0])
    ours_rate, theirs_rate = len(cases) / sum(our_times), len(cases) / sum(their_times)
    agree = sum(a == b for a, b in zip(ours, theirs)) / len(cases)
    m = machine()
    print(f"machine: {m['cpu']} ({m['cores']} cores, load {m['load_avg_1m']:.1f}), torch {m['torch']}")
    print(f"cases: {len(cases)} (70% lab style, 30% LaTeX), seed {args.seed}")
    print(
        f"sftlab.verify:          {ours_rate:10.1f} verdicts/s  ({sum(our_times):.1f} s, max {max(our_times) * 1e3:.1f} ms)"
    )
    print(
        f"math-verify (direct):   {theirs_rate:10.1f} verdicts/s  ({sum(their_times):.1f} s, max {max(their_times) * 1e3:.1f} ms)"
    )
    print(
        f"  lab-style cases ({len(lab)}):  sftlab {rate(our_times, lab):10.1f}/s   math-verify {rate(their_times, lab):10.1f}/s"
    )
    print(
        f"  LaTeX cases ({len(latex)}):      sftlab {rate(our_times, latex):10.1f}/s   math-verify {rate(their_times, latex):10.1f}/s"
    )
    print(f"verdicts agree on {agree:.1%} of the mix; sftlab says right for {sum(ours)}, math-verify for {sum(theirs)}")
    print(f"pathological answers under sftlab's guard (limit {limit:.2f} s): max {max(worst_times):.3f} s")
    print(f"slowest sftlab case: {slowest_s:.3f} s on {slowest_case[:60]!r}")
    result = {
        "n": len(cases),
        "seed": args.seed,
        "machine": m,
        "sftlab_verdicts_per_s": ours_rate,
        "math_verify_verdicts_per_s": theirs_rate,
        "verdicts_per_s_ratio": ours_rate / theirs_rate,
        "lab_verdicts_per_s_ratio": rate(our_times, lab) / rate(their_times, lab),
        "latex_verdicts_per_s_ratio": rate(our_times, latex) / rate(their_times, latex),
        "agreement_with_math_verify": agree,
        "time_limit_s": limit,
        "slowest_s": slowest_s,
        "slowest_case": slowest_case[:80],
        "pathological_max_s": max(worst_times),
        "worst_case_to_limit_ratio": slowest_s / limit,
    }
    print(json.dumps(result))
    if slowest_s > limit + 1.5:
        sys.exit(f"the slowest case took {slowest_s:.2f} s, over the {limit:.2f} s limit")


if __name__ == "__main__":
    main()
