"""The committed leaderboard holds what the project promises: every shipped submission on
its task with EPIC, NPEC, ERC, DARD and STARC on every coverage (several seeds) and transfer at the
standard budget, all current (the shipped task version and model), none failed.

Why a test: the store is data, built by long runs over several sessions; a submission
that was retrained but not re-evaluated, or a metric that was never run, would otherwise
silently drop out of a table.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from benchmark.leaderboard import aggregate, select_rows
from benchmark.metrics.registry import NO_EPISODES
from benchmark.results import read_results, unit_key
from benchmark.results.pruning import FAITHFUL_METRICS
from benchmark.submissions import list_submissions
from benchmark.tasks import load_task

REPO = Path(__file__).resolve().parents[1]
MIN_DISTANCE_SEEDS = 2


@pytest.fixture(scope="module")
def results():
    return read_results(REPO / "leaderboard" / "results")


@pytest.fixture(scope="module")
def board_rows(results):
    return select_rows(results)


def test_no_unit_of_the_board_is_left_failed(results):
    board = aggregate(results)
    failed = board[board["n_failed"] > 0]
    assert failed.empty, failed[["task", "metric", "coverage", "submission", "n_failed"]]


SUBMISSIONS = list_submissions(REPO / "submissions")
# What the committed board does not hold yet: (task, metric) -> why. The board is
# recomputed task by task and metric by metric on 2 CPU cores (issues 17 and 18); stale rows
# are retired first (`results prune`), so a gap is shown as a gap, never as old numbers.
# Remove an entry in the commit that completes it (a test below fails once it is complete).
AWAITING: dict[tuple[str, str], str] = {}

# Issue 17: on HalfCheetah and Hopper the checkpoints of a family get the distance metrics,
# and transfer only as far as 2 cores allow (one SAC training is ~16 CPU-min; 5 checkpoints
# x 3 seeds would be 4 hours of both cores per family): they are not required here.
SAC_TASKS = frozenset(
    s.task for s in SUBMISSIONS if load_task(s.task).budgets["standard"].algorithm == "sac"
)

# Checkpoint families (`baselines train --checkpoints`, issue 17's population of learned
# rewards) trained and committed but not evaluated yet: family -> why. Remove an entry in
# the commit that evaluates its family (a test below fails once it is complete).
AWAITING_FAMILIES: dict[str, str] = {}


def _complete(board_rows, task_name: str, metric: str) -> bool:
    """Every shipped submission of the task has the metric's current rows (seeds, coverages)."""
    return all(not _missing(board_rows, s, metric) for s in SUBMISSIONS if s.task == task_name)


def _missing(board_rows, submission, metric: str) -> str:
    """Why ``submission``'s current rows of ``metric`` are incomplete ('' if they are not)."""
    task = load_task(submission.task)
    rows = board_rows[
        (board_rows["submission"] == submission.name)
        & (board_rows["submission_sha256"] == submission.sha256)
        & (board_rows["task_version"] == str(task.version))
        & (board_rows["metric"] == metric)
    ]
    if metric == "transfer":
        if submission.family is not None and submission.task in SAC_TASKS:
            return ""  # checkpoints on MuJoCo: distances only (SAC_TASKS says why)
        standard = rows[rows["budget"] == "standard"]
        return "" if len(standard) else f"{submission.name}: no transfer at the standard budget"
    coverages = [
        c
        for c in task.coverage_names
        if metric != "erc" or task.coverage(c).spec.policy not in NO_EPISODES
    ]
    # Exact values (finite tasks) do not depend on the seed: one suffices.
    min_seeds = 1 if task.tabular is not None else MIN_DISTANCE_SEEDS
    for coverage in coverages:
        seeds = rows[rows["coverage"] == coverage]["seed"]
        if seeds.nunique() < min_seeds:
            return f"{submission.name}: {metric} on {coverage} has {seeds.nunique()} seeds"
    return ""


BOARD_METRICS = ("epic", "npec", "erc", "dard", "starc", "transfer")


