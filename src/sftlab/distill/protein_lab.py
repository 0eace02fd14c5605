"""A lab-scale protein setting: a synthetic TrpB-like family, a character tokenizer, a tiny protein LM.

**The sequences are synthetic**, made here so the example runs offline in
minutes; they are not real TrpB enzymes and say nothing about real proteins.

- A *reference* sequence of ``length`` residues is drawn from the background
  amino-acid frequencies of UniProtKB/Swiss-Prot, with Met at position 1 and a
  Lys at ``position`` (82, echoing Lys82 of pfTrpB).
- A few positions are *conserved*: 1, the motif ``position-2 .. position+2``
  and ``n_conserved`` others drawn at random. They never change.
- The family is a two-level tree: ``n_clades`` clade ancestors, each the
  reference with a share ``clade_rate`` of its free positions substituted; each
  member is its clade ancestor with a share ``member_rate`` substituted. A
  substitution draws the new residue from the background frequencies (an
  F81-like model). Each member also gets a Poisson(``indel_rate``) number of
  short insertions or deletions (1-3 residues, never touching a conserved
  position) and a C-terminus trimmed or extended by up to ``tail`` residues,
  so lengths vary and the conserved Lys moves in sequence coordinates.

The tiny LM is a Llama built from a config over a character-level tokenizer
(20 amino acids + ``<pad> <s> </s> <unk>`` and the family tag ``<TrpB>``,
which is the prompt: the model writes a whole sequence after it).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .protein import AMINO_ACIDS

TAG = "<TrpB>"
SPECIALS = ["<pad>", "<s>", "</s>", "<unk>", TAG]

# approximate amino-acid composition of UniProtKB/Swiss-Prot, percent
_BACKGROUND = {
    "A": 8.25, "C": 1.38, "D": 5.46, "E": 6.72, "F": 3.86, "G": 7.07, "H": 2.27, "I": 5.91, "K": 5.80, "L": 9.64,
    "M": 2.41, "N": 4.06, "P": 4.74, "Q": 3.93, "R": 5.53, "S": 6.65, "T": 5.36, "V": 6.86, "W": 1.10, "Y": 2.92,
}  # fmt: skip
BACKGROUND = np.array([_BACKGROUND[a] for a in AMINO_ACIDS]) / sum(_BACKGROUND.values())


@dataclass
class FamilyConfig:
    seed: int = field(default=0, metadata={"help": "seed of the synthetic family"})
    n: int = field(default=256, metadata={"help": "number of natural (family) sequences"})
    length: int = field(default=120, metadata={"help": "reference sequence length"})
    position: int = field(default=82, metadata={"help": "1-based position of the conserved Lys in the reference"})
    n_conserved: int = field(default=6, metadata={"help": "extra conserved positions drawn at random"})
    n_clades: int = field(default=4, metadata={"help": "clades in the family tree"})
    clade_rate: float = field(default=0.15, metadata={"help": "substituted share of free positions, reference -> clade ancestor"})
    member_rate: float = field(default=0.10, metadata={"help": "substituted share of free positions, clade ancestor -> member"})
    indel_rate: float = field(default=1.0, metadata={"help": "mean number of short indels per member"})
    tail: int = field(default=6, metadata={"help": "largest C-terminal trim or extension"})


def _draw(rng, k: int) -> str:
    return "".join(rng.choice(list(AMINO_ACIDS), size=k, p=BACKGROUND))


def _substitute(rng, seq: list[str], free: np.ndarray, rate: float) -> list[str]:
    seq = list(seq)
    for i in free[rng.random(len(free)) < rate]:
        seq[i] = AMINO_ACIDS[rng.choice(20, p=BACKGROUND)]
    return seq


def synthetic_family(cfg: FamilyConfig | None = None) -> tuple[str, list[str], list[int]]:
    """Return ``(reference, natural sequences, conserved 1-based positions)``; deterministic in ``cfg.seed``."""
    cfg = cfg or FamilyConfig()
    if not 3 <= cfg.position <= cfg.length - 3:
        raise ValueError(f"position {cfg.position} must leave room for its motif inside length {cfg.length}")
    rng = np.random.default_rng(cfg.seed)
    ref = ["M"] + list(_draw(rng, cfg.length - 1))
    ref[cfg.position - 1] = "K"
    motif = set(range(cfg.position - 3, cfg.position + 2))  # 0-based: position-2 .. position+2
    others = rng.choice([i for i in range(1, cfg.length) if i not in motif], size=cfg.n_conserved, replace=False)
    conserved = {0} | motif | {int(i) for i in others}
    free = np.array([i for i in range(cfg.length) if i not in conserved])
    clades = [_substitute(rng, ref, free, cfg.clade_rate) for _ in range(cfg.n_clades)]
    family = []
    for k in range(cfg.n):
        seq = _substitute(rng, clades[k % cfg.n_clades], free, cfg.member_rate)
        fixed = [i in conserved for i in range(len(seq))]  # tracks conserved residues through indels
        for _ in range(rng.poisson(cfg.indel_rate)):
            size, at = int(rng.integers(1, 4)), int(rng.integers(1, len(seq)))
            if rng.random() < 0.5:  # insertion before index `at`
                seq[at:at] = list(_draw(rng, size))
                fixed[at:at] = [False] * size
            elif not any(fixed[at : at + size]):  # deletion of seq[at : at + size]
                del seq[at : at + size], fixed[at : at + size]
        change = int(rng.integers(-cfg.tail, cfg.tail + 1))
        if change > 0:
            seq += list(_draw(rng, change))
        elif change < 0 and not any(fixed[change:]):
            seq = seq[:change]
        family.append("".join(seq))
    return "".join(ref), family, sorted(i + 1 for i in conserved)


def protein_tokenizer(model_max_length: int = 512):
    """Character-level tokenizer: one token per amino acid, BOS added in front, ``<TrpB>`` as one token."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {t: i for i, t in enumerate(SPECIALS + list(AMINO_ACIDS))}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")  # every character alone
    tok.decoder = decoders.Fuse()  # join characters without spaces
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", vocab["<s>"])])
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>", unk_token="<unk>",
        additional_special_tokens=[TAG], model_max_length=model_max_length,
    )  # fmt: skip


def protein_model(tokenizer, hidden: int = 64, layers: int = 2, seed: int = 0):
    """A tiny Llama for sequences of a few hundred residues, initialized from ``seed``."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=layers,
        num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=512, tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
    )  # fmt: skip
    return LlamaForCausalLM(cfg)
