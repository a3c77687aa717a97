"""PointMaze: the paper's reward, start, damped dynamics, walls, horizon, variants, rewards, expert.

Expected values come from the reference's definitions written out by hand (imitation's
``PointMazeEnv`` / ``point_mass_maze``, evaluating-rewards' ``PointMazeReward``) and from
MuJoCo itself stepping an MJCF model of the same maze (written below from those numbers).
"""

import math

import mujoco
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from benchmark.envs import pointmaze as mz
from benchmark.envs.batched import rollout
from benchmark.rewards.pointmaze import REWARDS

TRAIN = {"gap": "right"}
TEST = {"gap": "left"}
GOAL = torch.tensor([0.3, 0.5])
MASS = 1000 * 4 / 3 * math.pi * 0.03**3  # density x sphere volume (radius 0.03)


def maze_mjcf(gap: str, contacts: bool = True) -> str:
    """The reference maze (maze_length 0.6) as MJCF: Euler, timestep 0.01, damping 1."""
    x0, x1 = (-0.1, 0.4) if gap == "right" else (0.2, 0.6)
    walls = [
        (-0.1, -0.1, 0.6, -0.1),
        (0.6, -0.1, 0.6, 0.6),
        (-0.1, 0.6, 0.6, 0.6),
        (-0.1, -0.1, -0.1, 0.6),
        (x0, 0.3, x1, 0.3),
    ]
    geoms = "".join(
        f'<geom type="capsule" size="0.02" fromto="{a} {b} 0.01 {c} {d} 0.01"/>'
        for a, b, c, d in walls
    )
    affinity = 1 if contacts else 0
    return f"""<mujoco><compiler inertiafromgeom="true"/>
      <option timestep="0.01" gravity="0 0 0" integrator="Euler"/>
      <default><joint damping="1" limited="false"/>
        <geom density="1000" margin="0.002" condim="1" contype="2" conaffinity="{affinity}"/>
      </default>
      <worldbody>
        <body name="particle" pos="0.3 0 0"><geom type="sphere" size="0.03" contype="1"/>
          <joint name="x" type="slide" axis="1 0 0"/><joint name="y" type="slide" axis="0 1 0"/>
        </body>{geoms}
      </worldbody>
      <actuator><motor joint="x" ctrlrange="-1 1" ctrllimited="true"/>
        <motor joint="y" ctrlrange="-1 1" ctrllimited="true"/></actuator></mujoco>"""


def mujoco_trajectory(gap: str, actions: np.ndarray, contacts: bool = True) -> np.ndarray:
    """[T, 4] MuJoCo's [x, y, vx, vy] after each of ``actions`` [T, 2], 5 substeps each."""
    model = mujoco.MjModel.from_xml_string(maze_mjcf(gap, contacts))
    data = mujoco.MjData(model)
    out = []
    for a in actions:
        data.ctrl[:] = a
        for _ in range(5):
            mujoco.mj_step(model, data)
        out.append(np.r_[data.qpos + [0.3, 0.0], data.qvel])
    return np.array(out)


def our_trajectory(gap: str, actions: np.ndarray) -> np.ndarray:
    params = mz.resolve_params({"gap": gap})
    obs = torch.tensor([[0.3, 0.0, 0.0, 0.0]], dtype=torch.float64)
    out = []
    for a in actions:
        obs = mz.dynamics(params, obs, torch.tensor(a[None], dtype=torch.float64))[0]
        out.append(obs[0].numpy())
    return np.array(out)


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


