"""Answer extraction, equivalence, and the time limit on pathological answers."""

import sys
import threading
import time

import pytest

from sftlab.verify import _guard, answers_match, extract_answer, normalize_answer, verify

# ---------------------------------------------------------------- extraction


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Natalia sold 48/2 = 24 clips.\n#### 72", "72"),
        ("#### 1\nmore thinking\n#### 1,000", "1,000"),  # last occurrence
        ("So x = 3 and\n####  -5  \n", "-5"),
        (r"We get $\boxed{\frac{1}{2}}$.", r"\frac{1}{2}"),
        (r"\boxed{1} then \boxed{\frac{\sqrt{2}}{2}}", r"\frac{\sqrt{2}}{2}"),  # last, nested braces
        (r"\boxed{7} and a cut-off \boxed{\frac{1", "7"),  # unbalanced last box skipped
        ("The answer is 42.", "42"),
        ("the final answer is: **3.5**. Done", "3.5"),
        ("The answer is $12$.\nBut wait, the answer is 13.", "13"),
        ("The answer is \\(x+1\\).", "x+1"),
        ("#### $\\boxed{12}$", "12"),
        (r"#### \boxed{1}+\boxed{2}", r"\boxed{1}+\boxed{2}"),  # not one box: kept whole
        # the last final-answer statement wins, whatever its kind
        (r"The answer is 5. \boxed{6}", "6"),
        ("\\boxed{6}\n#### 7\nThe answer is 5.", "5"),
        ("The answer is 5.\n\\boxed{6}\n#### 7", "7"),
        ("2+2=4; #### 4+7=1; #### 6", "6"),  # several #### on one line: the last
        ("########\n#### 9", "9"),  # a rule, then the answer
    ],
)
def test_extract_answer(text, expected):
    assert extract_answer(text) == expected


@pytest.mark.parametrize("text", ["", "no final answer here", "#### ", r"\boxed{}", "The answer is .", "\\boxed{1"])
def test_extract_answer_none(text):
    assert extract_answer(text) is None
    assert extract_answer(text, strict=True) is None


def test_extract_answer_is_linear_on_huge_text():
    text = "{" * 50_000 + r"\boxed{" * 20_000 + "answer is " * 10_000
    t = time.monotonic()
    extract_answer(text)
    assert time.monotonic() - t < 5.0


# ---------------------------------------------------------------- matching


def test_normalize_answer():
    assert normalize_answer(" $1,000.$ ") == "1000"
    assert normalize_answer("\\$12,345,678") == "12345678"
    assert normalize_answer("1,2") == "1,2"  # not a thousands separator
    assert normalize_answer("a   b") == "a b"


@pytest.mark.parametrize(
    "pred, ref",
    [("1,000", "1000"), ("$5", "5"), ("42.", "42"), ("x + 1", "x + 1")],
)
def test_exact_mode_matches(pred, ref):
    assert answers_match(pred, ref, mode="exact")


@pytest.mark.parametrize("pred, ref", [("0.5", "1/2"), ("3.0", "3"), ("x+1", "1+x"), ("41", "42")])
def test_exact_mode_rejects(pred, ref):
    assert not answers_match(pred, ref, mode="exact")


@pytest.mark.parametrize(
    "pred, ref",
    [
        ("0.5", "1/2"),
        ("0.5", r"\frac{1}{2}"),
        (r"\dfrac{1}{2}", "0.5"),
        ("3.0", "3"),
        ("007", "7"),
        ("-3", "-3.0"),
        ("50%", "50"),  # math-verify accepts a percentage against its number ...
        ("50%", "0.5"),  # ... and against its fraction
        ("1/3", "0.333333"),  # a rounded decimal, as math-verify rounds
        ("x+1", "1+x"),
        (r"\sqrt{4}", "2"),
        (r"\pi", "3.14159265"),
        ("1,000", "1000"),
    ],
)
def test_math_mode_equivalent_forms(pred, ref):
    assert answers_match(pred, ref, mode="math")


@pytest.mark.parametrize(
    "pred, ref",
    [("41", "42"), ("0.5", "1/3"), ("x+1", "x-1"), ("garbage words", "5"), ("", "5"), ("5", "")],
)
def test_math_mode_wrong_answers(pred, ref):
    assert not answers_match(pred, ref, mode="math")


def test_none_never_matches():
    assert not answers_match(None, "1")
    assert not answers_match("1", None)
    assert not answers_match(None, None)
    assert not verify("no answer stated", "1")


def test_unknown_mode():
    with pytest.raises(ValueError, match="unknown verification mode"):
        answers_match("1", "1", mode="fuzzy")


def test_verify_end_to_end():
    assert verify("16 - 3 - 4 = 9 eggs, 9 * 2 = 18\n#### 18", "18")
    assert verify(r"The probability is $\boxed{\frac{1}{4}}$.", "0.25")
    assert verify("So the answer is 0.25.", r"\frac14")
    assert not verify("The answer is 17.", "18")


def test_model_text_is_not_executed(tmp_path):
    """Python in an answer is never run (no sympy.parse_expr / eval on model text)."""
    marker = tmp_path / "pwned"
    payload = f"__import__('os').system('touch {marker}')"
    assert not answers_match(payload, "0")
    assert not verify(f"The answer is {payload}", "0")
    assert not marker.exists()


