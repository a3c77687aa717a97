"""PointMaze: wall collisions, variants, rewards and expert (benchmark.envs/rewards.pointmaze)."""

import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from benchmark.envs import pointmaze as mz
from benchmark.envs.batched import rollout
from benchmark.rewards.pointmaze import REWARDS

TRAIN = {"gap": "left"}
TEST = {"gap": "right"}
GOAL = torch.tensor(mz.GOAL)


def random_policy(seed: int):
    gen = torch.Generator().manual_seed(seed)
    return lambda obs: torch.rand(obs.shape[0], 2, generator=gen) * 2 - 1


def flat(obs, acts, next_obs, rews, dones):
    return (
        obs.reshape(-1, 4),
        acts.reshape(-1, 2),
        next_obs.reshape(-1, 4),
        rews.reshape(-1),
        dones.reshape(-1),
    )


def push_up_from(params, xs, steps=60):
    """Final positions of points starting below the wall at ``xs``, pushed straight up."""
    core = mz.PointMazeCore(len(xs), params)
    core.reset()
    core.state = torch.tensor([[x, 0.3, 0.0, 0.0] for x in xs])
    for _ in range(steps):
        core.step(torch.tensor([[0.0, 1.0]] * len(xs)))
    return core.state


def test_wall_blocks_where_it_stands_and_the_gap_lets_through():
    xs = [0.15, 0.5, 0.85]  # left gap, middle (wall in both), right gap
    train = push_up_from(TRAIN, xs)
    test = push_up_from(TEST, xs)
    assert train[:, 1].tolist()[0] > 0.9 and train[1, 1] < 0.5 and train[2, 1] < 0.5
    assert test[0, 1] < 0.5 and test[1, 1] < 0.5 and test[2, 1] > 0.9
    # Blocked points sit just under the wall, not stuck far below it.
    assert train[1, 1] > 0.4 and test[0, 1] > 0.4


def test_blocked_step_keeps_y_zeroes_y_velocity_and_slides_in_x():
    core = mz.PointMazeCore(1, TRAIN)
    core.reset()
    core.state = torch.tensor([[0.6, 0.49, 0.3, 0.5]])
    step = core.step(torch.tensor([[0.0, 1.0]]))
    torch.testing.assert_close(step.next_obs, torch.tensor([[0.63, 0.49, 0.3, 0.0]]))
    # Same move where the gap is: passes the wall line.
    core.state = torch.tensor([[0.1, 0.49, 0.0, 0.5]])
    step = core.step(torch.tensor([[0.0, 1.0]]))
    torch.testing.assert_close(step.next_obs, torch.tensor([[0.1, 0.54, 0.0, 0.6]]))


def test_rollouts_never_cross_the_wall_segment_and_stay_in_the_box():
    for params in (TRAIN, TEST):
        obs, _, next_obs, _, _ = flat(
            *rollout(mz.PointMazeCore(128, params, seed=4), random_policy(2), 300)
        )
        lo, hi = mz.wall_extent(params["gap"])
        crossed = (obs[:, 1] < 0.5) != (next_obs[:, 1] < 0.5)
        x_mid = (obs[:, 0] + next_obs[:, 0]) / 2
        # A crossing step may only happen near the gap (x moves at most 0.1 per step).
        assert crossed.any()
        in_wall = (x_mid > lo + 0.1) & (x_mid < hi - 0.1)
        assert not (crossed & in_wall).any()
        low, high = torch.from_numpy(mz.OBS_LOW), torch.from_numpy(mz.OBS_HIGH)
        assert ((next_obs >= low) & (next_obs <= high)).all()


@pytest.mark.parametrize("params", [TRAIN, TEST])
@pytest.mark.parametrize("who", ["random", "expert"])
def test_env_reward_equals_ground_truth_along_rollouts(params, who):
    policy = random_policy(0) if who == "random" else mz.expert_policy(params)
    obs, acts, next_obs, rews, dones = flat(
        *rollout(mz.PointMazeCore(32, params, seed=1), policy, 250)
    )
    torch.testing.assert_close(
        REWARDS["ground_truth"]()(obs, acts, next_obs, dones), rews, rtol=0, atol=1e-6
    )


@pytest.mark.parametrize("params", [TRAIN, TEST])
def test_expert_reaches_the_goal_and_beats_random_by_far(params):
    expert = rollout(mz.PointMazeCore(256, params, seed=0), mz.expert_policy(params), 100)
    rand = rollout(mz.PointMazeCore(256, params, seed=0), random_policy(1), 100)
    final = torch.linalg.vector_norm(expert[2][-1, :, :2] - GOAL, dim=1)
    assert final.max() < 0.05
    expert_ret, rand_ret = expert[3].sum(0).mean(), rand[3].sum(0).mean()
    assert expert_ret > 0.3 * rand_ret  # negative returns: expert loses < 30% of what random loses