@pytest.mark.parametrize("submission", SUBMISSIONS, ids=lambda s: s.name)
def test_every_submission_has_every_metric_on_every_coverage(board_rows, submission):
    if submission.family in AWAITING_FAMILIES:
        pytest.skip(AWAITING_FAMILIES[submission.family])
    missing = [
        _missing(board_rows, submission, m)
        for m in BOARD_METRICS
        if (submission.task, m) not in AWAITING
    ]
    assert not any(missing), "; ".join(m for m in missing if m)


@pytest.mark.parametrize("entry", sorted(AWAITING), ids=lambda e: "-".join(e))
def test_an_awaited_recomputation_is_not_forgotten_once_complete(board_rows, entry):
    task_name, metric = entry
    assert metric in BOARD_METRICS and task_name in {s.task for s in SUBMISSIONS}
    assert not _complete(board_rows, task_name, metric), (
        f"{task_name} {metric} is complete on the board: remove it from AWAITING"
    )


@pytest.mark.parametrize("family", sorted(AWAITING_FAMILIES))
def test_an_awaited_family_is_not_forgotten_once_evaluated(board_rows, family):
    members = [s for s in SUBMISSIONS if s.family == family]
    assert len(members) >= 2, f"{family}: no checkpoint submissions are committed"
    missing = [_missing(board_rows, s, m) for s in members for m in BOARD_METRICS]
    assert any(missing), f"{family} is complete on the board: remove it from AWAITING_FAMILIES"


# --- the committed values are the ones the mathematics fixes ---------------------------

# The sanity entries' EPIC is fixed by theory (Gleave et al. 2021, Prop. 1 and Sec. 4):
# 0 for the ground truth and a positively rescaled, potential-shaped copy, 1 for its
# negation. Submissions run in float32, and D_rho = sqrt((1 - rho) / 2) is of the order of
# the relative rounding error of the canonical rewards, so equal rewards give a few float32
# epsilons (1.2e-7; the board holds up to ~8e-7). EPIC_ZERO is ~100 epsilons: far below
# any real difference (a shaping term left in moves EPIC by 1e-3 or more). For the
# negation, 1 - D = (1 + rho) / 4 to first order, i.e. rounding squared: 1e-6 is loose.
EPIC_ZERO = 1e-5
EPIC_ONE = 1e-6
TASKS = sorted({s.task for s in SUBMISSIONS})


def _values(board_rows, task: str, submission: str, metric: str):
    rows = board_rows[(board_rows["submission"] == submission) & (board_rows["metric"] == metric)]
    assert len(rows), f"{submission}: no {metric} rows on the board"
    assert set(rows["task"]) == {task}
    return rows["value"]


# DARD and STARC share the invariances (shaping cancels draw by draw in DARD's estimator,
# exactly in EPIC's canonicalization that sample-based STARC uses) and the same rounding.
INVARIANT_DISTANCES = ("epic", "dard", "starc")
# DARD's canonical rewards vary only as much as real transitions do (EPIC's include the wild
# rewards of impossible transitions), so the same float32 rounding of x in (x' - x)/dt is a
# larger share of them: the Hopper ground truth sits at 2e-5..1.2e-4. 1e-3 is still far
# below the smallest real DARD on the board (0.013, PointMass regression).
ZERO = {"epic": EPIC_ZERO, "dard": 1e-3, "starc": EPIC_ZERO}


@pytest.mark.parametrize("metric", INVARIANT_DISTANCES)
@pytest.mark.parametrize("task", TASKS)
def test_ground_truth_and_shaped_sanity_entries_have_epic_zero(board_rows, task, metric):
    if (task, metric) in AWAITING:
        pytest.skip(AWAITING[(task, metric)])
    for entry in ("ground-truth", "shaped"):
        values = _values(board_rows, task, f"{task}-{entry}", metric)
        assert values.abs().max() <= ZERO[metric], f"{task}-{entry}: {metric} up to {values.max()}"


