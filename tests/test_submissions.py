"""Submissions: every format loads and scores, every bad input gives a named failure."""

from __future__ import annotations

import re
import shutil
import threading
import time
import tomllib
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from imitation.rewards.reward_nets import BasicRewardNet, BasicShapedRewardNet, RewardNet
from safetensors.torch import save_file

from benchmark.cli import main
from benchmark.metrics.epic import epic_distance
from benchmark.submissions import (
    SubmissionError,
    ValidationConfig,
    export_reward,
    list_submissions,
    load_submission,
    save_model,
    shaping_potential,
    submit_from_imitation,
    validate_many,
    validate_submission,
    write_submission,
)
from benchmark.submissions.architectures import MLPReward
from benchmark.submissions.conversion import example_inputs
from benchmark.tasks import list_tasks, load_task

REPO = Path(__file__).resolve().parents[1]
LEARNED = ("preferences", "airl", "airl-state-only", "regression")
# The checks in the order validate runs them (README, "Check a folder").
VALIDATION_CHECKS = ("schema", "task", "file", "sha256", "load", "run", "shape", "dtype",
                     "finite", "determinism", "speed")  # fmt: skip
FAST = ValidationConfig(n_transitions=64, batch_size=512, timing_repeats=1)


@pytest.fixture(scope="module")
def task():
    return load_task("gridworld")


@pytest.fixture(scope="module")
def rows(task):
    t = task.coverage("random").sample(200, 16, 3).transitions
    return t.obs, t.acts, t.next_obs, t.dones


def _meta(name: str, task: str = "gridworld") -> dict:
    return {
        "name": name,
        "task": task,
        "method": "test",
        "authors": ["Test Author"],
        "description": "A submission written by the test suite.",
    }


def _write_net(root: Path, name: str, net, task, prefer: str = "state-dict"):
    model = save_model(net, root / name, task, prefer=prefer)
    return write_submission(root / name, {**_meta(name), "model": model})


def _write_pickle(root: Path, name: str, module: torch.nn.Module):
    folder = root / name
    folder.mkdir(parents=True)
    torch.save(module, folder / "model.pt")
    return write_submission(
        folder, {**_meta(name), "model": {"format": "imitation-pickle", "file": "model.pt"}}
    )


# --- modules with known defects, pickled by the tests ---------------------------------


class WrongShape(torch.nn.Module):
    def forward(self, obs, acts, next_obs, dones):
        return obs.sum(dim=1, keepdim=True)  # [B, 1], not [B]


class NaNReward(torch.nn.Module):
    def forward(self, obs, acts, next_obs, dones):
        out = obs.sum(dim=1)
        out[::7] = float("nan")
        return out


class Raising(torch.nn.Module):
    def forward(self, obs, acts, next_obs, dones):
        raise RuntimeError("this reward model is broken")


class Slow(torch.nn.Module):
    def forward(self, obs, acts, next_obs, dones):
        time.sleep(0.2)
        return obs.sum(dim=1)


class Hanging(torch.nn.Module):
    def forward(self, obs, acts, next_obs, dones):
        threading.Event().wait()  # never set: forward never returns
        return obs.sum(dim=1)


class Noisy(torch.nn.Module):
    def forward(self, obs, acts, next_obs, dones):
        return obs.sum(dim=1) + torch.randn(obs.shape[0])


class NotATensor(torch.nn.Module):
    def forward(self, obs, acts, next_obs, dones):
        return obs.sum(dim=1).tolist()


class HangsWhenRepeated(torch.nn.Module):
    """Answers each batch once; the determinism check's repeated call never returns."""

    def __init__(self):
        super().__init__()
        self.seen: set[bytes] = set()

    def forward(self, obs, acts, next_obs, dones):
        key = obs.numpy().tobytes()
        if key in self.seen:
            threading.Event().wait()
        self.seen.add(key)
        return obs.argmax(dim=1).float()


