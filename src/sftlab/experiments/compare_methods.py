"""What ``sftlab compare`` knows of each method beyond its entry: the settings compare decides itself, what a method
needs of the inputs (checked by :mod:`.compare_plan` before anything loads), what it shares with others and where its
settings come from (read by :mod:`.compare`'s keys and runs)."""

from __future__ import annotations

from sftlab.methods.dart.config import DartConfig

from .entries import irl as irl_entry

# settings compare decides for every method (the inputs, where runs go, what is shared by the evaluation)
RESERVED = {
    "model": "--model",
    "data": "--data",
    "output_dir": "--output-dir",
    "seed": "--seeds",
    "objective": "the method",
    "prompt_template": "--prompt-template",
    "trust_remote_code": "--trust-remote-code",
    "progress": "compare",
    "resume": "compare",
    "method": "the method",
    "prompts": "--data",
    "pack": "compare (the math pack)",
    "evaluate": "compare's own evaluation (--eval)",
    "label_field": "--label-field",
    "compare": "compare (the landscape reads the sft and dft runs)",
    "shot_pool": "--data",
    "proxy_model": "--proxy-model",
    "proxy_checkpoints": "compare (it trains --proxy-model on --data)",
    "work_dir": "compare (the proxy's trajectories are shared by the seeds)",
    "mapper": "--mapper-model",
}


# the methods that need compare's optional model flags: without the flag, one line before anything runs
NEEDS_PROXY = {
    "s2l": "S2L needs a small proxy model whose loss trajectories on --data it clusters",
    "random-subset": "random-subset is S2L's baseline (S2L's budget, drawn at random) and runs with S2L's proxy model",
}
FLAG_USERS = {  # flag -> the methods that read it, and what to say when --methods names none of them
    "proxy_model": (set(NEEDS_PROXY), "only s2l and random-subset use a proxy model, and --methods names neither"),
    "mapper_model": ({"dart"}, "only dart uses a mapper model, and --methods does not name it"),
}


# methods whose reward or filter is a verifier: the training set must hold reference answers
NEEDS_ANSWERS = {
    "nft": "NFT rewards sampled answers by checking them against the training set's reference answers",
    "direct-rl": "direct RL (GRPO with the correctness reward) checks sampled answers against the training set's "
    "reference answers",
    "distill": "self-distillation keeps the samples whose answer matches the training set's reference answer",
    "dart": "DART's gate keeps a rewrite only if its answer matches the training set's reference answer",
}


# GRPO prompts and DART's rewrites are the records' questions and solutions: question/solution/answer records only
NEEDS_REASONING = {"direct-rl", "dart"}


# IRFT, SPIN and RFT start from the SFT run of the same seed (the sft method's run, shared when sft is compared too)
STARTS_FROM_SFT = {"irft", "spin", "rft"} if irl_entry.START == "sft" else set()

# S2L, random-subset and DART fine-tune --model on their data (a subset, the adapted set) with the SFT recipe, as sft
# does on the whole set: the rows differ in the data alone
TRAINS_WITH_SFT = {"s2l", "random-subset", "dart"}

# random-subset draws S2L's budget at random: it takes these of s2l's settings (--set s2l.FIELD), no recipe of its own
RANDOM_FIELDS = ("budget", "stratify_by", "source_split")

# a recipe of a larger command, read (and checked) as that command's; the method keeps the fields of its own config
# class (DART's adaptation: configs/dart.yaml is sftlab dart's, whose fine-tuning part compare takes from sft)
READ_AS = {"dart": DartConfig}

# what the seeds of a method share, computed once by its entry's ``prepare`` and cached in runs/<step>/<key>/: step
# -> (the method whose settings it reads, those of its fields it depends on (None: all), the inputs it reads)
PROXY_FIELDS = ("n_checkpoints", "proxy_epochs", "proxy_max_steps", "proxy_learning_rate", "proxy_warmup_ratio",
                "proxy_batch_size", "proxy_micro_batch_size", "max_length", "seed", "proxy_seed")  # fmt: skip
SHARED_STEPS = {
    "s2l-proxy": ("s2l", PROXY_FIELDS, ("proxy", "data")),
    "dart-adapt": ("dart", None, ("model", "mapper", "data")),
}


# what compare sets unless a recipe or --set says otherwise, where the method has the field
COMPARE_DEFAULTS = {
    "logging_steps": 1,  # every step logged: the curves' points, and "tokens trained" read from the last log
    "keep_checkpoints": False,  # IRL: an iteration's model is deleted once the next is complete (one model per run)
}


HELP = {
    "TrainConfig": "sftlab train --help",
    "IRLConfig": "sftlab train --method irft --help",
    "NFTTrainConfig": "sftlab train --method nft --help",
    "DartConfig": "sftlab dart --help",
    "DistillConfig": "sftlab distill --help",
    "SelectConfig": "sftlab select --help",
    "AdaptConfig": "sftlab adapt --help",
}