@pytest.mark.parametrize("metric", INVARIANT_DISTANCES)
@pytest.mark.parametrize("task", TASKS)
def test_negated_sanity_entry_has_epic_one(board_rows, task, metric):
    if (task, metric) in AWAITING:
        pytest.skip(AWAITING[(task, metric)])
    values = _values(board_rows, task, f"{task}-negated", metric)
    assert (values - 1.0).abs().max() <= EPIC_ONE, f"{task}-negated: {metric} {values.min()}"


def test_gridworld_ground_truth_transfers_exactly():
    """Value iteration on the ground truth is the reference policy itself: score 1."""
    rows = select_rows(read_results(REPO / "leaderboard" / "results"))
    for entry in ("ground-truth", "shaped"):
        values = _values(rows, "gridworld", f"gridworld-{entry}", "transfer")
        assert (values - 1.0).abs().max() <= 1e-9, f"gridworld-{entry}: {list(values)}"


# Issue 17: every submission of a task with transfer rows is scored on one seed set, of
# at least this size where the task's transfer is complete: 5 on gridworld and the point
# tasks, 3 where one training is a SAC run of ~16 CPU-min (MuJoCo).
MIN_TRANSFER_SEEDS = 5
MIN_SAC_TRANSFER_SEEDS = 3
# The ground-truth reward retrained must score like its own reference: 1 within RL noise.
GROUND_TRUTH_BAND = (0.8, 1.2)


def _standard_transfer(board_rows, task: str):
    return board_rows[(board_rows["task"] == task) & (board_rows["metric"] == "transfer")
                      & (board_rows["budget"] == "standard")]  # fmt: skip


def _protocol_2(rows):
    """Rows of the K-run-reference protocol; older rows (null: protocol 1) are the legacy
    MuJoCo sanity rows the board shows as noise until protocol 2 replaces them."""
    return rows[rows["transfer_protocol"].fillna(1) >= 2]


@pytest.mark.parametrize("task", TASKS)
def test_every_submission_of_a_task_has_the_same_transfer_seeds(board_rows, task):
    rows = _protocol_2(_standard_transfer(board_rows, task))
    seeds = {name: frozenset(g["seed"]) for name, g in rows.groupby("submission")}
    assert len(set(seeds.values())) <= 1, f"{task}: transfer seed sets differ: {seeds}"
    if (task, "transfer") not in AWAITING:
        least = MIN_SAC_TRANSFER_SEEDS if task in SAC_TASKS else MIN_TRANSFER_SEEDS
        assert seeds and len(next(iter(seeds.values()))) >= least, seeds


@pytest.mark.parametrize("task", TASKS)
def test_ground_truth_retrained_transfers_within_the_sanity_band(board_rows, task):
    """Protocol 2 (a K-run reference on disjoint seeds): the ground truth's own mean over
    ≥ 3 seeds lies in [0.8, 1.2]. Protocol-1 rows (one reference run) are what this
    replaced; a task still showing only those is skipped, saying so."""
    rows = _standard_transfer(board_rows, task)
    rows = rows[rows["submission"] == f"{task}-ground-truth"]
    current = _protocol_2(rows)
    if current.empty:
        pytest.skip(f"{task}: no protocol-2 ground-truth transfer ({len(rows)} protocol-1 rows)")
    # Value iteration (finite tasks) is its own exact reference: one run, no noise.
    exact = load_task(task).budgets["standard"].algorithm == "value_iteration"
    assert current["seed"].nunique() >= 3
    assert exact or (current["n_reference_runs"] >= 5).all(), set(current["n_reference_runs"])
    values = current["value"].to_numpy()
    assert abs(values.mean() - 1.0) <= _sanity_half_width(current), list(values)


