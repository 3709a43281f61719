"""benchmarks/ablation.py --minutes: the plan that sizes the grid from calibration measurements."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from ablation import plan  # noqa: E402

CALIB = {
    "sft_step_s": 0.5,
    "rl_step_s": {"ppo": 3.0, "grpo": 2.0},
    "fixed_s": 20.0,
    "eval_item_s": {"rotbench": 0.05, "toolalpaca": 0.05, "bfcl": 0.1},
    "wall_s": 60.0,
}


def test_plan_fills_ninety_percent_of_the_budget():
    p = plan(CALIB, n_jobs=18, parallel=6, budget_s=600, limit=None)
    # 3 waves of (0.9 * 600 - 60) / 3 = 160 s; eval 0.2 s/item x 200 = 40 s; the rest at 0.5 + 3/12 s per
    # SFT step (an RL step every 12): (160 - 20 - 40) / 0.75 = 133 SFT steps, 133 // 12 = 11 RL steps
    assert (p["waves"], p["limit"], p["sft_steps"], p["ppo_steps"]) == (3, 200, 133, 11)
    assert p["fits"] and p["estimate_s"] <= 0.9 * 600
    assert p["estimate_s"] == 60 + 3 * (20 + 133 * 0.5 + 11 * 3.0 + 40)


def test_plan_shrinks_evaluation_then_refuses_a_grid_that_cannot_fit():
    p = plan(CALIB, n_jobs=18, parallel=6, budget_s=300, limit=None)
    # per wave (270 - 60) / 3 = 70 s: eval capped at 40% = 28 s -> limit 140; (70 - 20 - 28) / 0.75 = 29 steps
    assert (p["limit"], p["sft_steps"], p["ppo_steps"]) == (140, 29, 2) and p["fits"]
    assert not plan(CALIB, n_jobs=18, parallel=6, budget_s=150, limit=None)["fits"]
