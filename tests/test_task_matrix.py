"""The benchmark's sanity picture: EPIC between every pair of a task's rewards.

On every task: shaped is ~0 from ground truth (EPIC ignores potential shaping), the reward
that wants the opposite is the farthest from it and near 1, the matrix is a symmetric
pseudometric with values in [0, 1]. On the gridworld the sampled matrix estimates the exact one.
"""

import itertools

import numpy as np
import pytest
from click.testing import CliRunner

from benchmark.cli import main
from benchmark.tasks import list_tasks, load_task
from benchmark.tools.task_matrix import epic_matrix, exact_epic_matrix

# The reward of each task that wants the opposite of its ground truth.
OPPOSITE = {
    "gridworld": "opposite",
    "pointmass": "away",
    "pointmaze": "away",
    "halfcheetah": "backward",
    "hopper": "backward",
}


@pytest.fixture(autouse=True)
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("EPIC_BENCH_CACHE", str(tmp_path / "cache"))


def _check_pseudometric(d: np.ndarray) -> None:
    finite = d[np.isfinite(d)]
    assert ((finite >= -1e-9) & (finite <= 1 + 1e-9)).all()
    np.testing.assert_allclose(d, d.T)
    # A reward constant on the sample (PointMaze's sparse reward under random coverage: a
    # random policy never gets near the goal) has no Pearson correlation: NaN, row and column.
    diag = np.diag(d)
    np.testing.assert_allclose(diag[np.isfinite(diag)], 0.0, atol=1e-6)
    for i, j, k in itertools.permutations(range(len(d)), 3):
        if np.isfinite([d[i, k], d[i, j], d[j, k]]).all():
            assert d[i, k] <= d[i, j] + d[j, k] + 1e-6


@pytest.mark.parametrize("coverage", ["random", "expert", "mixture", "uniform"])
def test_exact_gridworld_matrix_has_the_designed_structure(coverage):
    m = exact_epic_matrix(load_task("gridworld"), coverage)
    _check_pseudometric(m.distances)
    assert m["ground_truth", "shaped"] < 1e-6
    assert m["ground_truth", "opposite"] == pytest.approx(1.0, abs=1e-9)
    assert m["shaped", "opposite"] == pytest.approx(1.0, abs=1e-9)
    assert 0.005 < m["ground_truth", "no_control_cost"] < m["ground_truth", "sparse"] < 0.9


@pytest.mark.parametrize("coverage", ["random", "mixture", "uniform"])
def test_sampled_gridworld_matrix_converges_to_the_exact_one(coverage):
    task = load_task("gridworld")
    sampled = epic_matrix(task, coverage, n_transitions=4000, n_samples=1000, seed=0)
    exact = exact_epic_matrix(task, coverage)
    np.testing.assert_allclose(sampled.distances, exact.distances, atol=0.03)


@pytest.mark.parametrize("name", list_tasks())
def test_every_task_shaped_is_near_zero_and_opposite_is_farthest(name):
    task = load_task(name)
    assert name in OPPOSITE, f"add the opposite reward of task {name!r} to OPPOSITE"
    # Small samples keep this fast (M only sets how well the mean term is estimated).
    small = task.tabular is None
    m = epic_matrix(
        task, "random", n_transitions=1024 if small else 4000, n_samples=64 if small else 1000
    )
    _check_pseudometric(m.distances)
    gt = m.distances[m.names.index("ground_truth")]
    assert m["ground_truth", "shaped"] < 0.02
    assert m["ground_truth", OPPOSITE[name]] > 0.8
    assert m["ground_truth", OPPOSITE[name]] == np.nanmax(gt)


def test_cli_matrix_writes_the_heatmap_and_prints_the_table(tmp_path):
    result = CliRunner().invoke(
        main,
        [
            "tasks",
            "matrix",
            "gridworld",
            "--coverage",
            "uniform",
            "--exact",
            "--out",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 0, result.output
    png = tmp_path / "gridworld-uniform-epic-matrix.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "ground_truth" in result.output and "1.000" in result.output


def test_cli_lists_and_shows_tasks():
    runner = CliRunner()
    listing = runner.invoke(main, ["tasks"])
    assert listing.exit_code == 0
    assert all(name in listing.output for name in list_tasks())
    shown = runner.invoke(main, ["tasks", "show", "gridworld"], env={"COLUMNS": "200"})
    assert shown.exit_code == 0
    for word in ("ground_truth", "mixture", "0.05", "value_iteration", "discount 0.9", "slip=0.2"):
        assert word in shown.output


def test_cli_errors_name_the_valid_choices():
    runner = CliRunner()
    result = runner.invoke(main, ["tasks", "show", "gridwrld"])
    assert result.exit_code != 0 and "valid tasks" in result.output and "gridworld" in result.output
    result = runner.invoke(main, ["tasks", "matrix", "gridworld", "--coverage", "everywhere"])
    assert result.exit_code != 0 and "valid coverages" in result.output


def test_cli_coverage_build_caches_samples(tmp_path):
    result = CliRunner().invoke(
        main,
        [
            "coverage",
            "build",
            "--task",
            "gridworld",
            "--coverage",
            "random",
            "--seeds",
            "2",
            "--n-transitions",
            "64",
            "--n-samples",
            "32",
        ],
    )
    assert result.exit_code == 0, result.output
    files = sorted(
        (tmp_path / "cache" / "coverage" / f"gridworld-v{load_task('gridworld').version}").glob(
            "random-nt64-m32-seed*.safetensors"
        )
    )
    assert len(files) == 2


@pytest.mark.slow
@pytest.mark.parametrize("name", list_tasks())
def test_every_coverage_of_every_task_at_full_size(name):
    """The sanity picture at the evaluation's default sizes, on every coverage."""
    task = load_task(name)
    for coverage in task.coverage_names:
        m = epic_matrix(task, coverage, n_transitions=4096, n_samples=512)
        _check_pseudometric(m.distances)
        gt = m.distances[m.names.index("ground_truth")]
        assert m["ground_truth", "shaped"] < 0.01, coverage
        assert m["ground_truth", OPPOSITE[name]] > 0.8, coverage
        assert m["ground_truth", OPPOSITE[name]] == np.nanmax(gt), coverage
