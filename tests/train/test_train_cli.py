"""`python -m tl_fast.train` as a user meets it: every mistake the user can fix is one line on stderr with
exit status 2 and leaves no run folder; `--help` is grouped by config section and imports no torch; a launcher
world size the trainer does not use is refused."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

PROG = "python -m tl_fast.train: error: "
# a tiny run, so a check that misses (a planted bug) fails the test in seconds instead of training the demo
TINY = ["--max-samples", "4", "--sft-max-steps", "1", "--ppo-steps", "1", "--ppo-max-new-tokens", "4"]
SAMPLE = Path(__file__).resolve().parents[2] / "tl_fast/assets/data/rotllama_sample.jsonl.gz"


def train(args, cwd, timeout=180, **env):
    return subprocess.run(
        [sys.executable, "-m", "tl_fast.train", *args],
        cwd=cwd,
        env={**os.environ, "TRITON_INTERPRET": "0", **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def user_error(out) -> str:
    """The one error line; fails on a traceback, another exit status or extra stderr lines."""
    assert out.returncode == 2, out.stderr[-3000:]
    assert "Traceback" not in out.stderr, out.stderr[-3000:]
    # progress bars (tqdm, datasets) are not messages
    lines = [
        line for line in out.stderr.replace("\r", "\n").splitlines() if line.strip() and "%|" not in line
    ]
    assert len(lines) == 1 and lines[0].startswith(PROG), out.stderr[-3000:]
    return lines[0][len(PROG) :]


def write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def few_trajectories(path: Path, n: int = 4) -> str:
    import gzip

    lines = gzip.open(SAMPLE, "rt").read().splitlines()[:n]
    return write(path, "\n".join(lines) + "\n")


# id -> (args, with {tmp} for the test folder; what the message says)
PARSE_CASES = {
    "unknown-flag": (["--sft-learning-rate", "1e-4"],
                     "unknown flag --sft-learning-rate (did you mean --sft-lr?)"),
    "yaml-syntax": (["--config", "{tmp}/syntax.yaml"], "syntax.yaml: line 2, column 7: YAML syntax error"),
    "yaml-unknown-key": (["--config", "{tmp}/unknown.yaml"],
                         "unknown key sft.learning_rate (did you mean lr?)"),
    "yaml-bad-value": (["--config", "{tmp}/value.yaml"], "value.yaml: sft.lr 'fast': expected a number"),
    "yaml-missing": (["--config", "{tmp}/nope.yaml"], "--config {tmp}/nope.yaml: no such file"),
    "stages": (["--stages", "sft,rl"],
               "--stages 'sft,rl': 'rl': expected a comma-separated subset of mae,sft,ppo"),
    "stages-mae-alone": (["--stages", "mae"], "mae alone trains nothing"),
    "dtype": (["--dtype", "float64"], "--dtype 'float64': expected one of auto, bf16 (bfloat16)"),
    "bad-number": (["--sft-lr", "fast"], "--sft-lr 'fast': expected a number"),
    "data-missing": (["--data", "{tmp}/nope.jsonl"], "--data {tmp}/nope.jsonl: no such file or folder"),
    "model-typo": (["--model", "out/ppo"], "--model out/ppo: no such folder"),
    "model-absolute": (["--model", "/nonexistent/model"], "--model /nonexistent/model: no such folder"),
    "model-not-a-model": (["--model", "{tmp}/out"], "no config.json there"),
    "resume-no-dir": (["--resume"], "--resume needs --output-dir"),
    "resume-no-run": (["--resume", "--output-dir", "{tmp}/out"], "holds no run to continue (no config.yaml)"),
}  # fmt: skip


@pytest.mark.parametrize("args, says", PARSE_CASES.values(), ids=PARSE_CASES)
def test_mistake_is_one_line_exit_2_and_leaves_nothing(tmp_path, args, says):
    write(tmp_path / "syntax.yaml", "sft:\n  lr: [1\n")
    write(tmp_path / "unknown.yaml", "sft:\n  learning_rate: 1.0\n")
    write(tmp_path / "value.yaml", "sft:\n  lr: fast\n")
    (tmp_path / "out").mkdir()
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    if "--resume" not in args:
        args += ["--output-dir", str(tmp_path / "run"), *TINY]
    started = time.perf_counter()
    out = train(args, tmp_path)
    assert says.replace("{tmp}", str(tmp_path)) in user_error(out)
    assert time.perf_counter() - started < 60, "no network wait, no model load"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "syntax.yaml", "unknown.yaml", "value.yaml"]
    assert not any((tmp_path / "out").iterdir())


def test_existing_run_folder_is_refused_and_untouched(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    write(run / "metrics.jsonl", '{"stage": "sft", "step": 1}\n')
    out = train(["--output-dir", str(run), *TINY], tmp_path)
    assert "already holds a run (metrics.jsonl): continue it with --resume" in user_error(out)
    assert [p.name for p in run.iterdir()] == ["metrics.jsonl"]
    assert (run / "metrics.jsonl").read_text() == '{"stage": "sft", "step": 1}\n'


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the answer of a machine without CUDA")
def test_cuda_without_cuda(tmp_path):
    out = train(["--device", "cuda", "--output-dir", str(tmp_path / "run")], tmp_path)
    assert "--device cuda: no CUDA device is visible here; use --device cpu or auto" in user_error(out)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "content, says",
    [
        ('{"foo": 1}\n' * 20, "0 usable trajectories: 20 records, unknown_format 20 — check --data-format"),
        ("", "0 usable trajectories: {data} holds no records"),
    ],
    ids=["all-malformed", "empty"],
)
def test_unusable_data_names_the_reason(tmp_path, content, says):
    data = write(tmp_path / "trajs.jsonl", content)
    out = train(["--data", data, "--output-dir", str(tmp_path / "run")], tmp_path)
    assert says.format(data=data) in user_error(out)
    assert not (tmp_path / "run").exists()


def test_everything_over_length_says_how_to_keep_it(tmp_path, monkeypatch):
    # in-process: the message path is the one above, and a subprocess would reload transformers to tokenize
    from tl_fast._cli import UserError
    from tl_fast.train.config import parse_args
    from tl_fast.train.runner import run

    monkeypatch.setenv("TRITON_INTERPRET", "0")
    data = few_trajectories(tmp_path / "few.jsonl")
    args = ["--data", data, "--max-length", "8", "--no-decontaminate", "--output-dir", str(tmp_path / "run")]
    with pytest.raises(UserError) as err:
        run(parse_args(args))
    message = str(err.value)
    assert message.startswith("0 SFT samples: all ") and "longer than --max-length 8 tokens" in message
    assert "raise --max-length, or 0 to keep all" in message
    assert not (tmp_path / "run").exists()


def test_accelerate_launch_with_one_cpu_process_is_refused(tmp_path):
    # Without GPUs `accelerate launch --num_processes 2` starts ONE process: the trainer must not run as 1.
    out = subprocess.run(
        [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", "2", "--num_machines", "1",
         "--mixed_precision", "no", "--dynamo_backend", "no",
         "-m", "tl_fast.train", "--output-dir", str(tmp_path / "run"), "--device", "cpu", *TINY],
        cwd=tmp_path, env={**os.environ, "TRITON_INTERPRET": "0", "CUDA_VISIBLE_DEVICES": ""},
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert out.returncode != 0  # accelerate turns the child's exit status 2 into its own failure
    ours = [line for line in out.stderr.splitlines() if line.startswith(PROG)]
    assert len(ours) == 1 and "accelerate launch was asked for several processes" in ours[0], out.stderr[
        -3000:
    ]
    assert "torchrun --nproc_per_node N -m tl_fast.train" in ours[0]
    assert not (tmp_path / "run").exists()


def test_launcher_world_size_must_match():
    from tl_fast._cli import UserError
    from tl_fast.train.checks import check_launcher

    check_launcher(2, {"WORLD_SIZE": "2"})
    check_launcher(1, {"ACCELERATE_MIXED_PRECISION": "no"})  # accelerate launch --num_processes 1
    with pytest.raises(UserError, match="WORLD_SIZE=4 but the trainer runs as 1 process"):
        check_launcher(1, {"WORLD_SIZE": "4"})
    with pytest.raises(UserError, match="asked for several processes"):
        check_launcher(1, {"ACCELERATE_MIXED_PRECISION": "no", "MASTER_PORT": "29500"})


def test_help_is_grouped_by_section_and_imports_no_torch(tmp_path):
    out = train(["--help"], tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("usage: python -m tl_fast.train")
    sections = ("model:", "data:", "mae:", "render:", "pkt:", "sft:", "ppo:", "run:")
    positions = [out.stdout.find("\n" + s + "\n") for s in sections]
    assert all(p > 0 for p in positions) and positions == sorted(positions), positions
    assert "--pkt-w-max FLOAT" in out.stdout and "--sft-lr FLOAT" in out.stdout
    code = (
        "import sys\nfrom tl_fast.train.__main__ import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('torch', 'transformers', 'datasets', 'accelerate') if m in sys.modules))"
    )
    probe = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=60
    )
    assert probe.stdout.strip().splitlines()[-1] == "[]", probe.stdout[-500:] + probe.stderr[-2000:]


def test_debug_shows_the_traceback(tmp_path):
    out = train(["--stages", "rl", "--debug"], tmp_path)
    assert out.returncode != 0 and "Traceback" in out.stderr and "UserError" in out.stderr


def test_max_length_of_a_model_is_its_context(tmp_path):
    """With --model an unset --max-length is the model's max_position_embeddings (a saved tiny Llama)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    from tl_fast.train.checks import resolve_max_length
    from tl_fast.train.config import DEMO_MAX_LENGTH, parse_args
    from tl_fast.train.model import load_tokenizer

    conf = LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                       num_attention_heads=2, max_position_embeddings=777)  # fmt: skip
    LlamaForCausalLM(conf).save_pretrained(tmp_path / "m")
    tokenizer = load_tokenizer(parse_args([]).model)
    assert resolve_max_length(parse_args(["--model", str(tmp_path / "m")]), tokenizer) == 777
    assert resolve_max_length(parse_args([]), tokenizer) == DEMO_MAX_LENGTH
    assert resolve_max_length(parse_args(["--max-length", "0"]), tokenizer) == 0
    saved = json.loads(json.dumps(parse_args(["--max-length", "300"]).to_dict()))
    assert saved["data"]["max_length"] == 300