def test_paid_reward_is_the_papers_formula_on_s_with_control_cost_1e3():
    """-||pos(s) - (0.3, 0.5)|| - 1e-3 ||a||^2, values by hand; s' does not enter."""
    obs = torch.tensor(
        [[0.3, 0.0, 0.0, 0.0], [0.0, 0.1, 0.5, -0.5], [0.3, 0.5, 0.0, 0.0], [0.6, 0.9, 0, 0]],
        dtype=torch.float64,
    )
    acts = torch.tensor([[0.5, -1.0], [3.0, 0.0], [0.0, 0.0], [-0.2, 0.1]], dtype=torch.float64)
    # 0.5 + 1e-3 * 1.25; 0.5 + 1e-3 * 1 (3 clipped to 1); 0; 0.5 + 1e-3 * 0.05
    expected = torch.tensor([-0.50125, -0.501, 0.0, -0.50005], dtype=torch.float64)
    gt = REWARDS["ground_truth"]()
    for next_obs in (obs, torch.zeros_like(obs), obs.flip(0)):
        torch.testing.assert_close(
            gt(obs, acts, next_obs, torch.zeros(4)), expected, rtol=0, atol=1e-15
        )
    torch.testing.assert_close(mz.paid_reward(obs, acts), expected, rtol=0, atol=1e-15)
    # The env pays the reward of the state it acted in.
    core = mz.PointMazeCore(4, TRAIN, dtype=torch.float64)
    core.reset()
    core.state = obs[:, :].clone().clamp(-0.05, 0.55)
    before = core.state.clone()
    step = core.step(acts)
    torch.testing.assert_close(step.reward, mz.paid_reward(before, acts), rtol=0, atol=0)
    assert not torch.equal(step.reward, mz.paid_reward(step.next_obs, acts))


@pytest.mark.parametrize("params", [TRAIN, TEST])
@pytest.mark.parametrize("who", ["random", "expert"])
def test_env_reward_equals_ground_truth_bitwise_along_rollouts(params, who):
    policy = random_policy(0) if who == "random" else mz.expert_policy(params)
    obs, acts, next_obs, rews, dones = flat(
        *rollout(mz.PointMazeCore(32, params, seed=1), policy, 250)
    )
    assert torch.equal(REWARDS["ground_truth"]()(obs, acts, next_obs, dones), rews)


def test_start_is_the_reference_point_with_velocity_noise_of_001():
    core = mz.PointMazeCore(4000, TRAIN, seed=3)
    start = core.reset()
    assert (start[:, 0] == 0.3).all() and (start[:, 1] == 0.0).all()
    vel = start[:, 2:]
    assert vel.abs().max() <= 0.01 and vel.abs().max() > 0.0099
    np.testing.assert_allclose(vel.mean(0), 0.0, atol=0.001)
    np.testing.assert_allclose(vel.std(0), 0.02 / 12**0.5, rtol=0.05)  # U(-0.01, 0.01)


def test_free_motion_is_damped_euler_with_five_substeps_by_hand():
    """Constant force F from rest, per substep v_k = (m v_{k-1} + h F)/(m + h b), x += h v_k.

    With b = 1 and F = 1 the closed form is v_k = 1 - q^k, q = m / (m + h); after one env
    step (k = 5) x = h sum_k (1 - q^k). Zero force: v decays by q^5 per step.
    """
    h, q = 0.01, MASS / (MASS + 0.01)
    obs = torch.tensor([[0.1, 0.0, 0.0, 0.0], [0.1, 0.0, 0.4, -0.2]], dtype=torch.float64)
    acts = torch.tensor([[1.0, 0.0], [0.0, 0.0]], dtype=torch.float64)
    nxt = mz.step_from(TRAIN, obs, acts)
    x_push = 0.1 + h * sum(1 - q**k for k in range(1, 6))
    x_coast = 0.1 + h * 0.4 * sum(q**k for k in range(1, 6))
    expected = torch.tensor(
        [
            [x_push, 0.0, 1 - q**5, 0.0],
            [x_coast, -h * 0.2 * sum(q**k for k in range(1, 6)), 0.4 * q**5, -0.2 * q**5],
        ],
        dtype=torch.float64,
    )
    torch.testing.assert_close(nxt, expected, rtol=0, atol=1e-12)
    # Towards the terminal speed force / damping = 1: after 8 steps (40 substeps) 1 - q^40.
    core = mz.PointMazeCore(1, TRAIN, dtype=torch.float64)
    core.reset()
    core.state = torch.tensor([[-0.05, 0.0, 0.0, 0.0]], dtype=torch.float64)
    for _ in range(8):
        speed = core.step(torch.tensor([[1.0, 0.0]])).next_obs[0, 2]
    assert speed.item() == pytest.approx(1 - q**40, abs=1e-12)


