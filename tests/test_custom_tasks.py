"""Custom tasks: an env family from any importable module, task directories added to the
built-in ones, and a bad task file reported by name while the others load."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from benchmark.cli import main
from benchmark.tasks import TaskError, list_tasks, load_task

REPO = Path(__file__).resolve().parents[1]
BUILT_IN = sorted(p.stem for p in (REPO / "tasks").glob("*.toml"))
GRID = (REPO / "tasks" / "gridworld.toml").read_text()

FAMILY = """
from benchmark.envs import gridworld as _grid

make_env = _grid.make_env
make_vec_env = _grid.make_vec_env
tabular_dynamics = _grid.tabular_dynamics
expert_policy = _grid.expert_policy
expert_policy_table = _grid.expert_policy_table
"""


def grid_as(name: str, family: str | None = None) -> str:
    text = GRID.replace('name = "gridworld"', f'name = "{name}"')
    if family is not None:
        text = text.replace(
            'family = "gridworld"', f'family = "{family}"\nreward_family = "gridworld"'
        )
    return text


@pytest.fixture
def user_dir(tmp_path, monkeypatch):
    """A user's task directory on $EPIC_BENCH_TASKS, with its package on sys.path."""
    monkeypatch.setenv("EPIC_BENCH_TASKS", str(tmp_path / "tasks"))
    monkeypatch.syspath_prepend(str(tmp_path / "pkgs"))
    (tmp_path / "tasks").mkdir()
    (tmp_path / "pkgs" / "labenvs").mkdir(parents=True)
    (tmp_path / "pkgs" / "labenvs" / "mygrid.py").write_text(FAMILY)
    yield tmp_path
    for name in [m for m in sys.modules if m == "labenvs" or m.startswith("labenvs.")]:
        del sys.modules[name]


def test_a_task_directory_is_added_beside_the_built_in_tasks(user_dir):
    (user_dir / "tasks" / "mygrid.toml").write_text(grid_as("mygrid", family="labenvs.mygrid"))
    assert list_tasks() == sorted([*BUILT_IN, "mygrid"])
    task = load_task("mygrid")
    assert task.env_family.__name__ == "labenvs.mygrid"
    assert task.tabular is not None  # the optional exports of the user's module are used
    builtin = load_task("gridworld")
    assert (task.tabular.transitions["test"] == builtin.tabular.transitions["test"]).all()


def test_several_directories_are_separated_by_pathsep(user_dir, monkeypatch, tmp_path):
    other = tmp_path / "more"
    other.mkdir()
    (user_dir / "tasks" / "one.toml").write_text(grid_as("one"))
    (other / "two.toml").write_text(grid_as("two"))
    monkeypatch.setenv("EPIC_BENCH_TASKS", f"{user_dir / 'tasks'}:{other}")
    assert {"one", "two", "gridworld"} <= set(list_tasks())


def test_a_bad_task_file_is_reported_by_name_while_the_others_list(user_dir):
    (user_dir / "tasks" / "good.toml").write_text(grid_as("good"))
    (user_dir / "tasks" / "broken.toml").write_text(
        grid_as("broken").replace("horizon = ", "horizon = -")
    )
    (user_dir / "tasks" / "nomodule.toml").write_text(grid_as("nomodule", family="labenvs.missing"))
    (user_dir / "pkgs" / "labenvs" / "buggy.py").write_text("raise RuntimeError('bug in my env')\n")
    (user_dir / "tasks" / "buggy.toml").write_text(grid_as("buggy", family="labenvs.buggy"))
    result = CliRunner().invoke(main, ["tasks"])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    for name in [*BUILT_IN, "good"]:
        assert name in result.stdout
    errors = [ln for ln in result.stderr.splitlines() if ln.startswith("error: ")]
    assert len(errors) == 3
    assert any("broken.toml: field 'horizon'" in e for e in errors)
    assert any("nomodule.toml: field 'env.family': no module labenvs.missing" in e for e in errors)
    assert any("buggy.toml: field 'env.family': importing labenvs.buggy failed: RuntimeError: bug in my env" in e
               for e in errors)  # fmt: skip


def test_a_missing_task_directory_is_a_one_line_error(monkeypatch, tmp_path):
    monkeypatch.setenv("EPIC_BENCH_TASKS", str(tmp_path / "nowhere"))
    with pytest.raises(
        TaskError, match="task directory .*nowhere does not exist; fix \\$EPIC_BENCH_TASKS"
    ):
        list_tasks()
    result = CliRunner().invoke(main, ["tasks"])
    assert (
        result.exit_code == 1
        and "does not exist" in result.output
        and "Traceback" not in result.output
    )
