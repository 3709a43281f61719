"""The helpers every CLI shares: one-line user errors with exit status 2, dtype spellings, model paths."""

import pytest

from tl_fast._cli import UserError, check_model_path, dtype_name, looks_local, run_cli, torch_dtype


def test_user_error_is_one_line_and_exit_2(capsys):
    def main(argv):
        raise UserError("--thing 3: expected a word")

    assert run_cli(main, ["--x"], prog="python -m tl_fast.demo") == 2
    err = capsys.readouterr().err
    assert err == "python -m tl_fast.demo: error: --thing 3: expected a word\n"


def test_debug_shows_the_traceback_and_bugs_keep_theirs():
    def user_mistake(argv):
        raise UserError("bad")

    with pytest.raises(UserError):
        run_cli(user_mistake, ["--debug"], prog="p")

    def bug(argv):
        raise KeyError("internal")

    with pytest.raises(KeyError):
        run_cli(bug, [], prog="p")


@pytest.mark.parametrize(
    "given, canonical",
    [("bf16", "bf16"), ("bfloat16", "bf16"), ("FP16", "fp16"), ("float16", "fp16"), ("float32", "fp32"),
     ("auto", "auto")],
)  # fmt: skip
def test_dtype_spellings(given, canonical):
    assert dtype_name(given) == canonical


def test_dtype_rejects_unknown_and_auto_is_fp32_on_cpu():
    import torch

    with pytest.raises(UserError, match="--dtype 'int8'"):
        dtype_name("int8")
    assert torch_dtype("auto", "cpu") is torch.float32
    assert torch_dtype("bfloat16", "cpu") is torch.bfloat16


def test_local_looking_paths_fail_at_once(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs").mkdir()
    assert looks_local("runs/x") and looks_local("/nonexistent/model") and looks_local("a/b/c")
    assert not looks_local("meta-llama/Llama-3.2-1B")
    for path in ("runs/x", "/nonexistent/model", "./model", "a/b/c"):
        with pytest.raises(UserError, match="no such folder"):
            check_model_path(path)
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(UserError, match="got a file"):
        check_model_path("file.txt")
    (tmp_path / "runs" / "model").mkdir()
    assert check_model_path("runs/model") == "runs/model"


def test_hub_id_refused_when_offline_and_not_cached(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    with pytest.raises(UserError, match="Hub is unreachable"):
        check_model_path("someorg/somemodel")
