"""Planted bugs in the trainer and data CLIs (issue 19): resume rule, data summary, stage subsets, failed
starts, launcher check, flag vocabulary, --help import cost, the fallback notice."""

from scripts.mutations import Mutation

RESUME = "tests/train/test_train_resume.py"
TRAIN_CLI = "tests/train/test_train_cli.py"

MUTATIONS = [
    Mutation(
        id="resume-allows-every-flag",
        file="tl_fast/train/config.py",
        old="            if (section, name) in RESUME_MAY_CHANGE:\n",
        new="            if True:\n",
        tests=[
            f"{RESUME}::test_every_field_outside_the_allow_list_is_refused_on_resume",
            f"{RESUME}::test_resume_refuses_a_compute_changing_flag_naming_it",
        ],  # fmt: skip
        why="--resume lets a compute-changing flag through and runs another run in the same folder",
    ),
    Mutation(
        id="resume-ignores-saved-config",
        file="tl_fast/train/config.py",
        old="    saved = load_run_config(out)\n",
        new="    saved = TrainConfig.build(merged)\n",
        tests=[f"{RESUME}::test_resume_takes_the_saved_config_and_allowed_flags"],
        why="--resume continues with the defaults, not the run's config.yaml (the issue's 140-step run)",
    ),
    Mutation(
        id="resume-rewrites-config",
        file="tl_fast/train/runner.py",
        old="        if not cfg.run.resume:\n            _write_config(run_dir, cfg)\n",
        new="        _write_config(run_dir, cfg)\n",
        tests=[f"{RESUME}::test_ppo_resume_reproduces_the_uninterrupted_run"],
        why="a resumed run rewrites config.yaml (with its allowed overrides and resume: true)",
    ),
    Mutation(
        id="ppo-resume-seed-from-start",
        file="tl_fast/train/ppo.py",
        old="        generator = torch.Generator().manual_seed(_step_seed(seed, step, 0))\n",
        new="        generator = torch.Generator().manual_seed(_step_seed(seed, step - start_step, 0))\n",
        tests=[f"{RESUME}::test_ppo_resume_reproduces_the_uninterrupted_run"],
        why="a resumed PPO run picks other prompts than the uninterrupted one did at the same step",
    ),
    Mutation(
        id="ppo-resume-reference-not-sft",
        file="tl_fast/train/runner.py",
        old="            load_policy_weights(policy, _sft_result(run_dir))",
        new="            pass",
        tests=[f"{RESUME}::test_ppo_resume_reproduces_the_uninterrupted_run"],
        why="after a PPO resume the KL reference and critic start from the random init, not the SFT policy",
    ),
    Mutation(
        id="failed-start-keeps-folder",
        file="tl_fast/train/runner.py",
        old='    if (run_dir / "checkpoints" / "latest.json").exists():\n        return\n',
        new="    return\n",
        tests=[f"{RESUME}::test_a_failed_start_leaves_no_run_folder"],
        why="a run that crashes before its first checkpoint leaves a folder the rerun is told to --resume",
    ),
    Mutation(
        id="existing-run-not-seen",
        file="tl_fast/train/checks.py",
        old='RUN_FILES = ("config.yaml", "metrics.jsonl", "checkpoints", "final", "report.md")',
        new='RUN_FILES = ("config.yaml", "checkpoints", "final", "report.md")',
        tests=[f"{TRAIN_CLI}::test_existing_run_folder_is_refused_and_untouched"],
        why="a folder holding a run's metrics.jsonl is taken for a fresh one and appended to",
    ),
    Mutation(
        id="accelerate-single-process-not-seen",
        file="tl_fast/train/checks.py",
        old='    if "ACCELERATE_MIXED_PRECISION" in env and "MASTER_PORT" in env and not has_world:',
        new='    if "ACCELERATE_MIXED_PRECISION" in env and "MASTER_ADDR_UNSET" in env and not has_world:',
        tests=[
            f"{TRAIN_CLI}::test_accelerate_launch_with_one_cpu_process_is_refused",
            f"{TRAIN_CLI}::test_launcher_world_size_must_match",
        ],  # fmt: skip
        why="accelerate launch --num_processes 2 on a CPU silently trains as one process",
    ),
    Mutation(
        id="warn-threshold-never",
        file="tl_fast/data/summary.py",
        old="        if whole and dropped / whole > WARN_SHARE:",
        new="        if whole and dropped / whole > 2 * WARN_SHARE:",
        tests=["tests/data/test_data_summary.py"],
        why="a step dropping a fifth of its input prints no warning",
    ),
    Mutation(
        id="over-length-boundary",
        file="tl_fast/data/summary.py",
        old="        dropped = sum(n > max_length for n in lengths) if max_length else 0",
        new="        dropped = sum(n >= max_length for n in lengths) if max_length else 0",
        tests=["tests/data/test_data_summary.py::test_over_length_counts_and_warns_past_a_tenth"],
        why="the summary counts a sample of exactly --max-length tokens as dropped (the filter keeps it)",
    ),
    Mutation(
        id="no-mae-still-drops-unanswered",
        file="tl_fast/data/pipeline.py",
        old='NO_MAE = {"error_patterns": (), "structured_errors": False, "drop_unanswered": False}',
        new='NO_MAE = {"error_patterns": (), "structured_errors": False}',
        tests=["tests/data/test_data_summary.py::test_without_mae_every_assistant_turn_is_a_sample"],
        why="--stages without mae still drops the unanswered turns the README says are trained",
    ),
    Mutation(
        id="stages-not-in-pipeline-order",
        file="tl_fast/train/config.py",
        old='    return ",".join(s for s in STAGES if s in given)',
        new='    return ",".join(given)',
        tests=["tests/train/test_train_config.py::test_yaml_values_go_through_the_flag_converter"],
        why="--stages ppo,sft is stored as given, so config.yaml and resume comparisons see two spellings",
    ),
    Mutation(
        id="model-context-not-read",
        file="tl_fast/train/checks.py",
        old='    for attr in ("max_position_embeddings", "n_positions",',
        new='    for attr in ("n_positions",',
        tests=[f"{TRAIN_CLI}::test_max_length_of_a_model_is_its_context"],
        why="--max-length defaults to the tokenizer's limit instead of the model's context",
    ),
    Mutation(
        id="suggestion-misses-lr",
        file="tl_fast/_flags.py",
        old='    probe = word.replace("learning-rate", "lr").replace("learning_rate", "lr")',
        new="    probe = word",
        tests=[f"{TRAIN_CLI}::test_mistake_is_one_line_exit_2_and_leaves_nothing"],
        why="--sft-learning-rate gets no 'did you mean --sft-lr?'",
    ),
    Mutation(
        id="help-imports-torch",
        file="tl_fast/train/__main__.py",
        old="from tl_fast._cli import run_cli\n",
        new="import torch  # noqa: F401\n\nfrom tl_fast._cli import run_cli\n",
        tests=[f"{TRAIN_CLI}::test_help_is_grouped_by_section_and_imports_no_torch"],
        why="--help pays for importing torch (1.7 s before this issue)",
    ),
    Mutation(
        id="prepare-overwrites-silently",
        file="tl_fast/data/__main__.py",
        old="    if not overwrite:\n",
        new="    if False:\n",
        tests=["tests/data/test_data_cli.py::test_output_is_not_replaced_without_overwrite"],
        why="data prepare replaces an existing dataset without --overwrite",
    ),
    Mutation(
        id="no-native-marker-ignored",
        file="tl_fast/_native_glue.py",
        old="        if _SKIPPED_MARKER.exists():\n",
        new="        if False:\n",
        tests=["tests/test_native_notice.py::test_install_time_variable_is_named"],
        why="a TL_FAST_NO_NATIVE=1 install reports a failed import instead of the variable's choice",
    ),
]