def _sanity_half_width(current) -> float:
    """How far the ground truth's mean may sit from 1: the band's 0.2, or two standard
    errors where the task's RL noise is wider than the band (issue 17: "where a budget on 2
    cores cannot make ground-truth runs agree, the board says so", its noise floor).

    The mean over n seeds of v = (R − r) / (ref − r) errs by its seeds' spread, sd(v)/√n,
    and by the reference mean's, (reference std / √K) / (ref − r) at v ≈ 1. Measured on
    HalfCheetah (SAC 60k, K = 5): one reference std was 0.35 on the normalized scale and the
    ground truth's three seeds spread 0.36 (returns 2871, 1817, 1450), so the mean's standard
    error was 0.26 and a fixed ±0.2 would fail about half of the honest retrainings. At
    K = 10 both MuJoCo ground truths sit inside the band itself (0.88, 1.12); on the point
    tasks the noise is smaller and the band decides.
    """
    low, high = GROUND_TRUTH_BAND
    band = (high - low) / 2
    values = current["value"].to_numpy()
    if len(values) < 2 or (current["n_reference_runs"] < 2).any():
        return band
    span = current["reference_return"] - current["random_return"]
    reference_se = float((current["reference_std"] / span).iloc[0]) / np.sqrt(
        float(current["n_reference_runs"].iloc[0]))  # fmt: skip
    seeds_se = float(np.std(values, ddof=1)) / np.sqrt(len(values))
    return max(band, 2 * float(np.hypot(reference_se, seeds_se)))


# Tasks whose K reference runs behind the board are not committed yet (task -> why).
UNPUBLISHED_REFERENCES: dict[str, str] = {}
# Exactly, up to the float arithmetic of a mean: the rows are normalized by the published
# runs (`results renormalize` after `transfer refs --publish`), not by a machine's cache.
REFERENCE_RTOL = 1e-12


@pytest.mark.parametrize("task", TASKS)
def test_the_committed_reference_runs_are_the_rows_normalizer(board_rows, task):
    """A reviewer can recompute each transfer row's reference from the committed K runs
    (leaderboard/references): their mean, sample std and random-policy mean."""
    from benchmark.metrics.transfer_reference import committed_reference_path, reference_seeds

    rows = _protocol_2(_standard_transfer(board_rows, task))
    task_obj = load_task(task)
    if rows.empty or task_obj.budgets["standard"].algorithm == "value_iteration":
        pytest.skip(f"{task}: no sampled transfer reference on the board")
    if task in UNPUBLISHED_REFERENCES:
        pytest.skip(UNPUBLISHED_REFERENCES[task])
    seeds = reference_seeds(task_obj)
    assert len(seeds) == task_obj.reference_runs >= 5
    paths = [committed_reference_path(task_obj, "test", "standard", s) for s in seeds]
    assert all(p.parent == REPO / "leaderboard" / "references" for p in paths)
    records = [json.loads(p.read_text()) for p in paths]
    assert {r["seed"] for r in records} == set(seeds)
    reference = np.array([r["reference_return"] for r in records])
    random = np.array([r["random_return"] for r in records])
    for column, expected in (("reference_return", reference.mean()),
                             ("reference_std", reference.std(ddof=1)),
                             ("random_return", random.mean()),
                             ("random_std", random.std(ddof=1))):  # fmt: skip
        assert rows[column].to_numpy() == pytest.approx(expected, rel=REFERENCE_RTOL), column
    assert (rows["n_reference_runs"] == len(seeds)).all()


def test_every_task_s_transfer_rows_share_one_normalizer(board_rows):
    """Means over seeds and entries are only comparable on one scale (one reference)."""
    from benchmark.results.renormalize import mixed_normalizers

    assert mixed_normalizers(board_rows) == []


def test_every_published_reference_run_belongs_to_a_task_on_the_board():
    names = {p.name for p in (REPO / "leaderboard" / "references").glob("*.json")}
    tasks = {n.split("-v")[0] for n in names}
    assert tasks <= set(TASKS) and tasks.isdisjoint(UNPUBLISHED_REFERENCES), tasks


IMPLAUSIBLE_TRANSFER = 1.5


