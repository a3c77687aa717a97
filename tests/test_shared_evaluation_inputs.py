"""Every submission of a run shares the (task, coverage, seed) inputs of its EPIC units.

The coverage sample is drawn once (one cache file) and the ground truth is canonicalized
once per (task, coverage, seed, sizes); a second submission only pays for its own
reward's forward passes (issue 15).
"""

from __future__ import annotations

import pytest

from benchmark.evaluation import expand_grid, run_unit
from benchmark.metrics.epic import _canonical_truth
from benchmark.paths import cache_root
from benchmark.submissions import load_submission


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("EPIC_BENCH_CACHE", str(tmp_path / "cache"))
    _canonical_truth.cache_clear()
    yield
    _canonical_truth.cache_clear()


def test_two_submissions_share_one_sample_and_one_canonical_ground_truth(fresh_cache):
    subs = [load_submission(f"submissions/gridworld-{m}") for m in ("negated", "shaped")]
    # Sampled units (on the gridworld the default units are exact and need no sample).
    units = expand_grid(subs, metrics=["epic"], coverages=["random"], seeds=1, exact=False)
    assert len(units) == 2 and units[0].submission != units[1].submission
    rows = [run_unit(u)[0] for u in units]
    assert [r["status"] for r in rows] == ["ok", "ok"]
    # negated is -R (EPIC 1), shaped is R plus shaping (EPIC 0): each got its own reward.
    values = {r["submission"]: r["value"] for r in rows}
    assert values["gridworld-negated"] == pytest.approx(1.0, abs=1e-6)
    assert values["gridworld-shaped"] == pytest.approx(0.0, abs=1e-6)
    info = _canonical_truth.cache_info()
    assert (info.misses, info.hits) == (1, 1)
    # The EPIC sample (N_T x M = 1024 x 256) is drawn once; the contract check's small
    # 256 x 16 sample of the same coverage is a separate, equally shared file.
    samples = [p for p in (cache_root() / "coverage").rglob("*-nt1024-m256-*.safetensors")]
    assert len(samples) == 1, samples
