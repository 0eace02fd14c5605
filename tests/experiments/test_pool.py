"""`--workers`: the seeds of an entry in worker processes give the numbers of a sequential run; what the workers'
runs add (notes, adaptations) reaches the report once; a worker's error is the command's one-line error."""

from __future__ import annotations

import functools
import json
import os
import time
from pathlib import Path

import pytest

import sftlab.experiments.runner as demo
from sftlab.console import RunView
from sftlab.errors import DataError, SftlabError
from sftlab.experiments.context import DemoConfig, DemoContext, DemoEntry
from sftlab.experiments.pool import RUN_THREADS, RunPool, default_workers
from sftlab.experiments.registry import BY_NAME


def _assert_same_runs(one: list[dict], two: list[dict], out_one: Path, out_two: Path) -> None:
    """DFT's runs of seeds 0 and 1, made two ways: the same curves, accuracies and greedy generations."""
    assert [r["seed"] for r in one] == [r["seed"] for r in two] == [0, 1]
    for a, b in zip(one, two):
        assert a["accuracy"] == b["accuracy"] and a["n"] == b["n"] == {"test_id": 8, "test_ood": 4}
        assert a["curve"]["nll"] and a["curve"] == b["curve"]
    assert one[0]["curve"] != one[1]["curve"]  # the seeds differ: the comparison can tell runs apart
    for seed in (0, 1):
        assert _generations(out_one, "dft", seed) == _generations(out_two, "dft", seed)


def _generations(out: Path, name: str, seed: int) -> list[str]:
    path = out / "runs" / name / f"seed{seed}" / "eval" / "generations.jsonl"
    return [json.loads(line)["completion"] for line in path.read_text().splitlines()]


@pytest.mark.slow
def test_the_demo_with_two_workers_reports_the_numbers_of_one(lab, tmp_path, monkeypatch):
    """DFT (the registry's entry, a real training run) on 2 seeds, with 1 worker (every run in this process) and with
    2 (each seed in a spawned worker): the same loss per logged step, the same greedy generations and accuracies.
    A worker on another torch thread count, a seed run twice or runs merged out of seed order would differ."""
    monkeypatch.setattr("sftlab.lab.ensure_lab", lambda **_: lab)
    metrics = {}
    for workers in (1, 2):
        out = tmp_path / f"workers{workers}"
        cfg = DemoConfig(
            methods="dft", seeds=2, workers=workers, steps=4, batch_size=4, eval_limit=8, max_new_tokens=24,
            output_dir=str(out), examples=0,
        )  # fmt: skip
        demo.run_demo(cfg)
        metrics[workers] = json.loads((out / "metrics.json").read_text())["methods"]["dft"]
    _assert_same_runs(metrics[1]["runs"], metrics[2]["runs"], tmp_path / "workers1", tmp_path / "workers2")
    assert metrics[1]["summary"] == metrics[2]["summary"]
    log = (tmp_path / "workers2" / "console.log").read_text()  # what the runs printed in the workers
    assert "== DFT seed 1 (worker process" in log and "(reasoning): 24 records" in log


# -- ad-hoc entries: module-level functions, so that a worker process can find them ----------------------------


def _prepare_shared(ctx, entry):
    ctx.adaptations["shared"] = {"by": os.getpid()}


def _run_with_notes(ctx, entry, seed):
    """Both seeds at once (each waits for the other to start), each adding a shared and an own note and adaptation."""
    assert ctx.adaptations["shared"]["by"] != os.getpid()  # the main process's prepare reached the worker
    (ctx.out / f"started{seed}").touch()
    deadline = time.time() + 60
    while not (ctx.out / f"started{1 - seed}").exists() and time.time() < deadline:
        time.sleep(0.05)
    ctx.add_note("Shared note.")
    ctx.add_note(f"Note of seed {seed}.")
    ctx.adaptations[f"seed{seed}"] = {"seed": seed}
    return {"seed": seed, "accuracy": {"test_id": 0.5, "test_ood": 0.25}, "n": {"test_id": 8, "test_ood": 4},
            "pid": os.getpid()}  # fmt: skip


def _run_slow(ctx, entry, seed):
    time.sleep(3)
    (ctx.out / "slow-done").write_text(str(time.time()))
    return {"seed": seed, "accuracy": {"test_id": 0.1, "test_ood": 0.0}, "n": {"test_id": 8, "test_ood": 4}}


