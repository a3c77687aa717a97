"""Held-out preference accuracy: comparisons set aside before training, scored after it.

Why a module of its own: imitation's ``reward_accuracy`` is measured on the comparisons
the net was trained on, so it says how well the net fits, not whether it learned the
task. Here a share of every batch of fragment pairs is withheld by the fragmenter
(`HeldOutFragmenter`) and never reaches the preference dataset; after training the
net's preferred fragment is compared with the ground truth's (Christiano et al. 2017,
§2.2: the Bradley-Terry model prefers the fragment with the larger predicted return).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from imitation.algorithms import preference_comparisons as pc
from imitation.data.types import TrajectoryWithRew, TrajectoryWithRewPair
from imitation.rewards.reward_nets import RewardNet


class HeldOutFragmenter(pc.Fragmenter):
    """Cuts ``num_pairs`` training pairs and withholds ``fraction`` more for evaluation.

    The withheld pairs are cut from the same trajectories as the training pairs (so they
    come from the same distribution) but are never gathered into the training dataset.
    Needs ``transition_oversampling >= 1 + fraction`` so there is data for both.
    """

    def __init__(self, fragmenter: pc.Fragmenter, fraction: float) -> None:
        super().__init__(fragmenter.logger)
        if not 0.0 < fraction < 1.0:
            raise ValueError(f"held-out fraction must be in (0, 1), got {fraction}")
        self.fragmenter = fragmenter
        self.fraction = fraction
        self.held_out: list[TrajectoryWithRewPair] = []

    def __call__(
        self,
        trajectories: Sequence[TrajectoryWithRew],
        fragment_length: int,
        num_pairs: int,
    ) -> Sequence[TrajectoryWithRewPair]:
        n_held = math.ceil(num_pairs * self.fraction)
        pairs = list(self.fragmenter(trajectories, fragment_length, num_pairs + n_held))
        self.held_out.extend(pairs[num_pairs:])
        return pairs[:num_pairs]


def discounted_returns(rewards: np.ndarray, discount: float) -> np.ndarray:
    """Σ_t γ^t r_t along the last axis of ``rewards`` [..., T] (a fragment's return)."""
    return rewards @ (discount ** np.arange(rewards.shape[-1]))


def fragment_rewards(net: RewardNet, fragments: Sequence[TrajectoryWithRew]) -> np.ndarray:
    """The net's reward at every transition of equal-length fragments, shape [n, T]."""
    lengths = {len(f) for f in fragments}
    if len(lengths) != 1:
        raise ValueError(f"fragments must have one length, got lengths {sorted(lengths)}")
    obs = np.concatenate([f.obs[:-1] for f in fragments])
    next_obs = np.concatenate([f.obs[1:] for f in fragments])
    acts = np.concatenate([f.acts for f in fragments])
    dones = np.zeros(len(obs), dtype=bool)  # fragments are scored as the trainer scores them
    return net.predict(obs, acts, next_obs, dones).reshape(len(fragments), -1)


def preference_accuracy(
    predicted_1: np.ndarray, predicted_2: np.ndarray, true_1: np.ndarray, true_2: np.ndarray
) -> tuple[float, int]:
    """Share of pairs where the predicted and the true returns prefer the same fragment.

    Pairs whose true returns tie have no correct answer and are left out. Returns the
    accuracy and the number of pairs it is over (NaN, 0 when every pair ties).
    """
    decided = true_1 != true_2
    n = int(decided.sum())
    if n == 0:
        return float("nan"), 0
    agree = (predicted_1 > predicted_2) == (true_1 > true_2)
    return float(agree[decided].mean()), n


def held_out_accuracy(
    net: RewardNet, pairs: Sequence[TrajectoryWithRewPair], discount: float
) -> tuple[float, int]:
    """Accuracy of ``net`` on withheld fragment pairs against their ground-truth returns."""
    if not pairs:
        raise ValueError("no held-out comparisons to score; is the held-out fraction > 0?")
    first, second = zip(*pairs, strict=True)
    predicted = [discounted_returns(fragment_rewards(net, f), discount) for f in (first, second)]
    true = [discounted_returns(np.stack([f.rews for f in fs]), discount) for fs in (first, second)]
    return preference_accuracy(predicted[0], predicted[1], true[0], true[1])