def test_the_training_route_fails_in_the_test_maze():
    """The train expert, run in the test maze, never gets past the wall: the variants differ."""
    trajectory = rollout(mz.PointMazeCore(64, TEST, seed=0), mz.expert_policy(TRAIN), 100)
    assert (trajectory[2][..., 1] < 0.5).all()
    right = rollout(mz.PointMazeCore(64, TEST, seed=0), mz.expert_policy(TEST), 100)
    assert trajectory[3].sum(0).mean() < right[3].sum(0).mean() - 20


@pytest.mark.parametrize("gap", ["left", "right"])
def test_geodesic_distance_matches_brute_force_over_the_gap(gap):
    """Below the wall, the shortest path to the goal crosses the wall line somewhere in the gap."""
    gen = torch.Generator().manual_seed(0)
    pos = torch.rand(300, 2, generator=gen, dtype=torch.float64) * torch.tensor([1.0, 0.5])
    lo, hi = mz.wall_extent(gap)
    gap_x = torch.linspace(0.0, lo, 3001) if gap == "left" else torch.linspace(hi, 1.0, 3001)
    q = torch.stack([gap_x, torch.full_like(gap_x, 0.5)], dim=1).double()  # [Q, 2]
    goal = GOAL.double()
    brute = (torch.cdist(pos, q) + torch.linalg.vector_norm(q - goal, dim=1)).min(1).values
    geodesic = mz.geodesic_distance(gap, pos, goal.expand(300, 2))
    torch.testing.assert_close(geodesic, brute, atol=1e-4, rtol=0)
    assert (geodesic >= torch.linalg.vector_norm(pos - goal, dim=1) - 1e-12).all()


def test_via_gap_and_wrong_side_rank_behaviours_as_named():
    def returns(reward_name, params, expert_params, **kw):
        obs, acts, next_obs, _, dones = rollout(
            mz.PointMazeCore(64, params, seed=0), mz.expert_policy(expert_params), 100
        )
        fn = REWARDS[reward_name](**kw)
        return (
            torch.stack([fn(obs[t], acts[t], next_obs[t], dones[t]) for t in range(100)])
            .sum(0)
            .mean()
        )

    # A reward that memorised the train layout rates the (in the test maze) walled-off left
    # passage above the open right one; the test layout's own route reward ranks them the other way.
    dead_end, passage = torch.tensor([[0.15, 0.45, 0, 0]]), torch.tensor([[0.85, 0.45, 0, 0]])
    zero_act, no = torch.zeros(1, 2), torch.zeros(1)
    memorised, correct = REWARDS["via_gap"](gap="left"), REWARDS["via_gap"](gap="right")
    assert (
        memorised(dead_end, zero_act, dead_end, no)
        > memorised(passage, zero_act, passage, no) + 0.3
    )
    assert correct(passage, zero_act, passage, no) > correct(dead_end, zero_act, dead_end, no) + 0.3
    # With a clear line of sight (above the wall) via_gap is the ground truth.
    above = torch.tensor([[0.2, 0.7, 0.1, 0], [0.9, 0.55, 0, 0.2]])
    acts = torch.tensor([[0.5, -1.0], [0.1, 0.2]])
    torch.testing.assert_close(
        memorised(above, acts, above, no), REWARDS["ground_truth"]()(above, acts, above, no)
    )
    # Over whole episodes, ground truth prefers the route that works in the test maze.
    assert returns("ground_truth", TEST, TEST) > returns("ground_truth", TEST, TRAIN)
    # wrong_side prefers staying below the wall; away prefers not reaching the goal.
    assert returns("wrong_side", TEST, TRAIN) > returns("wrong_side", TEST, TEST)
    assert returns("away", TEST, TRAIN) > returns("away", TEST, TEST)


def test_shaping_telescopes_and_sparse_pays_only_near_the_goal():
    gamma = 0.95
    obs, acts, next_obs, _, dones = rollout(
        mz.PointMazeCore(16, TRAIN, seed=3), mz.expert_policy(TRAIN), 100
    )
    o, a, n2 = obs.double(), acts.double(), next_obs.double()
    gt, shaped = (
        REWARDS["ground_truth"](),
        REWARDS["shaped"](discount=gamma, potential="sinusoid", scale=2.0),
    )
    diff = torch.stack(
        [shaped(o[t], a[t], n2[t], dones[t]) - gt(o[t], a[t], n2[t], dones[t]) for t in range(100)]
    )
    lhs = (gamma ** torch.arange(100, dtype=torch.float64)[:, None] * diff).sum(0)
    phi = lambda p: 2.0 * torch.sin(2 * p[:, 0]) * torch.cos(2 * p[:, 1])  # noqa: E731
    torch.testing.assert_close(lhs, gamma**100 * phi(n2[-1]) - phi(o[0]))

    sparse = torch.stack([REWARDS["sparse"]()(o[t], a[t], n2[t], dones[t]) for t in range(100)])
    dist = torch.linalg.vector_norm(n2[..., :2] - GOAL.double(), dim=-1)
    assert torch.equal(sparse.bool(), dist < 0.1) and sparse[-1].all() and not sparse[0].any()


