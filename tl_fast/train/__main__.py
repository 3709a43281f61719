"""python -m tl_fast.train — TL-Training end to end.

The trainer itself lands with the trainer issue; until then this entry point prints what each stage does and
exits, so nothing here pretends to train.
"""

from __future__ import annotations

import argparse
import sys

STAGES = """\
stages (run in this order, select with --stages):
  mae  Mitigate adverse effects: split each tool-use trajectory into one sample per assistant
       turn and drop the turns whose tool call came back as an error (tl_fast.data).
  sft  Prioritize key tokens: SFT where the tool-name tokens that tell the chosen tool apart
       from the other offered tools get weight clip(|non-key|/|key|, 1, w_max); loss is
       sum(w*l)/sum(w) from tl_fast.fused_linear_cross_entropy on the final hidden states.
  ppo  Reward mechanism: sample calls, score them with the rule reward of their error
       category (format -2, hallucinated tool -2, wrong tool -1.5, parameters -0.5..-1.8,
       values -0.25, correct +1) and optimize with PPO (KL to the SFT policy, GAE gamma=1,
       lambda=0.95, clip 0.2).
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tl_fast.train",
        description="TL-Training for tool-using LLMs: MAE -> PKT-SFT -> IRM-PPO.",
        epilog=STAGES + "\nstatus: the trainer is not implemented yet; this command only describes it.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--stages", default="mae,sft,ppo", help="comma-separated subset of mae,sft,ppo")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    parser.parse_args(argv)
    parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
