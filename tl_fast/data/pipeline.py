"""The steps both CLIs run before tokenizing: load -> decontaminate -> MAE split -> --max-samples, counted.

    summary = DataSummary(source)
    samples = read_samples(DataConfig(), MAEConfig(), summary, mae_enabled=True)

Without the MAE stage every assistant turn becomes a sample: no error pattern, no structured error check and
no "unanswered" drop (plain SFT on the whole trajectory, as the README says).
"""

from __future__ import annotations

import gzip
from dataclasses import replace
from pathlib import Path

from tl_fast._cli import UserError
from tl_fast.data.config import DataConfig, MAEConfig
from tl_fast.data.summary import DataSummary

NO_MAE = {"error_patterns": (), "structured_errors": False, "drop_unanswered": False}


def data_source(cfg: DataConfig) -> str:
    from tl_fast.data import SAMPLE_DATA

    return cfg.data or str(SAMPLE_DATA)


def eval_set_paths(cfg: DataConfig) -> list[Path]:
    """The evaluation files decontamination reads ([] when it is off); UserError for a missing one."""
    from tl_fast.data.decontam import shipped_eval_files

    if not (cfg.decontaminate and cfg.eval_sets):
        return []
    if cfg.eval_sets == "shipped":
        return shipped_eval_files()
    paths = [Path(p.strip()).expanduser() for p in cfg.eval_sets.split(",") if p.strip()]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise UserError(f"--eval-sets {cfg.eval_sets}: no such file {', '.join(missing)} (or use 'shipped')")
    return paths


def check_data_source(cfg: DataConfig) -> None:
    """UserError at once for a --data path that is not there, before anything slow starts."""
    if cfg.data and not Path(cfg.data).expanduser().exists():
        raise UserError(f"--data {cfg.data}: no such file or folder")
    eval_set_paths(cfg)


def mae_config(cfg: MAEConfig, enabled: bool) -> MAEConfig:
    return cfg if enabled else replace(cfg, **NO_MAE)


def read_samples(data: DataConfig, mae: MAEConfig, summary: DataSummary, mae_enabled: bool = True) -> list:
    """Trajectories -> per-turn Samples; every count lands in `summary`; UserError when nothing is left."""
    from tl_fast.data.decontam import decontaminate, load_eval_queries
    from tl_fast.data.formats import MalformedRecord, load_trajectories
    from tl_fast.data.mae import mae_split

    check_data_source(data)
    source = str(Path(data_source(data)).expanduser())
    try:
        trajs, load_report = load_trajectories(source, format=data.data_format, strict=data.strict)
    except MalformedRecord as exc:
        raise UserError(f"--strict: {exc}") from None
    except (
        FileNotFoundError,
        gzip.BadGzipFile,
        UnicodeDecodeError,
    ) as exc:  # a folder or file we cannot read
        raise UserError(f"--data {source}: {exc}") from None
    summary.loaded(load_report, data.data_format)
    paths = eval_set_paths(data)
    if paths:
        try:
            queries = load_eval_queries(paths)
        except ValueError as exc:
            raise UserError(f"--eval-sets: {exc}") from None
        trajs, decon = decontaminate(trajs, queries, rule=data.decontam_rule)
        summary.decontaminated(decon)
    samples, mae_report = mae_split(trajs, mae_config(mae, mae_enabled))
    summary.mae(mae_report, mae_enabled)
    if data.max_samples is not None:
        samples = samples[: data.max_samples]
        summary.max_samples(len(samples))
    return samples


def renderable(samples: list, render, tokenizer, summary: DataSummary) -> list:
    """The samples this call/tool style can spell (a tool name that is no Python identifier cannot be a
    python-style call); the rest are counted in `summary`."""
    from tl_fast.data.render import render_sample

    out = []
    for s in samples:
        try:
            render_sample(s, render, tokenizer)
        except ValueError:
            continue
        out.append(s)
    summary.unrenderable(len(samples) - len(out), len(samples))
    return out


def tokenizer_context(tokenizer) -> int:
    """The tokenizer's model_max_length, or 0 (no limit) where it does not know one."""
    value = getattr(tokenizer, "model_max_length", 0) or 0
    return int(value) if value < 10**7 else 0  # transformers' "unknown" is 1e30