def _run_fast(ctx, entry, seed):
    (ctx.out / "fast-done").write_text(str(time.time()))
    return {"seed": seed, "accuracy": {"test_id": 0.2, "test_ood": 0.0}, "n": {"test_id": 8, "test_ood": 4}}


def _run_reader(ctx, entry, seed):
    assert (ctx.out / "slow-done").is_file()  # what it reads (its `after`) finished before it started
    return {"seed": seed, "accuracy": {"test_id": 0.3, "test_ood": 0.0}, "n": {"test_id": 8, "test_ood": 4}}


def _run_failing(ctx, entry, seed):
    if seed == 1:
        raise DataError("train.jsonl", "must be a non-empty string", line=3, field="completion")
    time.sleep(0.5)
    return {"seed": seed, "accuracy": {"test_id": 0.5, "test_ood": 0.25}, "n": {"test_id": 8, "test_ood": 4}}


class _Recorder(RunView):
    """A plain-line view that records how many runs it showed as current at once."""

    most_at_once = 0

    def start(self, label, *, counted=True):
        super().start(label, counted=counted)
        self.most_at_once = max(self.most_at_once, len(self.active))


SMALL = {"steps": 4, "batch_size": 4, "eval_limit": 8, "max_new_tokens": 24, "examples": 0}


@pytest.fixture(scope="module")
def pool(lab, tmp_path_factory):
    """Two workers for this module's tests (started once: a worker imports torch and transformers), on a demo of
    test size in ``pool.out``."""
    out = tmp_path_factory.mktemp("pool") / "demo"
    make_context = functools.partial(DemoContext, DemoConfig(output_dir=str(out), **SMALL), lab, out)
    with RunPool(make_context, 2, log=out / "console.log") as p:
        p.out = out
        yield p


@pytest.fixture
def one_thread():
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(RUN_THREADS)  # as the commands set it for the runs of the main process
    yield
    torch.set_num_threads(threads)


def test_two_workers_train_and_evaluate_exactly_as_this_process(lab, tmp_path, pool, one_thread):
    """DFT (the registry's entry: real training and evaluation) on 2 seeds, here one after the other and in the
    2 workers: the same loss per logged step, the same greedy generations and accuracies. A worker on another
    torch thread count, a seed run twice or runs merged out of seed order would differ."""
    entry = BY_NAME["dft"]
    here = DemoContext(DemoConfig(output_dir=str(tmp_path / "here"), **SMALL), lab, tmp_path / "here")
    there = DemoContext(DemoConfig(output_dir=str(pool.out), **SMALL), lab, pool.out)
    one = demo.run_entries(here, [entry], [0, 1])[0]["dft"]["runs"]
    two = demo.run_entries(there, [entry], [0, 1], pool=pool)[0]["dft"]["runs"]
    _assert_same_runs(one, two, tmp_path / "here", pool.out)
    log = (pool.out / "console.log").read_text()  # what the runs printed in the workers
    assert "== DFT seed 0 (worker process" in log and "== DFT seed 1 (worker process" in log
    assert log.count("(reasoning): 24 records") == 2


def test_notes_and_adaptations_of_the_workers_reach_the_context_once_in_seed_order(lab, pool, capsys):
    ctx = DemoContext(DemoConfig(output_dir=str(pool.out)), lab, pool.out)
    ctx.add_note("Shared note.")  # added before the entry ran: not repeated
    entry = DemoEntry("noted", "NOTED", "", "g", _run_with_notes, prepare=_prepare_shared)
    with _Recorder(2, title="test", log=pool.out / "console.log", live=False) as view:
        methods, _, _ = demo.run_entries(ctx, [entry], [0, 1], view=view, pool=pool)
    runs = methods["noted"]["runs"]
    assert [r["seed"] for r in runs] == [0, 1] and os.getpid() not in {r["pid"] for r in runs}
    assert ctx.notes == ["Shared note.", "Note of seed 0.", "Note of seed 1."]
    assert ctx.adaptations == {"shared": {"by": os.getpid()}, "seed0": {"seed": 0}, "seed1": {"seed": 1}}
    assert view.most_at_once == 2 and view.done == 2 and not view.active  # both shown as current, then done
    text = capsys.readouterr().out
    assert "run 1 of 2: NOTED seed" in text and "run 2 of 2: NOTED seed" in text and "2/2 runs done" in text


