"""write_report: the files, a self-contained and escaped HTML, the printed numbers, atomic output."""

from __future__ import annotations

import base64
import io
import json
import re

import pytest

import sftlab.io
from sftlab.errors import SftlabError
from sftlab.report import Section, Table, section_markdown, write_report
from sftlab.report.plots import new_figure

PNG = b"\x89PNG\r\n\x1a\n"
# Hand-worked (see the fake_metrics fixture): base 0.40/0.40 -> 40.0 ± 0.0, 0.05/0.05 -> 5.0 ± 0.0;
# dft 0.50/0.56 -> mean 53.0, std 0.03*sqrt(2) = 4.24 -> 53.0 ± 4.2; 0.10/0.20 -> 15.0 ± 7.1 (0.1/sqrt(2)).
CELLS = ["40.0 ± 0.0", "5.0 ± 0.0", "53.0 ± 4.2", "15.0 ± 7.1"]


def _section() -> Section:
    fig = new_figure(3, 2)
    fig.add_subplot().plot([0, 1], [0, 1])
    other = new_figure(2, 2)
    other.add_subplot().bar([0], [1])
    buf = io.BytesIO()
    other.savefig(buf, format="png")
    images = {"accuracy vs budget": fig, "clusters": buf.getvalue()}  # a Figure and PNG bytes
    return Section(
        "S2L selection",
        paragraphs=["selected **subsets** <of> data"],
        images=images,
        tables=[
            Table(["subset", "acc"], [["S2L at 10%", "1.0 ± 0.0"], ["<b>", None]]),
            Table(["example"], [["not in summary"]], summary=False),
        ],
    )


def test_files_written(tmp_path, fake_metrics):
    out = write_report(tmp_path / "o", fake_metrics, sections=[_section()])
    expected = {"metrics.json", "report.html", "summary.md", "plots/accuracy.png", "plots/training_curves.png",
                "plots/s2l-selection-accuracy-vs-budget.png", "plots/s2l-selection-clusters.png"}  # fmt: skip
    assert set(out) == expected
    for rel, path in out.items():
        assert path == tmp_path / "o" / rel and path.is_file() and path.stat().st_size > 0
    for rel in expected:
        if rel.endswith(".png"):
            assert out[rel].read_bytes()[:8] == PNG
    assert not list((tmp_path / "o").rglob("*.tmp"))


def test_html_self_contained_and_escaped(tmp_path, fake_metrics):
    out = write_report(tmp_path, fake_metrics, sections=[_section()])
    page = out["report.html"].read_text(encoding="utf-8")
    assert "http://" not in page and "https://" not in page and 'src="http' not in page
    assert "<link" not in page and "<script" not in page and "@import" not in page and "url(" not in page
    srcs = re.findall(r'src="([^"]*)"', page)
    assert len(srcs) == 4 and all(s.startswith("data:image/png;base64,") for s in srcs)
    # the embedded images are the saved plots, byte for byte
    embedded = {base64.b64decode(s.split(",", 1)[1]) for s in srcs}
    assert embedded == {p.read_bytes() for rel, p in out.items() if rel.endswith(".png")}
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page  # examples, notes, config
    assert "report test &lt;b&gt;" in page
    # a section is data: its text escaped, **bold** marked up, its tables rendered here
    assert "<p>selected <b>subsets</b> &lt;of&gt; data</p>" in page
    assert "<tr><td>S2L at 10%</td><td>1.0 ± 0.0</td></tr><tr><td>&lt;b&gt;</td><td></td></tr>" in page


def test_numbers_in_html_and_markdown(tmp_path, fake_metrics):
    out = write_report(tmp_path, fake_metrics)
    page = out["report.html"].read_text(encoding="utf-8")
    summary = out["summary.md"].read_text(encoding="utf-8")
    for cell in CELLS:
        assert cell in page and cell in summary
    assert "61 s" in page  # DFT's mean training time (60 s, 62 s)
    assert "| method | in-domain (n=400) | out-of-domain (n=400) | seeds | train time |" in summary
    assert "| --- | ---: | ---: | ---: | ---: |" in summary
    assert "| DFT | 53.0 ± 4.2 [14.9, 91.1] | 15.0 ± 7.1 [0.0, 78.5] | 2 | 61 s |" in summary
    assert "| base model | 40.0 ± 0.0 [40.0, 40.0] | 5.0 ± 0.0 [5.0, 5.0] | 2 | – |" in summary
    assert "- a documented ablation" in summary
    assert len(summary.splitlines()) < 20