class SlightlyBatchDependent(torch.nn.Module):
    def forward(self, obs, acts, next_obs, dones):
        # +0.01 on the 64-row batch, +0.005 on its 32-row half: a 0.005 shift per row.
        return obs.argmax(dim=1).double() + 0.01 * obs.shape[0] / 64


class HangsOnSmallBatches(torch.nn.Module):
    def forward(self, obs, acts, next_obs, dones):
        if obs.shape[0] < 64:  # the determinism check's half batch
            threading.Event().wait()
        return obs.argmax(dim=1).float()


class InfOnly(torch.nn.Module):
    def forward(self, obs, acts, next_obs, dones):
        return torch.full((obs.shape[0],), float("inf"))  # no NaN at all: only inf


class IntegerReward(torch.nn.Module):
    def forward(self, obs, acts, next_obs, dones):
        return obs.argmax(dim=1)  # int64, not floating point


class BatchMean(torch.nn.Module):
    def forward(self, obs, acts, next_obs, dones):
        r = obs.argmax(dim=1).float()
        return r - r.mean()  # each row's reward depends on the rest of the batch


class BatchSizeDependent(torch.nn.Module):
    def forward(self, obs, acts, next_obs, dones):
        return obs.argmax(dim=1).float() * obs.shape[0]


class Stateful(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.calls = 0

    def forward(self, obs, acts, next_obs, dones):
        self.calls += 1
        return obs.argmax(dim=1).float() + self.calls


class CustomRewardNet(RewardNet):
    """Not a named architecture: conversion must fall back to torch-export."""

    def __init__(self, observation_space, action_space):
        super().__init__(observation_space, action_space)
        self.w = torch.nn.Linear(observation_space.n * 2, 1)

    def forward(self, state, action, next_state, done):
        return torch.tanh(self.w(torch.cat([state, next_state], dim=1))).squeeze(1) * 3.0


# --- each format loads and scores -----------------------------------------------------


@pytest.mark.parametrize(
    ("architecture", "make"),
    [
        ("BasicRewardNet", lambda o, a: BasicRewardNet(o, a, use_next_state=True, hid_sizes=(8,))),
        (
            "BasicShapedRewardNet",
            lambda o, a: BasicShapedRewardNet(
                o, a, reward_hid_sizes=(8,), potential_hid_sizes=(4, 4), discount_factor=0.9
            ),
        ),
        ("mlp", lambda o, a: MLPReward(o.n, a.n, hid_sizes=(8,), activation="Tanh")),
    ],
)
def test_state_dict_submission_reproduces_the_nets_rewards(
    tmp_path, task, rows, architecture, make
):
    torch.manual_seed(0)
    net = make(task.observation_space, task.action_space).eval()
    if architecture == "mlp":  # not inferable from a live module: write it by hand
        folder = tmp_path / "gw-net"
        folder.mkdir()
        save_file(net.state_dict(), folder / "model.safetensors")
        model = {
            "format": "state-dict",
            "file": "model.safetensors",
            "architecture": "mlp",
            "options": {"hid_sizes": [8], "activation": "Tanh"},
        }
        sub = write_submission(folder, {**_meta("gw-net"), "model": model})
    else:
        sub = _write_net(tmp_path, "gw-net", net, task)
    assert sub.format == "state-dict" and sub.model.architecture == architecture
    reward = sub.load_reward()
    with torch.no_grad():
        torch.testing.assert_close(reward(*rows), net(*rows))
    assert validate_submission(sub.path, FAST).passed


def test_torch_export_submission_matches_the_net_at_every_batch_size(tmp_path, task, rows):
    torch.manual_seed(1)
    net = BasicRewardNet(task.observation_space, task.action_space, hid_sizes=(16, 16)).eval()
    sub = _write_net(tmp_path, "gw-export", net, task, prefer="torch-export")
    assert sub.format == "torch-export" and sub.model.file.suffix == ".pt2"
    reward = sub.load_reward()
    for n in (1, 3, 200):
        part = tuple(x[:n] for x in rows)
        with torch.no_grad():
            torch.testing.assert_close(reward(*part), net(*part))
    assert validate_submission(sub.path, FAST).passed


def test_loaded_reward_is_in_eval_mode_and_accepts_float64(tmp_path, task, rows):
    net = BasicRewardNet(task.observation_space, task.action_space, hid_sizes=(8,))
    reward = _write_net(tmp_path, "gw-eval", net, task).load_reward()
    assert not reward.training and not reward.model.training
    out = reward(*(x.double() for x in rows))
    assert out.dtype == torch.float32 and out.shape == (rows[0].shape[0],)


def test_pickle_is_refused_without_trust_and_loads_with_it(tmp_path, task, rows):
    net = BasicRewardNet(task.observation_space, task.action_space, hid_sizes=(8,)).eval()
    sub = _write_pickle(tmp_path, "gw-pickle", net)
    with pytest.raises(SubmissionError, match="--trust-pickle") as refused:
        sub.load_reward()
    assert refused.value.submission == "gw-pickle" and refused.value.check == "load"
    report = validate_submission(sub.path, FAST)
    assert [r.check for r in report.failures] == ["load"]
    assert "--trust-pickle" in report.failures[0].detail
    with torch.no_grad():
        torch.testing.assert_close(sub.load_reward(trust_pickle=True)(*rows), net(*rows))
    trusted = ValidationConfig(**{**FAST.__dict__, "trust_pickle": True})
    report = validate_submission(sub.path, trusted)
    assert report.passed
    load = next(r for r in report.results if r.check == "load")
    assert load.detail == "imitation-pickle, in a contained worker"  # the format loaded
    assert [(r.check, r.status) for r in report.results] == [(c, "pass") for c in VALIDATION_CHECKS]
    details = {r.check: r.detail for r in report.results if r.check in ("run", "shape", "dtype")}
    assert details == {
        "run": "coverages random, expert, mixture, uniform",  # gridworld.toml's order
        "shape": "[B]",
        "dtype": "torch.float32",
    }


def test_task_reward_entries_pin_the_ends_of_the_epic_scale(tmp_path, task):
    gt = task.reward("ground_truth")
    sample = task.coverage("mixture").sample(1024, 512, 0)
    t = sample.transitions
    expected = {"gw-truth": 0.0, "gw-shaped": 0.0, "gw-negated": 1.0}
    params = {
        "gw-truth": {"reward": "ground_truth"},
        "gw-shaped": {"reward": "ground_truth", "scale": 2.5, "potential_scale": 1.0},
        "gw-negated": {"reward": "ground_truth", "scale": -1.0},
    }
    for name, table in params.items():
        sub = write_submission(
            tmp_path / name, {**_meta(name), "model": {"format": "task-reward", **table}}
        )
        reward = sub.load_reward()
        d = epic_distance(
            reward,
            gt,
            transitions=t,
            state_samples=sample.state_samples,
            action_samples=sample.action_samples,
            discount=task.discount,
        )
        assert d == pytest.approx(expected[name], abs=1e-5), name
    shaped = load_submission(tmp_path / "gw-shaped").load_reward()
    phi = shaping_potential
    manual = 2.5 * gt(t.obs, t.acts, t.next_obs, t.dones) + (
        task.discount * phi(t.next_obs) - phi(t.obs)
    )
    torch.testing.assert_close(shaped(t.obs, t.acts, t.next_obs, t.dones), manual.float())


# --- bad input: a named check fails, with the submission's name -----------------------


def test_wrong_task_name_is_a_task_failure_listing_valid_tasks(tmp_path):
    with pytest.raises(SubmissionError) as err:
        write_submission(
            tmp_path / "bad-task",
            {
                **_meta("bad-task", task="gridwrld"),
                "model": {"format": "task-reward", "reward": "ground_truth"},
            },
        )
    assert err.value.check == "task" and "bad-task" in str(err.value)
    assert "gridwrld" in str(err.value) and "gridworld" in err.value.message


def test_missing_model_file_is_a_file_failure(tmp_path, task):
    net = BasicRewardNet(task.observation_space, task.action_space, hid_sizes=(4,))
    sub = _write_net(tmp_path, "gw-missing", net, task)
    sub.model.file.unlink()
    with pytest.raises(SubmissionError, match="missing") as err:
        load_submission(sub.path)
    assert (err.value.submission, err.value.check) == ("gw-missing", "file")


def test_spec_failures_report_every_check_once_in_order(tmp_path, task):
    """Checks before a spec failure passed (the TOML was read); with no TOML at all
    nothing was checked before "file", so those are skipped too."""
    net = BasicRewardNet(task.observation_space, task.action_space, hid_sizes=(4,))
    sub = _write_net(tmp_path, "gw-missing", net, task)
    sub.model.file.unlink()
    rest = [(c, "skip") for c in VALIDATION_CHECKS[3:]]
    report = validate_submission(sub.path, FAST)
    assert [(r.check, r.status) for r in report.results] == [
        ("schema", "pass"),
        ("task", "pass"),
        ("file", "fail"),
        *rest,
    ]
    (tmp_path / "empty").mkdir()
    report = validate_submission(tmp_path / "empty", FAST)
    assert [(r.check, r.status) for r in report.results] == [
        ("schema", "skip"),
        ("task", "skip"),
        ("file", "fail"),
        *rest,
    ]
    assert "submission.toml does not exist" in report.failures[0].detail


def test_tampered_model_file_is_a_sha256_failure(tmp_path, task):
    net = BasicRewardNet(task.observation_space, task.action_space, hid_sizes=(4,))
    sub = _write_net(tmp_path, "gw-tampered", net, task)
    state = {k: v + 0.01 for k, v in net.state_dict().items()}
    save_file(state, sub.model.file)  # same architecture, different weights
    with pytest.raises(SubmissionError, match="tampered") as err:
        load_submission(sub.path)
    assert (err.value.submission, err.value.check) == ("gw-tampered", "sha256")
    report = validate_submission(sub.path, FAST)
    assert [r.check for r in report.failures] == ["sha256"]
    assert {r.check: r.status for r in report.results}["load"] == "skip"


def test_tampered_task_reward_table_is_a_sha256_failure(tmp_path):
    sub = write_submission(
        tmp_path / "gw-neg",
        {
            **_meta("gw-neg"),
            "model": {"format": "task-reward", "reward": "ground_truth", "scale": -1.0},
        },
    )
    toml = sub.path / "submission.toml"
    toml.write_text(toml.read_text().replace("scale = -1.0", "scale = 1.0"))
    with pytest.raises(SubmissionError, match="tampered") as err:
        load_submission(sub.path)
    assert err.value.check == "sha256"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.pop("authors"), "lacks required keys"),
        (lambda d: d.update(name="Bad_Name"), "lowercase"),
        (lambda d: d.update(name="other-name"), "folder name"),
        (lambda d: d["model"].update(format="onnx"), "model.format"),
    ],
)
def test_schema_errors_say_what_to_fix(tmp_path, edit, message):
    data = {**_meta("gw-schema"), "model": {"format": "task-reward", "reward": "ground_truth"}}
    edit(data)
    folder = tmp_path / "gw-schema"
    folder.mkdir()
    from benchmark.submissions.spec import dumps_toml

    (folder / "submission.toml").write_text(dumps_toml(data))
    with pytest.raises(SubmissionError, match=message) as err:
        load_submission(folder)
    assert err.value.check == "schema"


