"""IRL from demonstrations (arXiv 2405.17888): IRFT and SPIN (implicit reward), RFT (explicit reward).

- :mod:`.config`: ``IRLConfig`` (``sftlab train --method irft|spin|rft``), checked when built;
- :mod:`.common`: demonstrations, generated pairs, iteration chunks, run bookkeeping;
- :mod:`.loop`: IRFT / SPIN iterations on :class:`sftlab.trainers.irft.IRFTTrainer`;
- :mod:`.rft`: RFT (a reward model with TRL's RewardTrainer, then GRPO on it).
"""

from .config import CHUNKING, METHODS, IRLConfig
from .loop import run_irl

__all__ = ["CHUNKING", "IRLConfig", "METHODS", "run_irl"]