def test_every_surprising_transfer_number_is_explained_on_the_board(board_rows):
    """Issue 17: no transfer mean above 1.5, and no shaped sanity entry outside the ground
    truth's sanity band (it has the same optimal policies), without a note beside it
    (leaderboard/notes.toml); and every note names a submission and metric on the board."""
    from benchmark.leaderboard.notes import read_notes

    notes = read_notes(REPO / "leaderboard" / "notes.toml")
    explained = {(n.task, n.metric, n.submission) for n in notes}
    on_board = set(board_rows[["task", "metric", "submission"]].itertuples(index=False))
    assert explained <= on_board, explained - on_board
    low, high = GROUND_TRUTH_BAND
    means = board_rows[board_rows["metric"].str.startswith("transfer")].groupby(
        ["task", "metric", "submission"])["value"].mean()  # fmt: skip
    surprising = {
        key for key, mean in means.items()
        if mean > IMPLAUSIBLE_TRANSFER or (key[2].endswith("-shaped") and not low <= mean <= high)
    }  # fmt: skip
    assert surprising <= explained, (
        f"explain these in leaderboard/notes.toml: {surprising - explained}"
    )


def test_every_row_is_a_unit_of_its_submissions_grid(board_rows):
    """Each row's configuration (sha256, task version, coverage, seed, budget, N_T, M) is
    the key of a unit that `expand_grid` makes for its submission at the row's sizes."""
    from benchmark.evaluation import expand_grid

    by_name = {s.name: s for s in SUBMISSIONS}
    # Distance rows of results schema 1 predate the faithful definitions (issue 18) and
    # await recomputation (`epic-bench results prune --dry-run` lists them); their ERC
    # rollout lengths are the old grid's. None may remain on the finite gridworld.
    pending = (board_rows["schema_version"] < 2) & board_rows["metric"].isin(FAITHFUL_METRICS)
    assert not (pending & (board_rows["task"] == "gridworld")).any()
    for (name, metric, n_t, m), rows in board_rows[~pending].groupby(
        ["submission", "metric", "n_transitions", "n_samples"]
    ):
        sub = by_name[name]
        task = load_task(sub.task)
        assert set(rows["task"]) == {sub.task} and set(rows["method"]) == {sub.method}
        assert set(rows["submission_sha256"]) == {sub.sha256}
        assert set(rows["task_version"]) == {str(task.version)}
        if metric.startswith("transfer"):
            sizes = {}
            budgets = set(rows["budget"])
            assert len(budgets) == 1 and (n_t, m) == (0, 0)
            budget = budgets.pop()
        else:
            # ERC units record their rollout length and M = 0, exact units (finite
            # tasks) sizes 0; the grid derives both from the standard N_T = 1024.
            standard = metric == "erc" or int(n_t) == 0
            sizes = dict(n_transitions=1024 if standard else int(n_t),
                         n_samples=256 if standard else int(m))  # fmt: skip
            budget = "standard"
        units = expand_grid([sub], metrics=[metric], seeds=int(rows["seed"].max()) + 1,
                            budget=budget, **sizes)  # fmt: skip
        keys = {u.key() for u in units}
        for r in rows.to_dict("records"):
            assert unit_key(r) in keys, f"{name}: row {unit_key(r)} is no unit of its grid"


