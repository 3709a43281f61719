"""The evaluation report: a JSON document (metrics, per-scenario tables, per-item verdicts) and its markdown.

report = build_report("rotbench", results, notes=[...])
print(to_markdown(report))
"""

from __future__ import annotations

from typing import Any

from tl_fast.eval.metrics import (
    MISSING,
    ItemResult,
    by_scenario,
    by_split,
    category_histogram,
    error_type_histogram,
    pct,
    summarize,
)


def build_report(
    benchmark: str, results: list[ItemResult], *, notes: list[str] | None = None, config: dict | None = None
) -> dict[str, Any]:
    """Keys: benchmark, metrics, by_split, by_scenario, categories, bfcl (BFCL only), notes, config, items.

    Percentages; "metrics" pools every scored item (for RoTBench read "by_split" for each noise level).
    """
    report: dict[str, Any] = {
        "benchmark": benchmark,
        "metrics": summarize(results),
        "by_split": by_split(results),
        "by_scenario": by_scenario(results),
        "categories": category_histogram(results),
    }
    if benchmark == "bfcl":
        report["bfcl"] = {
            split: {
                "accuracy": pct(sum(r.cf for r in rs), len(rs)),
                "n": len(rs),
                "correct": sum(r.cf for r in rs),
                "errors": error_type_histogram(rs),
            }
            for split, rs in _groups(results).items()
        }
        report["bfcl_summary"] = bfcl_summary(report["bfcl"])
    report["notes"] = list(notes or [])
    report["config"] = dict(config or {})
    report["items"] = [r.to_json() for r in results]
    return report


# BFCL's leaderboard groups (bfcl_eval/eval_checker/eval_runner_helper.py, generate_leaderboard_csv):
# (group, categories, how the category accuracies are combined).
BFCL_GROUPS = (
    ("non_live_ast", ("simple_python", "multiple", "parallel", "parallel_multiple"), "mean"),
    ("live_ast", ("live_simple", "live_multiple", "live_parallel", "live_parallel_multiple"), "weighted"),
    ("irrelevance", ("irrelevance", "live_irrelevance"), "mean"),
    ("relevance", ("live_relevance",), "mean"),
)


def bfcl_summary(per_category: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """BFCL's summary scores from per-category accuracies (percent): Non-Live AST = unweighted mean of its
    four categories (calculate_unweighted_accuracy), Live AST = mean weighted by item count
    (calculate_weighted_accuracy), irrelevance = unweighted mean of irrelevance and live_irrelevance,
    relevance = live_relevance. Like BFCL's "N/A", a group with a category that was not scored has
    accuracy None. BFCL's Non-Live "simple" averages Python, Java and JavaScript; only Python is scored here.
    """
    out = {}
    for group, categories, how in BFCL_GROUPS:
        present = [per_category[c] for c in categories if c in per_category]
        n = sum(m["n"] for m in present)
        accuracy = None
        if len(present) == len(categories):
            rates = [m["correct"] / m["n"] if m["n"] else 0.0 for m in present]  # unrounded, as BFCL's
            if how == "weighted":
                accuracy = pct(sum(m["correct"] for m in present), n)
            else:
                accuracy = round(100.0 * sum(rates) / len(rates), 2)
        missing = [c for c in categories if c not in per_category]
        out[group] = {"accuracy": accuracy, "n": n, "combine": how, "categories": list(categories)}
        if missing:
            out[group]["not_scored"] = missing
    return out


def _combined(how: str, categories: list[str]) -> str:
    if len(categories) == 1:
        return categories[0]
    return ("mean of " if how == "mean" else "item-weighted mean of ") + ", ".join(categories)


def _groups(results: list[ItemResult]) -> dict[str, list[ItemResult]]:
    groups: dict[str, list[ItemResult]] = {}
    for r in results:
        groups.setdefault(r.split, []).append(r)
    return groups


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(f"{v:.2f}" if isinstance(v, float) else str(v) for v in row) + " |")
    return lines


