"""Protein pack: alignment-based checks on hand-built sequences."""

from __future__ import annotations

import pytest

pytest.importorskip("parasail", reason="the protein pack needs parasail (extra [protein])")

from sftlab.errors import SftlabError  # noqa: E402
from sftlab.methods.distill.filters import Candidate, FilterChain, FilterContext, build_filters  # noqa: E402
from sftlab.methods.distill.protein import (  # noqa: E402
    ConservedConfig,
    ConservedResidueFilter,
    ProteinPackConfig,
    StartResidueFilter,
    align,
    identity,
    max_identity,
    protein_filters,
    protein_metrics,
    residue_at,
)

# 30 residues, no repeats near position 20 (a K), so the alignment is unambiguous
REF = "MSTWHEQFGNDCRPAVILYKWNMEDHCGQT"
assert REF[19] == "K"


def test_identity_hand_worked():
    # MKTAYIAK / MKT-YIAK: 7 identical pairs over 8 columns
    assert align("MKTAYIAK", "MKTYIAK") == ("MKTAYIAK", "MKT-YIAK")
    assert identity("MKTAYIAK", "MKTYIAK") == pytest.approx(7 / 8)
    # no gap is worth opening for one substitution: MKV / MKL, 2 of 3
    assert identity("MKV", "MKL") == pytest.approx(2 / 3)
    assert identity(REF, REF) == 1.0
    assert identity("", "MK") == 0.0
    assert max_identity(["MKTAYIAK", "MKV"], ["MKTYIAK", "MKL", "MKV"]) == pytest.approx([7 / 8, 1.0])


def test_conserved_residue_found_after_insertion_and_deletion():
    insertion = REF[:5] + "GGG" + REF[5:]  # the K moves to index 22
    deletion = REF[:6] + REF[8:]  # two residues gone: the K moves to index 17
    mutated = REF[:19] + "R" + REF[20:]
    assert insertion[22] == "K" and deletion[17] == "K"
    assert residue_at(REF, REF, 20) == "K"
    assert residue_at(insertion, REF, 20) == "K"
    assert residue_at(deletion, REF, 20) == "K"
    assert residue_at(mutated, REF, 20) == "R"
    assert residue_at(REF[:15], REF, 20) is None  # truncated: position 20 faces a gap
    flt = ConservedResidueFilter(ConservedConfig(reference=REF, position=20, residue="K"))
    items = [Candidate("", s) for s in (insertion, deletion, mutated, REF[:15])]
    assert flt.keep(items) == [True, True, False, False]


def test_conserved_filter_checks_the_reference():
    with pytest.raises(SftlabError, match="has 'Y' at position 19"):
        ConservedResidueFilter(ConservedConfig(reference=REF, position=19, residue="K"))
    with pytest.raises(SftlabError, match="outside the reference"):
        ConservedResidueFilter(ConservedConfig(reference=REF, position=31, residue="K"))
    with pytest.raises(SftlabError, match="reference sequence is required"):
        build_filters("conserved", FilterContext())


def test_met_start():
    items = [Candidate("", s) for s in ("MKV", " MKV", "KMV", "")]
    assert StartResidueFilter().keep(items) == [True, True, False, False]


def test_pack_chain_cheapest_first():
    natural = [REF, REF[:5] + "GGG" + REF[5:], REF[:6] + REF[8:]]  # lengths 30, 33, 28: mean 30.33, std 2.05
    cfg = ProteinPackConfig(reference=REF, position=20, residue="K", max_identity=0.9)
    chain = FilterChain(protein_filters(natural, cfg))
    assert [f.name for f in chain.filters] == ["met_start", "alphabet", "length", "conserved", "novelty"]
    novel = "MSTWHEQFGNDARPAVILYKWNLEDHAGQT"  # 3 substitutions from REF: identity 27/30 = 0.9 -> not novel
    novel2 = "MSTWHEQFGNDARPAVILYKWNLEDHAGQA"  # 4 substitutions: 26/30 < 0.9
    items = [
        Candidate("", "KSTWHEQFGNDCRPAVILYKWNMEDHCGQT"),  # no Met
        Candidate("", "MSTWHEQFGNDCRPAVILYKWNMEDHCGQX"),  # not a standard residue
        Candidate("", REF[:20]),  # too short (window 26.2 .. 34.4)
        Candidate("", REF[:19] + "R" + REF[20:-3] + "QQQQ"),  # conserved K lost
        Candidate("", REF),  # identical to a natural sequence
        Candidate("", novel),
        Candidate("", novel2),
    ]
    assert identity(novel, REF) == pytest.approx(0.9) and identity(novel2, REF) == pytest.approx(26 / 30)
    result = chain.run(items)
    assert result.removed_by == ["met_start", "alphabet", "length", "conserved", "novelty", "novelty", None]
    assert [s["removed"] for s in result.stats] == [1, 1, 1, 1, 2]

    metrics = protein_metrics([c.completion for c in items], natural, cfg)
    assert metrics["n"] == 7
    assert metrics["all_constraints"] == pytest.approx(1 / 7)
    assert metrics["pass_rates"]["met_start"] == pytest.approx(6 / 7)  # each constraint on every sequence
    assert metrics["pass_rates"]["length"] == pytest.approx(6 / 7)
    assert metrics["unique"] == 1.0


def test_pack_filters_by_name():
    built = build_filters(
        [
            "met_start",
            "alphabet",
            {"name": "conserved", "reference": REF, "position": 20, "residue": "K"},
            "novelty:metric=alignment:max_identity=0.95",
        ],
        FilterContext(reference_texts=[REF]),
    )
    assert [f.name for f in built] == ["met_start", "alphabet", "conserved", "novelty"]
    assert built[3].keep([Candidate("", REF), Candidate("", REF[:10] + "AAAAA" + REF[15:])]) == [False, True]
