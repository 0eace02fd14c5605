"""Trainers: one TRL config + trainer pair per method family, and the reward functions they take.

- :mod:`.sft`: ``SFTLabConfig`` / ``SFTLabTrainer`` (token-level objectives: nll, dft, power, asft);
- :mod:`.irft`: ``IRFTConfig`` / ``IRFTTrainer`` (IRL pairwise link on DPOTrainer);
- :mod:`.nft`: ``NFTConfig`` / ``NFTTrainer`` (NFT's loss on GRPOTrainer);
- :mod:`.rewards`: verifier reward for GRPO-family trainers.

The commands that drive them are in :mod:`sftlab.methods`.
"""

from .sft import SFTLabConfig, SFTLabTrainer

__all__ = ["SFTLabConfig", "SFTLabTrainer"]