@pytest.mark.parametrize(
    ("module", "check", "message"),
    [
        (
            WrongShape(),
            "shape",
            r"expected rewards of shape \[64\] on coverage '\w+', got \(64, 1\)",
        ),
        (NotATensor(), "shape", r"on coverage '\w+': the model returned a list, not a tensor"),
        (NaNReward(), "finite", "NaN"),
        (InfOnly(), "finite", "0 NaN and 64 inf"),
        (IntegerReward(), "dtype", "expected floating-point rewards .*torch.int64"),
        (BatchMean(), "determinism", "change with the batch"),
        (BatchSizeDependent(), "determinism", "change with the batch"),
        (
            Stateful(),
            "determinism",
            # the contract check's two calls on the same 65536 rows are consecutive
            r"two calls on the same inputs \(65536 rows of coverage '\w+'\) differ by up to 1; the "
            "model must hold no state across calls",
        ),
        (
            SlightlyBatchDependent(),
            "determinism",
            r"rewards of coverage '\w+' change with the batch they are computed in \(a batch of "
            r"\d+ rows vs 65536: max diff [0-9.e-]+\); each row's reward must depend on that row only",
        ),
        (
            HangsOnSmallBatches(),
            "determinism",
            r"did not return from one forward within 0.5 s; its worker was killed",
        ),
        (
            HangsWhenRepeated(),
            "determinism",
            r"did not return from one forward within 0.5 s; its worker was killed",
        ),
        (
            Raising(),
            "run",
            "on coverage '\\w+': the model raised RuntimeError: this reward model is broken",
        ),
        (Noisy(), "determinism", "differ"),
        (Slow(), "speed", "limit is 0.05 s"),
    ],
)
def test_defective_models_fail_the_named_check(tmp_path, module, check, message):
    sub = _write_pickle(tmp_path, "gw-defect", module)
    config = ValidationConfig(
        n_transitions=64,
        batch_size=512,
        timing_repeats=1,
        time_limit_s=0.05,
        trust_pickle=True,
        call_timeout_s=0.5,
    )
    report = validate_submission(sub.path, config)
    assert not report.passed
    assert [r.check for r in report.failures] == [check]
    failure = report.failures[0]
    assert re.search(message, failure.detail), failure.detail
    # Every check is reported once, in order: passed up to the failure, skipped after it.
    i = VALIDATION_CHECKS.index(check)
    expected = [(c, "pass") for c in VALIDATION_CHECKS[:i]] + [(check, "fail")]
    expected += [(c, "skip") for c in VALIDATION_CHECKS[i + 1 :]]
    assert [(r.check, r.status) for r in report.results] == expected
    with pytest.raises(SubmissionError) as err:
        report.raise_for_failure()
    assert f"submission 'gw-defect': {check} check failed" in str(err.value)


