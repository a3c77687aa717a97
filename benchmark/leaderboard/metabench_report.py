"""The meta-benchmark on the board: a Markdown table, a verdict, one plot per task.

Reads what `benchmark.leaderboard.metabench.write_metabench` wrote; `leaderboard build`
puts the table and the plot into ``leaderboard/README.md`` and the site.
"""

from __future__ import annotations

import html

import numpy as np
import pandas as pd

from benchmark.leaderboard.metabench import DISTANCES, VARIANTS
from benchmark.leaderboard.site import svg_of

LABELS = {
    "epic": "EPIC", "dard": "DARD", "starc": "STARC", "npec": "NPEC", "erc": "ERC",
    "starc_val": "STARC-VAL (not on board)",
}  # fmt: skip
VARIANT_TEXT = {"train": "train dynamics", "test": "test dynamics (slippery)"}


def verdict(summary: pd.DataFrame, task: str, variant: str) -> str:
    """One plain sentence: which distance ranked rewards closest to regret, and by how much."""
    rows = summary[(summary["task"] == task) & (summary["variant"] == variant)]
    # Stable: an exact tie in ρ (EPIC and DARD on gridworld) goes to the table's order,
    # as `summarize`'s ``best`` does.
    rows = rows.sort_values("spearman", ascending=False, kind="stable")
    best, second = rows.iloc[0], rows.iloc[1]
    if second["gap_ci_low"] > 0:
        margin = "ahead of every other distance beyond resampling noise"
    else:
        tied = rows[rows["gap_ci_low"] <= 0]["distance"].map(LABELS).tolist()
        margin = (
            f"statistically tied with {', '.join(t for t in tied if t != LABELS[best['distance']])}"
        )
    return (
        f"{task}, regret in the {VARIANT_TEXT[variant]}: **{LABELS[best['distance']]}** ranked "
        f"rewards closest to regret (Spearman ρ = {best['spearman']:.3f}), "
        f"{second['gap']:.3f} above {LABELS[second['distance']]} (paired 95% CI "
        f"[{second['gap_ci_low']:.3f}, {second['gap_ci_high']:.3f}]) — {margin}; "
        f"it ordered {best['pair_accuracy']:.1%} of pairs correctly."
    )


def to_markdown(summary: pd.DataFrame, *, plot_links: dict[str, str] | None = None) -> str:
    """The section of ``leaderboard/README.md``: per task a table, verdicts and the plot."""
    lines = [
        "## Which distance predicts regret? (meta-benchmark)",
        "",
        "A seeded population of rewards around the ground truth (shaped and rescaled copies, "
        "interpolations toward random and negated rewards, noise at five scales, changes only "
        "on transitions the train dynamics never make, rewards for other goals, the task's "
        "variants and the committed submissions). For each: the *exact* regret of its optimal "
        "policy under the ground truth, normalized (0 optimal, 1 the uniform policy's level), "
        "and each distance to the ground truth computed exactly by the same function as the "
        "board's exact gridworld rows (same coverage D_S, D_A, D_T, the task's γ, ERC on the "
        "coverage policy's discounted episodes, DARD with the train dynamics as its model): "
        "the quantities the board reports (a submission's values here equal its board rows). "
        "STARC-VAL (not a board metric) is STARC with value-adjusted levelling (uniform "
        "policy) and the L2 norm over all transitions, one member of the STARC paper's "
        "family, shown for comparison. Spearman ρ between distance and regret with a 95% "
        "bootstrap CI over rewards; gap: the best ρ minus this one "
        "(paired CI); pairs: share of pairs of different regret ordered correctly. "
        "Regenerate with `epic-bench leaderboard metabench`.",
        "",
    ]
    for task in dict.fromkeys(summary["task"]):
        rows = summary[summary["task"] == task]
        first = rows.iloc[0]
        lines += [
            f"### {task} ({int(first['n'])} rewards, coverage `{first['coverage']}`, "
            f"seed {int(first['seed'])})",
            "",
            "| distance | " + " | ".join(
                f"ρ {v} [95% CI] | gap {v} [CI] | pairs {v}" for v in VARIANTS
            ) + " |",
            "|---|" + "---|---|---|" * len(VARIANTS),
        ]  # fmt: skip
        for d in DISTANCES:
            cells = []
            for v in VARIANTS:
                r = rows[(rows["distance"] == d) & (rows["variant"] == v)].iloc[0]
                cells += [
                    f"{r['spearman']:.3f} [{r['ci_low']:.3f}, {r['ci_high']:.3f}]",
                    f"{r['gap']:.3f} [{r['gap_ci_low']:.3f}, {r['gap_ci_high']:.3f}]",
                    f"{r['pair_accuracy']:.3f}",
                ]
            lines.append(f"| {LABELS[d]} | " + " | ".join(cells) + " |")
        lines += ["", *(f"- {verdict(summary, task, v)}" for v in VARIANTS), ""]
        if plot_links and task in plot_links:
            lines += [f"![{task}: distance vs regret]({plot_links[task]})", ""]
    return "\n".join(lines)