@pytest.mark.parametrize("params", [TRAIN, TEST])
def test_single_env_passes_checkers_and_spaces_match_between_variants(params):
    check_env(mz.make_env(params, seed=0), skip_render_check=True)
    sb3_check_env(mz.make_env(params, seed=0), warn=True)
    env = mz.make_env(params, 0)
    assert env.observation_space == mz.make_env(TRAIN, 0).observation_space
    assert env.action_space == mz.make_env(TRAIN, 0).action_space


def test_seeding_and_vec_env_auto_reset():
    a = rollout(mz.PointMazeCore(8, TRAIN, seed=5), random_policy(0), 50)
    b = rollout(mz.PointMazeCore(8, TRAIN, seed=5), random_policy(0), 50)
    c = rollout(mz.PointMazeCore(8, TRAIN, seed=6), random_policy(0), 50)
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True)) and not torch.equal(a[0], c[0])

    venv = mz.make_vec_env({**TEST, "horizon": 3}, n=5, seed=0)
    start = venv.reset()
    for _ in range(3):
        obs, rews, dones, infos = venv.step(np.ones((5, 2), dtype=np.float32))
    assert dones.all() and all(i["TimeLimit.truncated"] for i in infos)
    terminal = np.stack([i["terminal_observation"] for i in infos])
    # Velocity 0.1, 0.2, 0.3 after each push; position lags one step: moved 0.01 + 0.02.
    np.testing.assert_allclose(terminal[:, :2], start[:, :2] + 0.03, atol=1e-6)
    np.testing.assert_allclose(terminal[:, 2:], 0.3, atol=1e-6)
    assert (obs[:, 2:] == 0).all() and (obs[:, 1] <= mz.START_HIGH[1]).all()


def test_step_from_and_uniform_states():
    gen = torch.Generator().manual_seed(0)
    obs = mz.sample_uniform_states(TRAIN, 4000, gen)
    assert (obs[:, 1] < 0.5).float().mean().item() == pytest.approx(0.5, abs=0.05)  # both sides
    acts = torch.rand(4000, 2, generator=gen) * 2 - 1
    core = mz.PointMazeCore(4000, TEST)
    core.reset()
    core.state = obs.clone()
    torch.testing.assert_close(mz.step_from(TEST, obs, acts), core.step(acts).next_obs)
    assert not torch.equal(mz.step_from(TRAIN, obs, acts), mz.step_from(TEST, obs, acts))
    # From anywhere, at any speed, no step's straight path passes through the wall.
    for params in (TRAIN, TEST):
        moved = mz.step_from(params, obs, acts)
        assert not mz.blocks_segment(params["gap"], obs[:, :2], moved[:, :2]).any()
        crossed = (obs[:, 1] < 0.5) != (moved[:, 1] < 0.5)
        assert crossed.sum() > 50  # plenty of crossings, all through the gap


def test_rewards_keep_dtype_and_bad_input_gets_clear_errors():
    obs = mz.sample_uniform_states(TRAIN, 6, torch.Generator().manual_seed(0)).double()
    acts = torch.zeros(6, 2, dtype=torch.float64)
    for name, factory in REWARDS.items():
        out = factory()(obs, acts, obs, torch.zeros(6))
        assert out.shape == (6,) and out.dtype == torch.float64, name
    with pytest.raises(ValueError, match="gap must be"):
        mz.make_env({"gap": "middle"}, 0)
    with pytest.raises(ValueError, match="gap must be"):
        REWARDS["via_gap"](gap="up")
    with pytest.raises(ValueError, match=r"\[B, 4\]"):
        REWARDS["ground_truth"]()(
            torch.zeros(3, 6), torch.zeros(3, 2), torch.zeros(3, 6), torch.zeros(3)
        )
    with pytest.raises(ValueError, match="unknown env parameter"):
        mz.PointMazeCore(2, {"wall": "left"})


def test_sb3_sac_trains_on_the_vec_env():
    from stable_baselines3 import SAC

    venv = mz.make_vec_env(TEST, n=2, seed=0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny nets: extra threads only spin on a shared machine
    try:
        model = SAC(
            "MlpPolicy",
            venv,
            learning_starts=32,
            batch_size=32,
            buffer_size=1000,
            seed=0,
            device="cpu",
        )
        model.learn(total_timesteps=128)
    finally:
        torch.set_num_threads(threads)
    assert model.num_timesteps == 128 and model.replay_buffer.size() == 64  # 2 envs x 64 steps


@pytest.mark.parametrize(
    ("obs_shape", "acts_shape"), [((5, 6), (5, 2)), ((5, 4), (5, 3)), ((4,), (1, 2))]
)
def test_step_from_rejects_wrong_shapes_naming_the_family(obs_shape, acts_shape):
    with pytest.raises(
        ValueError, match=r"pointmaze step_from: need obs \[B, 4\] and acts \[B, 2\]"
    ):
        mz.step_from(TRAIN, torch.zeros(obs_shape), torch.zeros(acts_shape))