@pytest.mark.parametrize("gap", ["right", "left"])
def test_free_motion_equals_mujoco_stepping_the_reference_model(gap):
    """Away from walls (contacts off in MuJoCo), the torch step is MuJoCo's Euler step."""
    actions = np.random.default_rng(0).uniform(-1, 1, (40, 2)) * np.array([0.3, 0.3])
    mj = mujoco_trajectory(gap, actions, contacts=False)
    ours = our_trajectory(gap, actions)
    assert np.abs(ours[:, :2] - [0.3, 0.0]).max() < 0.2  # stayed clear of every wall
    np.testing.assert_allclose(ours, mj, rtol=0, atol=1e-12)


@pytest.mark.parametrize("gap", ["right", "left"])
def test_positions_through_wall_contacts_stay_close_to_mujoco(gap):
    """Towards the passage and the goal, sliding along walls: hard vs MuJoCo's soft contact.

    Over 12 such 60-step runs (seeds 0-5, both mazes) the largest gap was 0.017.
    """
    for seed in (0, 1):
        rng = np.random.default_rng(seed)
        drift = np.array([0.3 if gap == "right" else -0.3, 0.6])
        actions = np.clip(rng.normal(0, 1, (60, 2)) + drift, -1, 1)
        mj, ours = mujoco_trajectory(gap, actions), our_trajectory(gap, actions)
        assert mj[:, 1].max() > 0.5  # MuJoCo's particle got through the passage
        np.testing.assert_allclose(ours[:, :2], mj[:, :2], rtol=0, atol=0.02)


def far_from_the_passage(gap: str, obs: torch.Tensor) -> torch.Tensor:
    """[B] bool: x more than one step's reach (0.05) inside the wall's blocked x-range."""
    lo, hi = mz.wall_extent(gap)
    return obs[:, 0] < hi - 0.05 if gap == "right" else obs[:, 0] > lo + 0.05


def push_up_from(params, xs, steps=40):
    """Final states of points starting below the wall at ``xs``, pushed straight up."""
    core = mz.PointMazeCore(len(xs), params)
    core.reset()
    core.state = torch.tensor([[x, 0.1, 0.0, 0.0] for x in xs])
    for _ in range(steps):
        core.step(torch.tensor([[0.0, 1.0]] * len(xs)))
    return core.state


def test_wall_stops_the_particle_at_its_surface_and_the_passage_lets_it_through():
    xs = [0.05, 0.3, 0.5]  # left passage, middle (wall in both), right passage
    train, test = push_up_from(TRAIN, xs), push_up_from(TEST, xs)
    # Through the passage up to the arena's top edge (0.6 - 0.02 - 0.03); else on the
    # wall's underside, y = 0.3 - 0.05, at rest.
    torch.testing.assert_close(train[:, 1], torch.tensor([0.25, 0.25, 0.55]))
    torch.testing.assert_close(test[:, 1], torch.tensor([0.55, 0.25, 0.25]))
    assert (train[:, 3] == 0).all() and (test[:, 3] == 0).all()


def test_contact_is_frictionless_and_the_wall_end_is_round():
    core = mz.PointMazeCore(2, TRAIN, dtype=torch.float64)
    core.reset()
    # Pressed against the underside while moving in x: x motion goes on (frictionless).
    # Under the wall's end (0.4, 0.3), pushed up: the round end deflects it to the right.
    core.state = torch.tensor([[0.2, 0.25, 0.5, 0.0], [0.41, 0.2, 0.0, 0.0]], dtype=torch.float64)
    push = torch.tensor([[0.5, 1.0], [0.0, 1.0]], dtype=torch.float64)
    for _ in range(6):
        slid = core.step(push).next_obs[0]
    assert slid[1] == 0.25 and slid[0] > 0.3 and slid[3] == 0.0
    for _ in range(6):
        deflected = core.step(push).next_obs[1]
    assert deflected[0] > 0.45 and deflected[1] > 0.35  # rolled round the end, then up
    # Never inside the capsule: distance to the centre segment >= 0.05 everywhere.
    obs, _, next_obs, _, _ = flat(
        *rollout(mz.PointMazeCore(128, TRAIN, seed=4), random_policy(2), 300)
    )
    assert (mz.wall_distance("right", next_obs[:, :2].double())[0] >= 0.05 - 1e-6).all()