def _row(name: str, m: dict[str, Any]) -> list[Any]:
    return [name, m["n"], m["TS"], m["PI"], m["CF"]]


def to_markdown(report: dict[str, Any]) -> str:
    """TS/PI/CF overall and per split; per scenario; RoTBench robustness; BFCL accuracy; error categories."""
    bench = report["benchmark"]
    out = [f"## {bench}: TS / PI / CF (%)", ""]
    head = ["split", "n", "TS", "PI", "CF"]
    rows = [_row(split, m) for split, m in report["by_split"].items()]
    if len(rows) > 1:
        rows.append(_row("all", report["metrics"]))
    out += _table(head, rows)

    splits = report["by_split"]
    if bench == "rotbench" and "clean" in splits and len(splits) > 1:
        clean = splits["clean"]
        out += ["", "### Robustness (change against clean, points)", ""]
        rows = [
            [
                s,
                m["TS"],
                m["PI"],
                m["CF"],
                m["TS"] - clean["TS"],
                m["PI"] - clean["PI"],
                m["CF"] - clean["CF"],
            ]
            for s, m in splits.items()
        ]
        out += _table(["noise", "TS", "PI", "CF", "ΔTS", "ΔPI", "ΔCF"], rows)

    out += ["", "### Per scenario", ""]
    rows = [
        [split, scenario, m["n"], m["TS"], m["PI"], m["CF"]]
        for split, scenarios in report["by_scenario"].items()
        for scenario, m in scenarios.items()
    ]
    out += _table(["split", "scenario", "n", "TS", "PI", "CF"], rows)

    if "bfcl" in report:
        out += ["", "### BFCL summary (BFCL's aggregation; N/A: a category was not scored)", ""]
        rows = [
            [
                group,
                "N/A" if m["accuracy"] is None else m["accuracy"],
                m["n"],
                _combined(m["combine"], m["categories"]),
            ]
            for group, m in report.get("bfcl_summary", {}).items()
        ]
        out += _table(["group", "accuracy", "n", "from"], rows)
        out += ["", "### BFCL accuracy per category (BFCL checker rules)", ""]
        rows = [[split, v["n"], v["accuracy"]] for split, v in report["bfcl"].items()]
        out += _table(["category", "n", "accuracy"], rows)
        errors: dict[str, int] = {}
        for v in report["bfcl"].values():
            for label, count in v.get("errors", {}).items():
                if label != "valid":
                    errors[label] = errors.get(label, 0) + count
        if errors:
            out += [
                "",
                "BFCL error types: "
                + ", ".join(f"{k} {v}" for k, v in sorted(errors.items(), key=lambda kv: -kv[1])),
            ]

    if report["categories"]:
        out += ["", "### Error categories (tl_fast.reward.categorize)", ""]
        out += _table(["category", "items"], [[k, v] for k, v in report["categories"].items()])
        if MISSING in report["categories"]:
            out += ["", f"`{MISSING}`: no prediction for the item (an evaluation outcome, not a category)."]
    for note in report.get("notes", []):
        out += ["", f"> {note}"]
    return "\n".join(out) + "\n"


def summary_line(report: dict[str, Any]) -> str:
    """One line: pooled TS / PI / CF (BFCL: its summary groups), the item count, how many had no answer."""
    m = report["metrics"]
    line = (
        f"{report['benchmark']}: TS {m['TS']:.2f} / PI {m['PI']:.2f} / CF {m['CF']:.2f} % over {m['n']} items"
    )
    groups = report.get("bfcl_summary", {})
    scored = [f"{g} {m['accuracy']:.2f}" for g, m in groups.items() if m["accuracy"] is not None]
    if scored:
        line += ", BFCL " + ", ".join(scored) + " %"
    missing = report["categories"].get(MISSING, 0)
    if missing:
        line += f"; {missing} items had no prediction ({MISSING})"
    return line
