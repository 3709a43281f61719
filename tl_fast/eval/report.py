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
                "errors": error_type_histogram(rs),
            }
            for split, rs in _groups(results).items()
        }
        pooled = [r.cf for r in results]
        report["bfcl"]["overall"] = {"accuracy": pct(sum(pooled), len(pooled)), "n": len(pooled)}
    report["notes"] = list(notes or [])
    report["config"] = dict(config or {})
    report["items"] = [r.to_json() for r in results]
    return report


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
        out += ["", "### BFCL AST accuracy (BFCL checker rules)", ""]
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
    """One line: the pooled TS / PI / CF (BFCL: accuracy), the item count and how many had no prediction."""
    m = report["metrics"]
    line = (
        f"{report['benchmark']}: TS {m['TS']:.2f} / PI {m['PI']:.2f} / CF {m['CF']:.2f} % over {m['n']} items"
    )
    if "bfcl" in report:
        line += f", BFCL accuracy {report['bfcl']['overall']['accuracy']:.2f} %"
    missing = report["categories"].get(MISSING, 0)
    if missing:
        line += f"; {missing} items had no prediction ({MISSING})"
    return line
