"""The paper-findings table (`findings.paper_findings`) as Markdown and HTML.

Why a module of its own: the README and the site show the same findings with the same
stated rules; one place builds their cells so the two never disagree.
"""

from __future__ import annotations

import html

from benchmark.leaderboard.findings import CLAIMS, FINDINGS, RULES, Finding
from benchmark.leaderboard.report_tables import html_table, markdown_table

HEADING = "Paper findings: do our numbers bear out Gleave et al.?"
ANCHOR = "findings"
LEGEND = (
    "The EPIC paper's four findings, checked per task on this board's means over seeds "
    "(checkpoint-family members left out). Verdicts: reproduced, not reproduced (the "
    "numbers that fail the rule are named), not measurable yet (the rows that are missing "
    "are named). Each rule:"
)
COLUMNS = ["task", "finding", "verdict", "our numbers", "why"]


def rule_lines() -> list[str]:
    """``(x) claim — rule`` for each finding, the thresholds the verdicts apply."""
    return [f"({f}) {CLAIMS[f]} — {RULES[f]}" for f in FINDINGS]


def cells(findings: list[Finding]) -> list[list[str]]:
    """One list of display cells per finding, in COLUMNS order."""
    return [[f.task, f"({f.finding})", f.verdict, f.measured, f.reason] for f in findings]


def to_markdown(findings: list[Finding]) -> str:
    """``## HEADING``, the legend and rules, and the table ("" when there is nothing)."""
    if not findings:
        return ""
    lines = [f"## {HEADING}", "", LEGEND, ""]
    lines += [f"- {line}" for line in rule_lines()]
    lines += ["", *markdown_table(COLUMNS, cells(findings))]
    return "\n".join(lines) + "\n"


def site_section(findings: list[Finding]) -> str:
    """The same table as an HTML section with ``id=ANCHOR`` ("" when there is nothing)."""
    if not findings:
        return ""
    e = html.escape
    rules = "".join(f"<li>{e(line)}</li>" for line in rule_lines())
    return (
        f'<h2 id="{ANCHOR}">{e(HEADING)}</h2><p class="note">{e(LEGEND)}</p><ul>{rules}</ul>'
        + html_table("findings-table", COLUMNS, cells(findings))
    )
