"""The demo entry: one proxy shared by every budget and seed, a run per (method, budget, seed), a report section."""

from types import SimpleNamespace

from sftlab.data import load_sft_data
from sftlab.selection.demo import S2LDemoSettings, demo_entry


def test_demo_entry_with_a_stub_trainer(setup, tmp_path):
    _, data_path, model_dir, _ = setup
    calls = []

    def train_eval(path, *, seed, name):
        """Stands in for SFT + evaluation: 'accuracy' is the share of word problems in the subset."""
        records = load_sft_data(path).records
        calls.append((name, seed, len(records)))
        share = sum(r["src"] == "words" for r in records) / len(records)
        return {"seed": seed, "accuracy": {"test_id": share, "test_ood": share / 2}, "n": {"test_id": 1, "test_ood": 1}}

    ctx = SimpleNamespace(output_dir=tmp_path, quick=False, seeds=[0, 1], train_eval=train_eval,
                          lab=SimpleNamespace(model_dir=model_dir, data={"train": data_path}),
                          full_runs=[{"seed": 0, "accuracy": {"test_id": 0.25, "test_ood": 0.125}}])
    settings = S2LDemoSettings(budgets=(0.1, 0.5), n_checkpoints=2, proxy_epochs=1.0, n_clusters=4, max_length=48)
    out = demo_entry(ctx, settings)

    assert list(out["methods"]) == ["s2l@10%", "random@10%", "s2l@50%", "random@50%"]
    assert sorted(calls) == sorted((k, s, {"10": 4, "50": 20}[k.split("@")[1][:-1]])
                                   for k in out["methods"] for s in (0, 1))
    for m in out["methods"].values():
        assert [r["seed"] for r in m["runs"]] == [0, 1]
    # one proxy for everything: a single proxy folder with its two checkpoints
    proxies = list(tmp_path.glob("s2l/**/proxy"))
    assert len(proxies) == 1 and len(list(proxies[0].glob("checkpoint-*"))) == 2
    (section,) = out["sections"]
    assert "S2L" in section.title and len(section.images) == 1 and "S2L 10%" in section.markdown