def test_a_coverage_that_cannot_be_sampled_fails_run_with_the_reason(tmp_path, task, monkeypatch):
    good = _write_net(
        tmp_path, "gw-good", BasicRewardNet(task.observation_space, task.action_space), task
    )
    not_a_folder = tmp_path / "cache-is-a-file"
    not_a_folder.write_text("")
    monkeypatch.setenv("EPIC_BENCH_CACHE", str(not_a_folder))  # the samples cannot be cached
    report = validate_submission(good.path, FAST)
    assert [(r.check, r.status) for r in report.results][4:7] == [
        ("load", "pass"),
        ("run", "fail"),
        ("shape", "skip"),
    ]
    assert "could not sample the task's coverage" in report.failures[0].detail


def test_a_hung_model_fails_run_instead_of_hanging_validate(tmp_path, task):
    hung = _write_pickle(tmp_path, "gw-hung", Hanging())
    good = _write_net(
        tmp_path, "gw-good", BasicRewardNet(task.observation_space, task.action_space), task
    )
    config = ValidationConfig(**{**FAST.__dict__, "trust_pickle": True, "call_timeout_s": 0.5})
    start = time.perf_counter()
    reports = validate_many([hung.path, good.path], config)
    assert time.perf_counter() - start < 30
    assert [r.passed for r in reports] == [False, True]
    assert [r.check for r in reports[0].failures] == ["run"]
    assert "did not return from one forward within 0.5 s" in reports[0].failures[0].detail