@pytest.mark.parametrize("params", [TRAIN, TEST])
def test_rollouts_stay_in_the_box_and_cross_the_wall_line_only_in_the_passage(params):
    obs, _, next_obs, _, _ = flat(
        *rollout(mz.PointMazeCore(128, params, seed=4), random_policy(2), 300)
    )
    low, high = torch.from_numpy(mz.OBS_LOW), torch.from_numpy(mz.OBS_HIGH)
    assert ((next_obs >= low) & (next_obs <= high)).all()
    crossed = (obs[:, 1] < 0.3) != (next_obs[:, 1] < 0.3)
    assert crossed.any() and not (crossed & far_from_the_passage(params["gap"], next_obs)).any()


def test_episodes_last_100_steps_then_reset_to_the_start():
    venv = mz.make_vec_env(TEST, n=3, seed=0)
    venv.reset()
    for t in range(100):
        obs, _, dones, infos = venv.step(np.ones((3, 2), dtype=np.float32))
        assert dones.all() == (t == 99)
    assert all(i["TimeLimit.truncated"] for i in infos)
    np.testing.assert_array_equal(obs[:, :2], np.float32([[0.3, 0.0]] * 3))
    assert mz.PointMazeCore(1).horizon == 100


@pytest.mark.parametrize("params", [TRAIN, TEST])
def test_expert_reaches_the_goal_and_beats_random_by_far(params):
    expert = rollout(mz.PointMazeCore(256, params, seed=0), mz.expert_policy(params), 100)
    rand = rollout(mz.PointMazeCore(256, params, seed=0), random_policy(1), 100)
    final = torch.linalg.vector_norm(expert[2][-1, :, :2] - GOAL, dim=1)
    assert final.max() < 0.01
    expert_ret, rand_ret = expert[3].sum(0).mean(), rand[3].sum(0).mean()
    assert expert_ret > 0.2 * rand_ret  # negative returns: expert loses < 20% of what random loses


def test_the_training_route_fails_in_the_test_maze():
    """The train expert, run in the test maze, never gets past the wall: the variants differ."""
    trajectory = rollout(mz.PointMazeCore(64, TEST, seed=0), mz.expert_policy(TRAIN), 100)
    assert (trajectory[2][..., 1] < 0.3).all()
    right = rollout(mz.PointMazeCore(64, TEST, seed=0), mz.expert_policy(TEST), 100)
    assert trajectory[3].sum(0).mean() < right[3].sum(0).mean() - 20