def test_an_error_in_a_worker_is_the_same_one_line_error_here(lab, pool):
    ctx = DemoContext(DemoConfig(output_dir=str(pool.out)), lab, pool.out)
    entry = DemoEntry("failing", "FAILING", "", "g", _run_failing)
    t0 = time.time()
    with pytest.raises(SftlabError) as caught:
        demo.run_entries(ctx, [entry], [0, 1], pool=pool)
    assert str(caught.value) == "train.jsonl:3: field 'completion': must be a non-empty string"
    assert time.time() - t0 < 30  # no wait for the other seed


def test_closing_on_an_error_ends_the_workers(lab, tmp_path):
    out = tmp_path / "demo"
    make_context = functools.partial(DemoContext, DemoConfig(output_dir=str(out)), lab, out)
    with pytest.raises(KeyboardInterrupt), RunPool(make_context, 2) as p:
        processes = list(p._executor._processes.values())
        busy = [p._executor.submit(time.sleep, 120) for _ in processes]  # runs in progress, not idle workers
        while not all(future.running() for future in busy):
            time.sleep(0.05)
        raise KeyboardInterrupt  # as a Ctrl-C in the main process
    # Asked of the system, not of is_alive(): the executor's own thread reaps the workers, and a second waitpid
    # from here can lose that race and read an exited worker as running. close() returns once each worker has
    # closed its files, which a process does just before the kernel ends it: allow that last moment.
    deadline = time.monotonic() + 10
    while any(_running(process.pid) for process in processes) and time.monotonic() < deadline:
        time.sleep(0.05)
    states = {process.pid: _running(process.pid) for process in processes}
    assert len(processes) == 2 and not any(states.values()) and p._executor is None, states


def _running(pid: int) -> bool:
    """Whether ``pid`` is a live process: not reaped and not a zombie (Linux's /proc; elsewhere signal 0)."""
    if os.path.isdir("/proc"):
        try:
            with open(f"/proc/{pid}/stat") as f:
                return f.read().rsplit(")", 1)[1].split()[0] != "Z"
        except (FileNotFoundError, ProcessLookupError):  # reaped before the open, or between the open and the read
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_workers_default_to_the_free_cores_one_on_a_gpu(monkeypatch):
    monkeypatch.setattr("sftlab.lab.model._free_cores", lambda: 8)
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    assert default_workers(None) == 8 and default_workers(2) == 2
    monkeypatch.setattr("torch.cuda.is_available", lambda: True)
    assert default_workers(None) == 1 and default_workers(3) == 3
    with pytest.raises(SftlabError, match="--workers: must be at least 1"):
        default_workers(0)


def test_independent_entries_run_at_once_and_the_report_keeps_the_list_order(pool):
    """``slow`` and ``fast`` read nothing of each other (after=()), so ``fast`` finishes first in the other worker;
    ``reader`` waits for ``slow`` (after=("slow",)); results, timings and sections come in the list's order."""
    entries = [
        DemoEntry("slow", "SLOW", "", "g", _run_slow, per_seed=False, after=()),
        DemoEntry("fast", "FAST", "", "g", _run_fast, per_seed=False, after=()),
        DemoEntry("reader", "READER", "", "g", _run_reader, per_seed=False, after=("slow",)),
    ]
    ctx = DemoContext(DemoConfig(output_dir=str(pool.out)), pool.make_context().lab, pool.out)
    methods, _, timings = demo.run_entries(ctx, entries, [0], pool=pool)
    assert list(methods) == list(timings) == list(ctx.results) == ["slow", "fast", "reader"]
    assert [m["runs"][0]["accuracy"]["test_id"] for m in methods.values()] == [0.1, 0.2, 0.3]
    fast, slow = (float((pool.out / f"{n}-done").read_text()) for n in ("fast", "slow"))
    assert fast < slow  # ran beside the slow one, not after it


def test_every_registered_entry_travels_to_a_worker():
    """A worker is sent the entry itself: every registered entry pickles (a section may be a closure; it stays
    behind, since only the main process draws sections) and arrives with the same run function and options."""
    import pickle

    for entry in BY_NAME.values():
        copy = pickle.loads(pickle.dumps(entry))
        assert (copy.name, copy.run, dict(copy.options)) == (entry.name, entry.run, dict(entry.options))
        assert copy.section is None and copy.prepare is None