def test_given_summary_is_shown(tmp_path, fake_metrics):
    fake_metrics["methods"]["base"]["summary"] = {
        "test_id": {"mean": 0.123, "std": 0.0, "n_seeds": 2},
        "test_ood": {"mean": 0.05, "std": 0.0, "n_seeds": 2},
    }
    summary = write_report(tmp_path, fake_metrics)["summary.md"].read_text(encoding="utf-8")
    assert "| base model | 12.3 ± 0.0 |" in summary


def test_section_markdown_and_html(tmp_path, fake_metrics):
    out = write_report(tmp_path, fake_metrics, sections=[_section()])
    summary = out["summary.md"].read_text(encoding="utf-8")
    assert "### S2L selection\n\n| subset | acc |\n| --- | --- |\n| S2L at 10% | 1.0 ± 0.0 |\n| <b> |  |\n" in summary
    assert "not in summary" not in summary
    assert section_markdown(_section()).startswith("## S2L selection\n\nselected **subsets** <of> data\n\n| subset |")
    assert "accuracy vs budget</figcaption>" in out["report.html"].read_text(encoding="utf-8")


def test_no_curves_no_curve_plot(tmp_path, fake_metrics):
    del fake_metrics["methods"]["dft"]
    out = write_report(tmp_path, fake_metrics)
    assert "plots/training_curves.png" not in out and not (tmp_path / "plots" / "training_curves.png").exists()
    assert "Training curves" not in out["report.html"].read_text(encoding="utf-8")


def test_metrics_json_round_trips(tmp_path, fake_metrics):
    out = write_report(tmp_path, fake_metrics)
    assert json.loads(out["metrics.json"].read_text(encoding="utf-8")) == fake_metrics


def test_unserializable_metrics_write_nothing(tmp_path, fake_metrics):
    fake_metrics["config"]["bad"] = object()
    with pytest.raises(TypeError, match="not JSON serializable"):
        write_report(tmp_path / "o", fake_metrics)
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def test_failed_write_leaves_old_file_and_no_partial(tmp_path, fake_metrics, monkeypatch):
    write_report(tmp_path, fake_metrics)
    old = (tmp_path / "report.html").read_bytes()
    real_replace = sftlab.io.os.replace

    def failing_replace(src, dst):
        if str(dst).endswith("report.html"):
            raise OSError("disk full")
        return real_replace(src, dst)

    monkeypatch.setattr(sftlab.io.os, "replace", failing_replace)
    fake_metrics["title"] = "second run"
    with pytest.raises(OSError, match="disk full"):
        write_report(tmp_path, fake_metrics)
    assert (tmp_path / "report.html").read_bytes() == old
    assert not [p for p in tmp_path.rglob("*") if p.name.startswith(".")]  # no temporary files or folders


def test_bad_section_image_writes_nothing(tmp_path, fake_metrics):
    with pytest.raises(SftlabError, match="image 'x': expected a matplotlib Figure or PNG bytes"):
        write_report(tmp_path / "o", fake_metrics, sections=[Section("S", images={"x": "not an image"})])
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda m: m.pop("splits"), "'splits' must be a non-empty list"),
        (lambda m: m.update(methods={}), "'methods' must be a non-empty dict"),
        (lambda m: m["methods"]["dft"].pop("runs"), r"methods\['dft'\]: 'runs' must be a list"),
        (lambda m: m["methods"]["dft"]["runs"][1].pop("accuracy"), r"methods\['dft'\].runs\[1\]: 'accuracy'"),
    ],
)
def test_bad_metrics_one_clear_error(tmp_path, fake_metrics, edit, message):
    edit(fake_metrics)
    with pytest.raises(SftlabError, match=message):
        write_report(tmp_path / "o", fake_metrics)
    assert not (tmp_path / "o").exists()