def plot(scores: pd.DataFrame, task: str, variant: str = "test") -> str:
    """SVG: regret against each distance, one panel per distance, colored by family."""
    # Lazy: matplotlib is slow to import and needs its backend chosen first (Agg, no display).
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = scores[scores["task"] == task]
    families = list(dict.fromkeys(rows["family"]))
    colors = {f: plt.get_cmap("tab10")(i % 10) for i, f in enumerate(families)}
    fig, axes = plt.subplots(1, len(DISTANCES), figsize=(3.0 * len(DISTANCES), 3.2), sharey=True)
    regret = rows[f"regret_{variant}"]
    for ax, d in zip(axes, DISTANCES, strict=True):
        for f in families:
            sel = rows["family"] == f
            ax.scatter(rows.loc[sel, d], regret[sel], s=7, alpha=0.7, color=colors[f], label=f)
        ok = rows[d].notna()
        rho = pd.Series(rows.loc[ok, d]).rank().corr(regret[ok].rank())
        ax.set_title(f"{LABELS[d]}  ρ = {rho:.3f}" if np.isfinite(rho) else LABELS[d], fontsize=9)
        ax.set_xlabel("distance to ground truth", fontsize=8)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(f"regret ({variant} dynamics, normalized)", fontsize=8)
    axes[-1].legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    fig.suptitle(f"{task}: which distance predicts regret?", fontsize=10)
    return svg_of(fig)  # fixed SVG ids, no date: rebuilds are byte-identical


def site_section(scores: pd.DataFrame, summary: pd.DataFrame) -> str:
    """HTML for the site: the same table and verdicts, and the plot inline."""
    if summary.empty:
        return ""
    parts = ['<h2 id="metabench">Which distance predicts regret? (meta-benchmark)</h2>']
    for task in dict.fromkeys(summary["task"]):
        rows = summary[summary["task"] == task]
        head = "".join(
            f"<th>ρ {v}</th><th>95% CI</th><th>gap to best</th><th>pairs {v}</th>" for v in VARIANTS
        )
        body = []
        for d in DISTANCES:
            cells = []
            for v in VARIANTS:
                r = rows[(rows["distance"] == d) & (rows["variant"] == v)].iloc[0]
                cells += [
                    f"{r['spearman']:.3f}",
                    f"[{r['ci_low']:.3f}, {r['ci_high']:.3f}]",
                    f"{r['gap']:.3f} [{r['gap_ci_low']:.3f}, {r['gap_ci_high']:.3f}]",
                    f"{r['pair_accuracy']:.3f}",
                ]
            body.append(
                f"<tr><td>{LABELS[d]}</td>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"
            )
        verdicts = "".join(
            f"<li>{html.escape(verdict(summary, task, v)).replace('**', '')}</li>" for v in VARIANTS
        )
        parts += [
            f"<h3>{html.escape(task)} ({int(rows.iloc[0]['n'])} rewards)</h3>",
            f"<table><thead><tr><th>distance</th>{head}</tr></thead><tbody>{''.join(body)}"
            "</tbody></table>",
            f"<ul>{verdicts}</ul>",
            f'<div class="plots"><figure>{plot(scores, task)}</figure></div>',
        ]
    return "\n".join(parts)
