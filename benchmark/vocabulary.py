"""Every shared vocabulary, in one place: the names other modules validate against.

Why one module without heavy imports: the task schema, the grid, the transfer metric,
the leaderboard and the CLI's ``--option`` choices must agree on these names, and the
CLI reads them without importing torch. Metric names live in the metric registry
(`benchmark.metrics.registry`), submission model formats in `benchmark.submissions.spec`.
"""

from __future__ import annotations

# Task variants: ``train`` dynamics and the changed ``test`` dynamics (transfer is scored there).
VARIANTS = ("train", "test")
# Transfer budgets of a task file, from cheapest to most precise.
BUDGETS = ("smoke", "standard", "full")
# RL algorithms a budget may name (value_iteration: exact, tabular tasks only).
ALGORITHMS = ("ppo", "sac", "value_iteration")
# Coverage policies of a task file's ``[coverage.<name>] policy``.
COVERAGE_POLICIES = ("random", "expert", "mixture", "expert_noisy", "uniform")
# Of those, the deterministic ones: one successor per state in the deterministic train
# dynamics, where NPEC's zero class reaches every reward (benchmark.metrics.npec).
DETERMINISTIC_COVERAGE_POLICIES = ("expert",)
# Where evaluation units run.
EXECUTORS = ("local", "ray")
# Leaderboard output formats (``html``: the self-contained site page).
LEADERBOARD_FORMATS = ("table", "markdown", "csv", "json", "html")
# Formats `save_model` can write for a converted imitation net.
EXPORT_FORMATS = ("state-dict", "torch-export")
# W&B modes for ``evaluate --wandb-mode``.
WANDB_MODES = ("offline", "online")
# Transfer evaluation protocol: part of every reference cache key and transfer row; bump
# when the protocol changes (2: K-run reference mean, fixed evaluation episodes).
TRANSFER_PROTOCOL_VERSION = 2
# Transfer metrics (policy trained in the test / the train variant).
TRANSFER_METRICS = ("transfer", "transfer_train")
# What a normalized transfer score means, for every place that shows it (CLI, site, README).
TRANSFER_LEGEND = (
    "transfer: 0 = random policy, 1 = ground-truth-trained (mean of the reference runs), "
    "< 0 worse than random, > 1 better than the reference"
)
# Seeds of the data a baseline trains on (coverage samples, demonstrations, its envs) start
# here: disjoint from every evaluation seed (the grid's 0..seeds-1, refused above this) and
# from the transfer reference seeds (1000..1004), so no baseline is scored on its own data.
TRAINING_DATA_SEED_START = 10_000
# Seeds of the fit pools of NPEC units start here (pool seed = this + the unit's seed): the
# potential is fitted on draws independent of the unit's sample (issue 18), and of every
# evaluation, reference and baseline-training seed.
NPEC_FIT_SEED_START = 1_000_000
# Baseline training methods (`epic-bench baselines train --method`; benchmark.baselines).
# A checkpoint of a training run is submitted as ``<family>-ckpt<k>`` (k = 1..K, K last);
# the leaderboard groups a family by this suffix (issue 17: a population of learned rewards).
CHECKPOINT_SUFFIX = "-ckpt"
BASELINE_METHODS = ("preferences", "airl", "airl-state-only", "regression", "sanity")