def test_one_broken_submission_does_not_stop_the_others(tmp_path, task):
    broken = _write_pickle(tmp_path, "gw-broken", Raising())
    good = _write_net(
        tmp_path, "gw-good", BasicRewardNet(task.observation_space, task.action_space), task
    )
    trusted = ValidationConfig(**{**FAST.__dict__, "trust_pickle": True})
    reports = validate_many([broken.path, tmp_path / "not-there", good.path], trusted)
    assert [r.passed for r in reports] == [False, False, True]
    result = CliRunner().invoke(
        main,
        ["validate", str(broken.path), str(good.path), "--trust-pickle", "--batch-size", "512"],
    )
    assert result.exit_code == 1
    assert "gw-good" in result.output and "1/2 valid; invalid: gw-broken" in result.output
    assert "FAIL  run" in result.output and "Traceback" not in result.output


# --- submit --from-imitation ------------------------------------------------------------


def _trained_shaped_net(task, steps: int = 20) -> BasicShapedRewardNet:
    """A BasicShapedRewardNet after a few Adam steps towards the ground truth."""
    torch.manual_seed(0)
    net = BasicShapedRewardNet(task.observation_space, task.action_space, discount_factor=0.9)
    t = task.coverage("random").sample(256, 16, 0).transitions
    target = task.reward("ground_truth")(t.obs, t.acts, t.next_obs, t.dones).float()
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    for _ in range(steps):
        loss = torch.nn.functional.mse_loss(net(t.obs, t.acts, t.next_obs, t.dones), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return net.eval()


def test_submit_from_imitation_makes_a_safe_valid_submission(tmp_path, task, rows):
    net = _trained_shaped_net(task)
    source = tmp_path / "reward_net.pt"
    torch.save(net, source)  # what imitation's training scripts do
    root = tmp_path / "submissions"
    root.mkdir()
    args = ["submit", "--from-imitation", str(source), "--task", "gridworld", "--name", "my-net",
            "--root", str(root), "--method", "regression", "--author", "Ada"]  # fmt: skip
    refused = CliRunner().invoke(main, args)
    assert refused.exit_code != 0 and "--trust-pickle" in refused.output
    assert not (root / "my-net").exists()

    result = CliRunner().invoke(main, [*args, "--trust-pickle"])
    assert result.exit_code == 0, result.output
    assert "git add" in result.output and "=> valid" in result.output
    sub = load_submission(root / "my-net")
    assert sub.format == "state-dict" and sub.model.architecture == "BasicShapedRewardNet"
    assert sub.authors == ("Ada",) and sub.provenance["converted_from"] == "reward_net.pt"
    with torch.no_grad():
        torch.testing.assert_close(sub.load_reward()(*rows), net(*rows))  # no pickle needed
    assert [s.name for s in list_submissions(root)] == ["my-net"]


def _as_imitation_scripts_build_it(task):
    """imitation's scripts: RunningNorm input layer, NormalizedRewardNet output wrapper."""
    from imitation.rewards.reward_nets import NormalizedRewardNet
    from imitation.util.networks import RunningNorm

    torch.manual_seed(3)
    base = BasicRewardNet(
        task.observation_space, task.action_space, normalize_input_layer=RunningNorm
    )
    t = task.coverage("random").sample(128, 8, 1).transitions
    base.train()
    base(t.obs, t.acts, t.next_obs, t.dones)  # updates the running statistics
    return NormalizedRewardNet(base, RunningNorm).eval(), base


def test_submit_unwraps_normalized_nets_and_keeps_running_norm_statistics(tmp_path, task, rows):
    wrapped, base = _as_imitation_scripts_build_it(task)
    source = tmp_path / "reward_net.pt"
    torch.save(wrapped, source)
    conversion = submit_from_imitation(
        source, task="gridworld", name="normed", root=tmp_path, trust_pickle=True, config=FAST
    )
    sub = conversion.submission
    assert conversion.report.passed and sub.format == "state-dict"
    assert sub.model.options["normalize_input_layer"] == "RunningNorm"
    with torch.no_grad():  # forward of the wrapper is the base's forward
        torch.testing.assert_close(sub.load_reward()(*rows), base(*rows))
        torch.testing.assert_close(sub.load_reward()(*rows), wrapped(*rows))


def test_submit_falls_back_to_torch_export_for_unknown_architectures(tmp_path, task, rows):
    torch.manual_seed(2)
    net = CustomRewardNet(task.observation_space, task.action_space).eval()
    source = tmp_path / "custom.pt"
    torch.save(net, source)
    conversion = submit_from_imitation(
        source, task="gridworld", name="custom-net", root=tmp_path, trust_pickle=True, config=FAST
    )
    assert conversion.report.passed
    assert conversion.submission.format == "torch-export"
    with torch.no_grad():
        torch.testing.assert_close(conversion.submission.load_reward()(*rows), net(*rows))


def test_submit_rejects_unknown_task_and_existing_folder(tmp_path, task):
    source = tmp_path / "net.pt"
    torch.save(BasicRewardNet(task.observation_space, task.action_space), source)
    with pytest.raises(SubmissionError, match="unknown task 'nope'"):
        submit_from_imitation(source, task="nope", name="x", root=tmp_path, trust_pickle=True)
    (tmp_path / "taken").mkdir()
    with pytest.raises(SubmissionError, match="already exists"):
        submit_from_imitation(
            source, task="gridworld", name="taken", root=tmp_path, trust_pickle=True
        )


def test_example_inputs_are_float32_rows_of_the_tasks_coverage(task):
    obs, acts, next_obs, dones = example_inputs(task, n=10)
    assert obs.dtype == torch.float32 and obs.shape == (10, task.observation_space.n)
    assert acts.shape == (10, task.action_space.n) and dones.shape == (10,)


def test_export_reward_rejects_nothing_it_cannot_replay(tmp_path, task):
    net = MLPReward(task.observation_space.n, task.action_space.n, hid_sizes=(4,))
    inputs = example_inputs(task, n=5)
    export_reward(net, inputs, tmp_path / "m.pt2")
    program = torch.export.load(str(tmp_path / "m.pt2")).module()
    big = tuple(torch.cat([x] * 40) for x in inputs)
    torch.testing.assert_close(program(*big), net(*big))


# --- listing and the committed submissions ----------------------------------------------


def test_submissions_command_lists_task_method_format_and_validity(tmp_path, task):
    _write_net(
        tmp_path, "gw-listed", BasicRewardNet(task.observation_space, task.action_space), task
    )
    broken = _write_net(
        tmp_path, "gw-bad", BasicRewardNet(task.observation_space, task.action_space), task
    )
    broken.model.file.write_bytes(b"garbage")
    result = CliRunner().invoke(main, ["submissions", "--root", str(tmp_path)])
    assert result.exit_code == 1
    lines = {line.split()[0]: line for line in result.output.splitlines()[1:]}
    assert lines["gw-listed"].split()[1:4] == ["gridworld", "test", "state-dict"]
    assert lines["gw-listed"].endswith("yes") and "no: sha256" in lines["gw-bad"]
    shutil.rmtree(broken.path)
    result = CliRunner().invoke(main, ["submissions", "--root", str(tmp_path), "--check"])
    assert result.exit_code == 0 and "gw-listed" in result.output


def test_committed_submissions_parse_and_cover_every_task_with_sanity_entries():
    root = REPO / "submissions"
    subs = list_submissions(root)
    folders = sorted(p.name for p in root.iterdir() if (p / "submission.toml").is_file())
    assert [s.name for s in subs] == folders  # every committed folder is valid
    names = {s.name for s in subs}
    for task_name in {s.task for s in subs}:
        for suffix in ("ground-truth", "shaped", "negated", "random", *LEARNED):
            assert f"{task_name}-{suffix}" in names
    for sub in subs:
        assert sub.task in list_tasks()
        if sub.model.file is not None:
            assert sub.model.file.stat().st_size < 2_000_000
        raw = tomllib.loads((sub.path / "submission.toml").read_text())
        assert raw["provenance"]["command"].startswith("epic-bench baselines train")
