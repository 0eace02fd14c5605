"""The synthetic protein family, the character tokenizer, sequence files, and the protein pack in the loop."""

from __future__ import annotations

import pytest

pytest.importorskip("parasail", reason="the protein pack needs parasail (extra [protein])")

from sftlab.errors import DataError, SftlabError  # noqa: E402
from sftlab.methods.distill.protein import residue_at  # noqa: E402
from sftlab.methods.distill.protein_lab import (  # noqa: E402
    TAG,
    FamilyConfig,
    parse_conserved,
    protein_model,
    protein_tokenizer,
    read_sequences,
    synthetic_family,
)


def test_synthetic_family_invariants():
    cfg = FamilyConfig(n=40, length=100, seed=3)
    ref, family, conserved = synthetic_family(cfg)
    assert synthetic_family(cfg) == (ref, family, conserved)  # deterministic in the seed
    assert len(ref) == 100 and ref[0] == "M" and ref[81] == "K" and len(family) == 40
    assert {1, 80, 81, 82, 83, 84} <= set(conserved) and len(conserved) == 6 + 6
    assert all(s[0] == "M" for s in family)
    assert all(residue_at(s, ref, 82) == "K" for s in family)  # the conserved Lys survives indels
    lengths = {len(s) for s in family}
    assert len(lengths) > 3  # indels and tails make lengths vary
    assert any(s.index(ref[76:84]) != 76 for s in family if ref[76:84] in s)  # the motif moves in some members
    assert len(set(family)) == len(family)


def test_character_tokenizer_round_trip():
    tok = protein_tokenizer()
    ids = tok(TAG + "MKV")["input_ids"]
    assert ids[0] == tok.bos_token_id and len(ids) == 5  # <s> <TrpB> M K V
    assert tok.decode(ids, skip_special_tokens=True) == "MKV"
    assert tok("MKV", add_special_tokens=False)["input_ids"] == [tok.convert_tokens_to_ids(a) for a in "MKV"]
    model = protein_model(tok, hidden=32)
    assert model.config.vocab_size == len(tok) == 25


def test_read_sequences(tmp_path):
    fasta = tmp_path / "nat.fasta"
    fasta.write_text(">a\nMKV\nLLA\n\n>b desc\nmkq\n")
    assert read_sequences(str(fasta)) == ["MKVLLA", "MKQ"]
    plain = tmp_path / "nat.txt"
    plain.write_text("MKV\n\nMAA\n")
    assert read_sequences(str(plain)) == ["MKV", "MAA"]
    bad = tmp_path / "bad.txt"
    bad.write_text("MKV\nMK-V\n")
    with pytest.raises(DataError, match=r"bad.txt:2: not a sequence"):
        read_sequences(str(bad))
    with pytest.raises(DataError, match="file not found"):
        read_sequences(str(tmp_path / "missing.txt"))


def test_parse_conserved():
    assert parse_conserved("K82") == ("K", 82) and parse_conserved(" h7 ") == ("H", 7)
    for bad in ("82", "K", "KK2", "K0"):
        with pytest.raises(SftlabError, match="like K82"):
            parse_conserved(bad)


def test_protein_pack_in_the_loop(tmp_path):
    """One round on a random-init protein LM with the user's own natural set and reference."""
    from sftlab.methods.distill.loop import DistillConfig, run_distill

    ref, family, _ = synthetic_family(FamilyConfig(n=12, length=90, seed=1))
    (tmp_path / "natural.fasta").write_text("".join(f">s{i}\n{s}\n" for i, s in enumerate(family)))
    tok = protein_tokenizer()
    protein_model(tok, hidden=32).save_pretrained(tmp_path / "model")
    tok.save_pretrained(tmp_path / "model")
    result = run_distill(DistillConfig(
        pack="protein", model=str(tmp_path / "model"), prompts=TAG, natural=str(tmp_path / "natural.fasta"),
        reference=ref, conserved="K82", rounds=1, n=8, max_new_tokens=24, eval_size=8, train_steps=0, epochs=1.0,
        batch_size=4, filters="alphabet", output_dir=str(tmp_path / "run"), progress=False,
    ))  # fmt: skip
    rnd = result["sections"]["distill"]["rounds"][0]
    assert rnd["n_samples"] == 8 and [s["filter"] for s in rnd["filters"]] == ["alphabet"]
    assert rnd["n_survivors"] > 0 and rnd["train"]["steps"] == -(-rnd["n_survivors"] // 4)  # one epoch, batch 4
    ev = rnd["eval"]["protein"]
    assert ev["n"] == 8 and set(ev["pass_rates"]) == {"alphabet", "met_start", "length", "conserved", "novelty"}
    # 24 new tokens cannot reach the natural length window (about 90 residues)
    assert ev["pass_rates"]["length"] == 0.0 and ev["all_constraints"] == 0.0
    assert result["splits"] == ["all_constraints", "novel"] and (tmp_path / "run" / "report.html").exists()
