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
    length: int = field(default=100, metadata={"help": "reference sequence length"})
    position: int = field(default=82, metadata={"help": "1-based position of the conserved Lys in the reference"})
    n_conserved: int = field(default=6, metadata={"help": "extra conserved positions drawn at random"})
    n_clades: int = field(default=4, metadata={"help": "clades in the family tree"})
    clade_rate: float = field(
        default=0.15, metadata={"help": "substituted share of free positions, reference -> clade ancestor"}
    )
    member_rate: float = field(
        default=0.10, metadata={"help": "substituted share of free positions, clade ancestor -> member"}
    )
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


# ---------------------------------------------------------------- the protein pack's task for the loop

BASE_STEPS = 200  # optimizer steps of the lab protein LM's training on the natural set


def read_sequences(path: str) -> list[str]:
    """Sequences from a FASTA file or from a file with one sequence per line (letters only)."""
    from pathlib import Path

    from sftlab.errors import DataError

    p = Path(path)
    if not p.is_file():
        raise DataError(path, "file not found")
    seqs: list[str] = []
    fasta = False
    for lineno, line in enumerate(p.read_text(encoding="utf-8").splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        if line.startswith(">"):
            fasta = True
            seqs.append("")
            continue
        if not line.isalpha():
            raise DataError(path, f"not a sequence of residue letters: {line[:40]!r}", line=lineno)
        if fasta:
            if not seqs:
                raise DataError(path, "sequence before the first '>' header", line=lineno)
            seqs[-1] += line.upper()
        else:
            seqs.append(line.upper())
    seqs = [s for s in seqs if s]
    if not seqs:
        raise DataError(path, "no sequences found")
    return seqs


def parse_conserved(text: str) -> tuple[str, int]:
    """``"K82"`` -> ``("K", 82)``."""
    from sftlab.errors import SftlabError

    text = text.strip()
    if len(text) < 2 or not text[0].isalpha() or not text[1:].isdigit() or int(text[1:]) < 1:
        raise SftlabError(
            f"distill: field 'conserved': expected a residue and a 1-based position like K82, got {text!r}"
        )
    return text[0].upper(), int(text[1:])


def ensure_protein_lm(root, natural: list[str], prompt: str, seed: int = 0, steps: int = BASE_STEPS,
                      progress: bool = True) -> str:  # fmt: skip
    """Train (once) the tiny protein LM on ``natural`` and return its path ``root/model``.

    A fresh Llama (:func:`protein_model`) is saved to ``root/init`` and
    fine-tuned with ``sftlab.trainers.run_train`` on prompt/completion records
    ``(prompt, sequence)``, so the loss covers the sequence and its EOS.
    """
    from pathlib import Path

    from sftlab.io import atomic_write_jsonl
    from sftlab.methods.sft import TrainConfig, run_train

    root = Path(root)
    model_dir = root / "model"
    if (model_dir / "train_summary.json").exists():
        return str(model_dir)
    init = root / "init"
    if not (init / "config.json").exists():
        tok = protein_tokenizer()
        model = protein_model(tok, seed=seed)
        tok.save_pretrained(init)
        model.save_pretrained(init)
    atomic_write_jsonl(root / "natural.jsonl", [{"prompt": prompt, "completion": s} for s in natural])
    run_train(
        TrainConfig(
            model=str(init),
            data=str(root / "natural.jsonl"),
            output_dir=str(model_dir),
            max_steps=steps,
            learning_rate=3e-3,
            warmup_ratio=0.05,
            per_device_train_batch_size=16,
            max_length=512,
            on_overlength="truncate",
            logging_steps=max(1, steps // 20),
            save_steps=max(1, steps // 3),
            save_total_limit=1,
            seed=seed,
            resume=model_dir.exists(),
            progress=progress,
        )  # fmt: skip
    )
    for sub in model_dir.glob("checkpoint-*"):
        import shutil

        shutil.rmtree(sub, ignore_errors=True)
    return str(model_dir)


def protein_task(cfg):
    """The protein pack for :func:`sftlab.methods.distill.loop.run_distill` (``cfg`` is a DistillConfig)."""
    from pathlib import Path

    from sftlab.errors import SftlabError

    from .protein import ProteinPackConfig, constraint_flags, protein_metrics
    from .tasks import Task

    out = Path(cfg.output_dir)
    residue, position = parse_conserved(cfg.conserved)
    if cfg.natural:
        natural = read_sequences(cfg.natural)
        if not cfg.reference:
            raise SftlabError("distill --pack protein: with --natural, give --reference (a sequence or a file)")
        family_reference = None
    else:
        family_reference, natural, _ = synthetic_family(FamilyConfig(seed=cfg.seed, position=position))
    reference = family_reference
    if cfg.reference:
        ref_path = Path(cfg.reference)
        reference = read_sequences(cfg.reference)[0] if ref_path.is_file() else cfg.reference.strip().upper()
    prompt = cfg.prompts if cfg.prompts is not None else TAG
    if cfg.model:
        base = cfg.model
    elif cfg.natural is None and cfg.prompts is None:
        base = ensure_protein_lm(out / "protein-lab", natural, prompt, seed=cfg.seed, progress=cfg.progress)
    else:
        raise SftlabError("distill --pack protein: give --model when --natural or --prompts is set (the lab protein LM "
                          "is trained only on the synthetic family)")  # fmt: skip
    pack = ProteinPackConfig(reference=reference, position=position, residue=residue, max_identity=cfg.max_identity)

    def evaluate(model, tokenizer, out_dir, seed: int) -> dict:
        from sftlab.generation import SamplingConfig, generate

        sampling = SamplingConfig(max_new_tokens=cfg.max_new_tokens, temperature=cfg.temperature, top_p=cfg.top_p,
                                  n=cfg.eval_size, seed=10_000 + seed)  # fmt: skip
        seqs = [s.strip() for s in generate(model, tokenizer, [prompt], sampling, progress=cfg.progress)[0]]
        metrics = protein_metrics(seqs, natural, pack)
        flags, _ = constraint_flags(seqs[:4], natural, pack)
        failed = [[name for name, ok in flags.items() if not ok[i]] for i in range(len(seqs[:4]))]
        return {
            "accuracy": {"all_constraints": metrics["all_constraints"], "novel": metrics["novel"]},
            "n": {"all_constraints": metrics["n"], "novel": metrics["n"]},
            "protein": metrics,
            "examples": [
                {
                    "prompt": prompt,
                    "completion": s,
                    "answer": "fails: " + ", ".join(f) if f else "meets all constraints",
                    "correct": not f,
                }
                for s, f in zip(seqs, failed)
            ],  # fmt: skip
        }

    return Task(
        base_model=base, prompts=[{"prompt": prompt, "answer": None}],
        original=[{"prompt": prompt, "completion": s} for s in natural], reference_texts=natural,
        default_filters=["alphabet", "met_start", "length", "conserved", "novelty"],
        filter_defaults={
            "conserved": {"reference": reference, "position": position, "residue": residue},
            "novelty": {"metric": "alignment", "max_identity": cfg.max_identity},
            "length": {"k": 2.0, "unit": "chars"},
        },
        evaluate=evaluate, splits=["all_constraints", "novel"],
        labels={"all_constraints": "meets all constraints", "novel": f"novel (max identity < {cfg.max_identity:g})"},
        title="self-distillation (protein pack, synthetic family)" if cfg.natural is None else "self-distillation (protein)",
    )  # fmt: skip
