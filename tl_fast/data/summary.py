"""What happened to the data, counted step by step: the table `python -m tl_fast.train` and
`python -m tl_fast.data prepare` print before they train or save.

    summary = DataSummary("trajs.jsonl")
    summary.loaded(load_report, data_format="auto")   # UserError when no trajectory is usable
    summary.mae(mae_report, enabled=True)
    summary.over_length(lengths, max_length=2048)
    print(summary.table()); [print(w, file=sys.stderr) for w in summary.warnings]

Every step that drops more than a tenth of what it was given adds a warning naming the flag that keeps the
dropped part. MAE's drops are the method itself (it removes turns whose call failed), so they are counted
but not warned about. A step that leaves nothing raises a one-line UserError with the counts that explain it.
"""

from __future__ import annotations

from collections import Counter

from tl_fast._cli import UserError

WARN_SHARE = 0.10  # warn when a step drops more than this share of its input


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "0%"


def _reasons(counter: Counter) -> str:
    return ", ".join(f"{k} {v}" for k, v in counter.most_common())


class DataSummary:
    def __init__(self, source: str):
        self.source = source
        self.rows: list[tuple[str, int]] = []
        self.warnings: list[str] = []

    @property
    def counts(self) -> dict[str, int]:
        """Flat {row label: count} for metrics.jsonl and report.md."""
        return dict(self.rows)

    def _warn_if(self, dropped: int, whole: int, noun: str, rest: str, fix: str) -> None:
        if whole and dropped / whole > WARN_SHARE:
            share = f"{dropped} of {whole} {noun} ({_pct(dropped, whole)}) {rest}"
            self.warnings.append(f"warning: {share}; {fix}")

    def loaded(self, report, data_format: str) -> None:
        """`report`: the LoadReport of load_trajectories."""
        self.rows.append(("records", report.records_in))
        self.rows += [(f"malformed: {k}", v) for k, v in report.dropped.most_common()]
        self.rows.append(("trajectories", report.trajectories_out))
        malformed = sum(report.dropped.values())
        fix = f"check --data-format (now {data_format}; auto, rotllama, tl_raw or openai)"
        if report.records_in == 0:
            raise UserError(f"0 usable trajectories: {self.source} holds no records")
        if report.trajectories_out == 0:
            raise UserError(
                f"0 usable trajectories: {report.records_in} records, {_reasons(report.dropped)} — {fix}"
            )
        self._warn_if(
            malformed,
            report.records_in,
            "records",
            f"are malformed and skipped ({_reasons(report.dropped)})",
            f"{fix}; --strict stops at the first one and names it",
        )

    def decontaminated(self, report) -> None:
        """`report`: the DecontamReport of decontaminate."""
        self.rows.append((f"decontaminated ({report.rule} query match)", report.removed))
        kept = report.trajectories_in - report.removed
        if kept == 0:
            raise UserError(
                f"0 trajectories left: all {report.trajectories_in} have a query of the evaluation sets "
                "(--eval-sets); --no-decontaminate keeps them"
            )
        self._warn_if(
            report.removed,
            report.trajectories_in,
            "trajectories",
            "are removed because their query is in an evaluation set",
            "--no-decontaminate keeps them (then those evaluation scores include training queries)",
        )

    def mae(self, report, enabled: bool) -> None:
        """`report`: the MAEReport of mae_split; `enabled` False when the run's --stages leave out mae."""
        self.rows.append(("assistant turns", report.assistant_turns))
        self.rows += [(f"MAE dropped: {k}", v) for k, v in sorted(report.dropped.items())]
        self.rows.append(("samples" if enabled else "samples (no mae stage: every turn)", report.samples_out))
        if report.samples_out == 0:
            raise UserError(
                f"0 training samples: MAE dropped all {report.assistant_turns} assistant turns "
                f"({_reasons(report.dropped) or 'none found'})"
            )

    def max_samples(self, used: int) -> None:
        self.rows.append(("samples used (--max-samples)", used))

    def unrenderable(self, dropped: int, total: int) -> None:
        if dropped:
            self.rows.append(("not renderable in this call/tool style", dropped))
        if dropped == total:
            raise UserError(
                f"0 SFT samples: none of {total} renders in this --render-call-style/--render-tool-style"
            )
        self._warn_if(dropped, total, "samples", "do not render", "try --render-call-style json")

    def over_length(self, lengths: list[int], max_length: int) -> None:
        """`lengths`: tokens of every SFT sample; `max_length` 0 keeps all."""
        total = len(lengths)
        dropped = sum(n > max_length for n in lengths) if max_length else 0
        self.rows.append((f"SFT samples over --max-length {max_length or 'none'}", dropped))
        self.rows.append(("SFT samples kept", total - dropped))
        if total and dropped == total:
            raise UserError(
                f"0 SFT samples: all {total} are longer than --max-length {max_length} tokens (the shortest "
                f"has {min(lengths)}); raise --max-length, or 0 to keep all"
            )
        self._warn_if(
            dropped,
            total,
            "SFT samples",
            f"are longer than --max-length {max_length} tokens and are dropped",
            f"--max-length {max(lengths, default=0)} keeps all of them (0 = no limit)",
        )

    def ppo_prompts(self, kept: int, too_long: int, max_prompt_tokens: int) -> None:
        self.rows.append((f"PPO prompts over --ppo-max-prompt-tokens {max_prompt_tokens}", too_long))
        self.rows.append(("PPO prompts", kept))
        if kept == 0:
            why = (
                f"all {too_long} prompts with a tool call are longer than --ppo-max-prompt-tokens "
                f"{max_prompt_tokens}"
                if too_long
                else "no training sample has a tool call"
            )
            raise UserError(f"0 PPO prompts: {why}")
        self._warn_if(
            too_long,
            kept + too_long,
            "PPO prompts",
            f"are longer than --ppo-max-prompt-tokens {max_prompt_tokens} and are skipped",
            "raise --ppo-max-prompt-tokens to keep them",
        )

    def add(self, label: str, count: int) -> None:
        self.rows.append((label, count))

    def table(self) -> str:
        width = max(len(k) for k, _ in self.rows)
        lines = [f"data: {self.source}"]
        lines += [f"  {k:<{width}}  {v:>9,}" for k, v in self.rows]
        return "\n".join(lines)
