"""sftlab's verdicts on the labelled cases (``cases.py``), with math-verify's own verdicts beside them.

The claim: ``verify`` agrees with the label on at least 98% of the cases and
never scores a wrong answer right (no false positive). math-verify's
``parse`` + ``verify`` (its default extraction: LaTeX and plain expressions)
run on the same cases as the field's reference; its agreement is reported,
and every case where the two differ is printed, so a disagreement is visible
(``pytest -s``).
"""

import pytest

from sftlab.verify import extract_answer, verify

from .cases import CASES


def _math_verify(completion: str, reference: str) -> bool:
    """math-verify used directly, as its README shows (these are fixed test strings, not model output);
    the reference in ``$...$`` so its LaTeX extraction reads a bare LaTeX answer."""
    from math_verify import parse
    from math_verify import verify as mv_verify

    gold = reference if "$" in reference else f"${reference}$"
    return bool(mv_verify(parse(gold), parse(completion)))


@pytest.fixture(scope="module")
def verdicts():
    return [(c, r, label, verify(c, r), _math_verify(c, r)) for c, r, label in CASES]


def test_enough_cases():
    assert len(CASES) >= 250
    assert len({(c, r) for c, r, _ in CASES}) == len(CASES), "duplicate cases"
    labels = [label for _, _, label in CASES]
    assert 0.3 < sum(labels) / len(labels) < 0.7  # both verdicts well represented


def test_agreement_and_no_false_positive(verdicts):
    ours = sum(v == label for _, _, label, v, _ in verdicts) / len(verdicts)
    theirs = sum(m == label for _, _, label, _, m in verdicts) / len(verdicts)
    false_pos = [(c, r) for c, r, label, v, _ in verdicts if v and not label]
    false_pos_mv = sum(1 for _, _, label, _, m in verdicts if m and not label)
    print(
        f"\nsftlab agrees with {ours:.1%} of {len(verdicts)} cases ({len(false_pos)} false positives); "
        f"math-verify with {theirs:.1%} ({false_pos_mv} false positives)"
    )
    for c, r, label, v, m in verdicts:
        if v != label or m != label:
            print(
                f"  label={label!s:5} sftlab={v!s:5} math-verify={m!s:5} ref={r!r} extracted={extract_answer(c)!r} "
                f"completion={c[:70]!r}"
            )
    assert not false_pos, f"wrong answers scored right: {false_pos}"
    assert ours >= 0.98, f"agreement {ours:.1%} < 98%"


def test_strict_mode_needs_a_marker():
    """Strict reads final-answer statements only: the no-marker cases earn nothing, marked ones are unchanged."""
    assert verify("Adding the three amounts gives 7,425,000", "7425000")
    assert not verify("Adding the three amounts gives 7,425,000", "7425000", strict=True)
    assert not verify("Answer \\[ 9 \\]", "9", strict=True)
    assert not verify("**Yes**", "Yes", strict=True)
    for c, r, _label in CASES:
        if extract_answer(c, strict=True) is not None:
            assert verify(c, r, strict=True) == verify(c, r), c


def test_model_text_reaches_eval_only_as_a_number_literal(monkeypatch):
    """What reaches sympy's ``eval_expr`` (the ``eval`` behind ``parse_expr`` and ``sympify(str)``) is a number.

    math-verify's plain-expression parser is never used; the one remaining
    route is the LaTeX parser's ``sympy.Number(token)`` on a NUMBER token of its
    ANTLR lexer (digits and a decimal point), evaluated as ``Integer (27 )``.
    sympy's own constants are set up at import, so everything is warmed first.
    """
    import re

    from math_verify.parser import parse_latex_cached
    from sympy.parsing import sympy_parser

    from sftlab.verify import _guard

    payloads = [
        "The answer is __import__('os').system('true').",
        "#### eval('1+1')",
        "Final Answer: (lambda: 2)()",
        "1+1 = __import__('os').getcwd()",
        "so we get 2**2**2 = 16",
        "The total is 3*(4+5) = 27",
        r"\boxed{\text{__import__('os')}}",
    ]
    verify("The answer is $\\frac{1}{2}$.", "0.5")  # warm: sympy and math-verify set up their constants on import
    _guard._parse_latex.cache_clear()
    parse_latex_cached.cache_clear()
    calls = []
    original = sympy_parser.eval_expr

    def recording(code, local_dict, global_dict):
        calls.append(code)
        return original(code, local_dict, global_dict)

    monkeypatch.setattr(sympy_parser, "eval_expr", recording)
    for c in payloads:
        assert not verify(c, "28")
    for c, r, _ in CASES:
        verify(c, r)
    assert calls, "the check must see the LaTeX parser's number tokens"
    assert all(re.fullmatch(r"(?:Integer|Float) \('?[0-9.]+'? \)", code) for code in calls), set(calls)
