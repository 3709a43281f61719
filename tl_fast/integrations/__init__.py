"""tl_fast inside the trainers people already run. Each module holds one framework's glue and calls the same
core functions as tl_fast's own trainer (tl_fast.losses, tl_fast.data, tl_fast.reward):

    from tl_fast.integrations.transformers import PKTCollator, PKTTrainer  # HF Trainer, PKT-SFT
    from tl_fast.integrations.trl import PKTSFTTrainer, IRMReward  # TRL SFT, GRPO: pip install 'tl_fast[trl]'
    from tl_fast.integrations.verl import compute_score  # verl custom_reward_function
    from tl_fast.integrations.openrlhf import reward_func  # OpenRLHF --remote_rm_url file

Importing this package imports none of them (TRL stays optional); docs/integrations.md has a snippet for each.
"""

__all__ = ["openrlhf", "transformers", "trl", "verl"]