@pytest.mark.parametrize("gap", ["left", "right"])
def test_geodesic_distance_matches_brute_force_over_the_gap(gap):
    """Below the wall, the shortest path to the goal crosses the wall line somewhere in the gap."""
    gen = torch.Generator().manual_seed(0)
    pos = torch.rand(300, 2, generator=gen, dtype=torch.float64) * torch.tensor([0.6, 0.3])
    pos = pos - torch.tensor([0.05, 0.05])
    lo, hi = mz.wall_extent(gap)
    gap_x = torch.linspace(-0.05, lo, 3001) if gap == "left" else torch.linspace(hi, 0.55, 3001)
    q = torch.stack([gap_x, torch.full_like(gap_x, 0.3)], dim=1).double()  # [Q, 2]
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

    # A reward that memorised the train layout rates the (in the test maze) walled-off right
    # passage above the open left one; the test layout's own route reward ranks them the other way.
    dead_end, passage = torch.tensor([[0.5, 0.2, 0, 0]]), torch.tensor([[0.05, 0.2, 0, 0]])
    zero_act, no = torch.zeros(1, 2), torch.zeros(1)
    memorised, correct = REWARDS["via_gap"](gap="right"), REWARDS["via_gap"](gap="left")
    assert (
        memorised(dead_end, zero_act, dead_end, no)
        > memorised(passage, zero_act, passage, no) + 0.2
    )
    assert correct(passage, zero_act, passage, no) > correct(dead_end, zero_act, dead_end, no) + 0.1
    # With a clear line of sight (above the wall) via_gap is the ground truth.
    above = torch.tensor([[0.2, 0.4, 0.1, 0], [0.5, 0.36, 0, 0.2]])
    acts = torch.tensor([[0.5, -1.0], [0.1, 0.2]])
    torch.testing.assert_close(
        memorised(above, acts, above, no), REWARDS["ground_truth"]()(above, acts, above, no)
    )
    # Over whole episodes, ground truth prefers the route that works in the test maze.
    assert returns("ground_truth", TEST, TEST) > returns("ground_truth", TEST, TRAIN)
    # wrong_side prefers staying below the wall; away prefers not reaching the goal.
    assert returns("wrong_side", TEST, TRAIN) > returns("wrong_side", TEST, TEST)
    assert returns("away", TEST, TRAIN) > returns("away", TEST, TEST)


def test_every_variant_reads_s_not_s_prime():
    gen = torch.Generator().manual_seed(1)
    obs = mz.sample_uniform_states(TRAIN, 64, gen)
    acts = torch.rand(64, 2, generator=gen) * 2 - 1
    moved = mz.sample_uniform_states(TRAIN, 64, gen)
    for name, factory in REWARDS.items():
        if name == "shaped":
            continue  # gamma Phi(s') is its only use of s'
        fn = factory()
        assert torch.equal(
            fn(obs, acts, obs, torch.zeros(64)), fn(obs, acts, moved, torch.zeros(64))
        ), name


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
    dist = torch.linalg.vector_norm(o[..., :2] - GOAL.double(), dim=-1)
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
    venv.reset()
    for _ in range(3):
        obs, rews, dones, infos = venv.step(np.ones((5, 2), dtype=np.float32))
    assert dones.all() and all(i["TimeLimit.truncated"] for i in infos)
    terminal = np.stack([i["terminal_observation"] for i in infos])
    assert (terminal[:, :2] > [0.3, 0.0]).all()  # pushed up and right for 3 steps
    assert (obs[:, :2] == np.float32([0.3, 0.0])).all() and (np.abs(obs[:, 2:]) <= 0.01).all()


def test_step_from_and_uniform_states():
    gen = torch.Generator().manual_seed(0)
    obs = mz.sample_uniform_states(TRAIN, 4000, gen)
    # Free area below the wall line 0.21 - 0.0245, above 0.15 - 0.0245 (half the capsule each).
    assert (obs[:, 1] < 0.3).float().mean().item() == pytest.approx(0.1855 / 0.311, abs=0.02)
    assert (mz.wall_distance("right", obs[:, :2])[0] >= 0.05).all()  # none inside the wall
    acts = torch.rand(4000, 2, generator=gen) * 2 - 1
    core = mz.PointMazeCore(4000, TRAIN)
    core.reset()
    core.state = obs.clone()
    torch.testing.assert_close(mz.step_from(TRAIN, obs, acts), core.step(acts).next_obs)
    assert not torch.equal(mz.step_from(TRAIN, obs, acts), mz.step_from(TEST, obs, acts))
    for params in (TRAIN, TEST):  # from the variant's own free space
        start = mz.sample_uniform_states(params, 4000, gen)
        moved = mz.step_from(params, start, acts)
        crossed = (start[:, 1] < 0.3) != (moved[:, 1] < 0.3)
        far = far_from_the_passage(params["gap"], moved)
        assert crossed.sum() > 0 and not (crossed & far).any()


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
        mz.PointMazeCore(2, {"drag": 0.5})
    with pytest.raises(ValueError, match="frame_skip >= 1"):
        mz.PointMazeCore(2, {"frame_skip": 0})


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