def test_gridworld_distances_on_the_board_are_the_exact_values(board_rows):
    """Every distance on the finite gridworld is exact: each row equals the tabular value
    from the submission's reward table and the coverage's exact arrays, to 1e-6."""
    from benchmark.metrics.dard import dard_distance_tabular
    from benchmark.metrics.epic import epic_distance_tabular
    from benchmark.metrics.erc import erc_distance_tabular
    from benchmark.metrics.npec import npec_distance_tabular
    from benchmark.metrics.starc import starc_distance_tabular
    from benchmark.tasks.tabular import reward_table

    task = load_task("gridworld")
    tab = task.tabular
    truth = tab.rewards["ground_truth"]
    rows = board_rows[(board_rows["task"] == "gridworld") & board_rows["metric"].isin(
        ["epic", "npec", "erc", "dard", "starc"])]  # fmt: skip
    assert set(rows["metric"]) == {"epic", "npec", "erc", "dard", "starc"}
    assert len(rows) and rows["exact"].all()
    assert (rows["ci_low"] == rows["value"]).all() and (rows["ci_high"] == rows["value"]).all()
    by_name = {s.name: s for s in SUBMISSIONS}
    tables = {}
    for r in rows.to_dict("records"):
        if r["submission"] not in tables:
            reward = by_name[r["submission"]].load_reward()
            tables[r["submission"]] = reward_table(reward, tab.n_states, tab.n_actions)
        table, cov = tables[r["submission"]], tab.coverage[r["coverage"]]
        if r["metric"] == "epic":
            exact = epic_distance_tabular(table, truth, state_dist=cov.state_dist,
                                          action_dist=cov.action_dist,
                                          transition_dist=cov.transition_dist,
                                          discount=task.discount)  # fmt: skip
        elif r["metric"] == "dard":
            exact = dard_distance_tabular(table, truth, transition=tab.transitions["train"],
                                          action_dist=cov.action_dist,
                                          transition_dist=cov.transition_dist,
                                          discount=task.discount)  # fmt: skip
        elif r["metric"] == "starc":
            exact = starc_distance_tabular(table, truth, canonicalization="epic",
                                           state_dist=cov.state_dist, action_dist=cov.action_dist,
                                           weights=cov.transition_dist,
                                           discount=task.discount)  # fmt: skip
        elif r["metric"] == "npec":
            exact = npec_distance_tabular(table, truth, transition_dist=cov.transition_dist,
                                          discount=task.discount)  # fmt: skip
        else:
            pi = tab.policies[r["coverage"]]
            exact = erc_distance_tabular(
                table, truth, transition=tab.transitions["train"],
                initial_state_dist=tab.initial_state_dist, policy=pi.modes,
                horizon=task.horizon, discount=task.discount, mode_switch=pi.mode_switch,
                initial_mode=pi.initial_mode,
            )  # fmt: skip
        assert abs(r["value"] - exact) <= 1e-6, (r["submission"], r["metric"], r["coverage"])


# NPEC on continuous coverage is a held-out fit, so the sanity entries land near, not at,
# the values its definition fixes (0 for a shift plus shaping, 1 for the negation):
# the bounds are the ones tests/test_npec_continuous.py holds the fit to. On `expert`
# coverage every reward is a shaping on D_T's support (README, NPEC), so every entry is 0.
NPEC_SHAPED = 0.05
NPEC_SHIFTED = 0.02
NPEC_NEGATED = 0.95
# On HalfCheetah and Hopper the held-out fit does not learn the shipped potential
# Σ cos((i+1)·s_i + i) over 17-18 observation dimensions from its 16 x 1024 pool, so NPEC
# does not see through that shaping there (README, "NPEC on MuJoCo"; the paper's finding
# (a) in its strongest form): the board holds 0.64-1.00 for the shaped entry. The two fits
# of the ratio also differ by up to ~0.11 there (negated 0.886 on Hopper `random`). If a
# better fit brings the shaped entry under 0.5, this fails: update the README with it.
NPEC_BLIND_TO_SHIPPED_SHAPING = {"halfcheetah", "hopper"}
NPEC_NEGATED_MUJOCO = 0.85


@pytest.mark.parametrize("task", [t for t in TASKS if t != "gridworld"])
def test_npec_sanity_entries_on_continuous_tasks(board_rows, task):
    if (task, "npec") in AWAITING:
        pytest.skip(AWAITING[(task, "npec")])
    rows = board_rows[(board_rows["task"] == task) & (board_rows["metric"] == "npec")]
    expert = rows[rows["coverage"] == "expert"]
    assert len(expert) and (expert["value"] == 0.0).all(), expert[expert["value"] != 0.0]
    rows = rows[rows["coverage"] != "expert"]
    blind = task in NPEC_BLIND_TO_SHIPPED_SHAPING
    negated = NPEC_NEGATED_MUJOCO if blind else NPEC_NEGATED
    for entry, ok in (("ground-truth", lambda v: v <= NPEC_SHIFTED),
                      ("shaped", (lambda v: v > 0.5) if blind else (lambda v: v <= NPEC_SHAPED)),
                      ("negated", lambda v: v >= negated)):  # fmt: skip
        values = rows[rows["submission"] == f"{task}-{entry}"]["value"]
        assert len(values) and ok(values).all(), f"{task}-{entry}: NPEC {sorted(values)}"