# ---------------------------------------------------------------- time limit

PATHOLOGICAL = [
    "9" * 100_000,
    "(" * 100_000,
    "(" * 500,
    "2^2^2^2^2^2^2^2^2^2",
    r"2^{2^{2^{2^{2^{2}}}}}",
    r"9^{9^{9}}",
    "(10^{9})!",
    r"\frac{2^{2^{40}}}{2^{2^{40}}}",
]


@pytest.mark.parametrize("answer", PATHOLOGICAL, ids=range(len(PATHOLOGICAL)))
def test_pathological_answer_within_time_limit(answer):
    answers_match("1", "1.0")  # warm the imports
    limit = 0.5
    t = time.monotonic()
    assert not answers_match(answer, "2", timeout=limit)
    # generous slack for a loaded machine: without the guard these run for minutes
    assert time.monotonic() - t < limit + 5.0


def test_verifier_still_sound_after_timeouts():
    """An interrupted sympy computation leaves no state behind that changes later verdicts."""
    for answer in PATHOLOGICAL:
        answers_match(answer, "2", timeout=0.2)
    assert answers_match("x^2+2x+1", "(x+1)^2")
    assert answers_match("0.5", r"\frac{1}{2}")
    assert not answers_match("2^{10}", "1023")


def test_pathological_answer_in_a_thread_within_time_limit():
    """Off the main thread (no signals) the check runs in a worker process."""
    limit = 0.5
    results = {}

    def check():
        answers_match("1", r"\frac{2}{2}", timeout=limit)  # starts the worker
        for answer in PATHOLOGICAL:
            t = time.monotonic()
            results[answer] = (answers_match(answer, "2", timeout=limit), time.monotonic() - t)
        results["ok"] = answers_match("0.5", r"\frac{1}{2}", timeout=limit)

    thread = threading.Thread(target=check)
    thread.start()
    thread.join(timeout=60)
    assert not thread.is_alive()
    assert results.pop("ok") is True
    for answer, (verdict, elapsed) in results.items():
        assert verdict is False, answer[:20]
        assert elapsed < limit + 5.0, (answer[:20], elapsed)  # without the guard: minutes


def test_stuck_worker_is_killed():
    """A worker that never answers (stuck in C code) is killed after the deadline plus grace."""
    silent = [
        sys.executable,
        "-c",
        "import sys, time; print('ready', flush=True); sys.stdin.readline(); time.sleep(60)",
    ]
    worker = _guard._Worker(silent)
    t = time.monotonic()
    with pytest.raises(TimeoutError):
        worker.ask("1", "2", 0.2)
    assert time.monotonic() - t < 0.2 + _guard._GRACE_S + 5.0  # the worker would sleep 60 s
    assert not worker.alive()


def test_enclosing_alarm_is_restored():
    """The main-thread timer hands an enclosing SIGALRM timer back what is left of it."""
    import signal

    fired = []

    def handler(*args):
        fired.append(1)

    previous = signal.signal(signal.SIGALRM, handler)
    try:
        signal.setitimer(signal.ITIMER_REAL, 30.0)
        assert answers_match("0.5", r"\frac{1}{2}")
        left, _ = signal.getitimer(signal.ITIMER_REAL)
        assert 25.0 < left <= 30.0
        assert signal.getsignal(signal.SIGALRM) is handler and not fired
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize(
    "pred, ref, expected",
    [
        (
            r"10^{10^8}",
            r"10^{100000000}",
            True,
        ),  # equal towers: base 10, exponent 10^8 both ways, decided without sympy
        (r"10^{10^{10^{10}}}", r"10^{100000000}", False),  # an exponent too big to write out: equal to no other string
        ("{" * 300 + "1" + "}" * 300, "1", True),  # braces around the whole answer group nothing
        ("{" * 300 + "1+x" + "}" * 300 + "+{2}", "1", False),  # deeper than MAX_NESTING: string comparison only
    ],
)
def test_former_worst_cases_are_fast(pred, ref, expected):
    answers_match("1", "1.0")  # warm the imports
    t = time.monotonic()
    assert answers_match(pred, ref, timeout=10.0) is expected
    assert time.monotonic() - t < 3.0  # decided long before the deadline (these used to run into the time limit)


def test_time_limit_from_environment(monkeypatch):
    import sftlab.verify.compare as compare
    from sftlab.verify import default_timeout

    monkeypatch.setenv("SFTLAB_VERIFY_TIMEOUT", "0.25")
    assert default_timeout() == 0.25
    limits = []
    monkeypatch.setattr(compare, "math_equal", lambda p, r, timeout: limits.append(timeout) or False)
    assert not answers_match(r"\frac{2^{2^{40}}}{2^{2^{40}}}", "2")
    assert limits == [0.25]  # the symbolic check ran under the environment's limit
    monkeypatch.setenv("SFTLAB_VERIFY_TIMEOUT", "nonsense")
    assert default_timeout() == 1.0


def test_strict_extraction():
    assert extract_answer("so we get 12", strict=True) is None
    assert extract_answer("so we get 12") == "12"
    assert extract_answer("#### Final Answer\nThe answer is 12.", strict=True) == "12"
    assert verify("so we get 12", "12") and not verify("so we get 12", "12", strict=True)
