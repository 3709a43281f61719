"""The TL-Training trainer: MAE data filtering -> PKT-SFT -> IRM-PPO. Run with `python -m tl_fast.train`."""
