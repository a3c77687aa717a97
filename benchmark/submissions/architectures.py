"""Named reward-net architectures a ``state-dict`` submission may use.

Why named architectures: safetensors holds only tensors, so the benchmark must build the
module itself from a name and constructor options written in submission.toml. Each
builder takes the task's gymnasium spaces (so input sizes follow imitation's
preprocessing: one-hot for Discrete, flattened Box) and the TOML options.

    BasicRewardNet        imitation.rewards.reward_nets.BasicRewardNet
    BasicShapedRewardNet  imitation.rewards.reward_nets.BasicShapedRewardNet
    mlp                   MLPReward below: a plain MLP over the chosen inputs
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import torch
from imitation.rewards import reward_nets
from imitation.util import networks
from stable_baselines3.common import preprocessing
from torch import nn

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "ReLU": nn.ReLU,
    "Tanh": nn.Tanh,
    "LeakyReLU": nn.LeakyReLU,
    "ELU": nn.ELU,
    "SiLU": nn.SiLU,
    "GELU": nn.GELU,
    "Sigmoid": nn.Sigmoid,
    "Softplus": nn.Softplus,
    "Identity": nn.Identity,
}
NORMALIZERS: dict[str, type[nn.Module]] = {
    "RunningNorm": networks.RunningNorm,
    "EMANorm": networks.EMANorm,
}
USE_FLAGS = ("use_state", "use_action", "use_next_state", "use_done")


class MLPReward(nn.Module):
    """A plain MLP reward: concatenate the chosen flattened inputs, map to a scalar.

    Input tensors: obs/next_obs [B, *obs], acts [B, *act], dones [B]; returns [B].
    """

    def __init__(
        self,
        obs_dim: int,
        act_dim: int,
        *,
        hid_sizes: tuple[int, ...] = (64, 64),
        activation: str = "ReLU",
        use_state: bool = True,
        use_action: bool = True,
        use_next_state: bool = True,
        use_done: bool = False,
    ) -> None:
        super().__init__()
        self.use = (use_state, use_action, use_next_state, use_done)
        in_size = (
            obs_dim * use_state + act_dim * use_action + obs_dim * use_next_state + int(use_done)
        )
        if in_size == 0:
            raise ValueError("an mlp reward must use at least one input")
        layers: list[nn.Module] = []
        prev = in_size
        for size in hid_sizes:
            layers += [nn.Linear(prev, size), ACTIVATIONS[activation]()]
            prev = size
        layers.append(nn.Linear(prev, 1))
        self.layers = nn.Sequential(*layers)

    def forward(
        self, obs: torch.Tensor, acts: torch.Tensor, next_obs: torch.Tensor, dones: torch.Tensor
    ) -> torch.Tensor:
        parts = [obs.flatten(1), acts.flatten(1), next_obs.flatten(1), dones.reshape(-1, 1)]
        inputs = torch.cat([p for p, used in zip(parts, self.use, strict=True) if used], dim=1)
        return self.layers(inputs).squeeze(-1)


def _mlp_kwargs(options: dict[str, Any]) -> dict[str, Any]:
    """Translate TOML options naming classes by string into imitation's build_mlp kwargs."""
    kwargs = dict(options)
    if "activation" in kwargs:
        kwargs["activation"] = _lookup(ACTIVATIONS, kwargs["activation"], "activation")
    if "normalize_input_layer" in kwargs:
        kwargs["normalize_input_layer"] = _lookup(
            NORMALIZERS, kwargs["normalize_input_layer"], "normalize_input_layer"
        )
    for key in ("hid_sizes", "reward_hid_sizes", "potential_hid_sizes"):
        if key in kwargs:
            kwargs[key] = tuple(int(s) for s in kwargs[key])
    return kwargs


def _lookup(table: dict[str, type[nn.Module]], name: Any, option: str) -> type[nn.Module]:
    if name not in table:
        raise ValueError(f"model.options.{option} = {name!r} is not one of {', '.join(table)}")
    return table[name]


def _basic(obs_space: gym.Space, act_space: gym.Space, options: dict[str, Any]) -> nn.Module:
    return reward_nets.BasicRewardNet(obs_space, act_space, **_mlp_kwargs(options))


def _basic_shaped(obs_space: gym.Space, act_space: gym.Space, options: dict[str, Any]) -> nn.Module:
    return reward_nets.BasicShapedRewardNet(obs_space, act_space, **_mlp_kwargs(options))


def _mlp(obs_space: gym.Space, act_space: gym.Space, options: dict[str, Any]) -> nn.Module:
    return MLPReward(
        preprocessing.get_flattened_obs_dim(obs_space),
        preprocessing.get_flattened_obs_dim(act_space),
        **{k: tuple(v) if k == "hid_sizes" else v for k, v in options.items()},
    )


ARCHITECTURES: dict[str, Callable[[gym.Space, gym.Space, dict[str, Any]], nn.Module]] = {
    "BasicRewardNet": _basic,
    "BasicShapedRewardNet": _basic_shaped,
    "mlp": _mlp,
}


def build_architecture(
    name: str, options: dict[str, Any], obs_space: gym.Space, act_space: gym.Space
) -> nn.Module:
    """Build the named architecture with TOML ``options`` for the task's spaces."""
    if name not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {name!r}; known: {', '.join(ARCHITECTURES)}")
    try:
        return ARCHITECTURES[name](obs_space, act_space, options)
    except TypeError as exc:
        raise ValueError(f"bad options for architecture {name}: {exc}") from exc


# -- inferring name + options from a live imitation net (for submit --from-imitation) ----


def _mlp_options(mlp: nn.Module) -> dict[str, Any]:
    """Recover build_mlp options from an imitation MLP (nn.Sequential with named layers)."""
    hid_sizes: list[int] = []
    options: dict[str, Any] = {}
    children = list(mlp.named_children())
    for child_name, child in children:
        if isinstance(child, nn.Linear) and not child_name.endswith("dense_final"):
            hid_sizes.append(child.out_features)
        elif child_name.endswith("normalize_input"):
            options["normalize_input_layer"] = _name_of(NORMALIZERS, child)
        elif child_name.split("_")[-1].startswith("act"):
            options["activation"] = _name_of(ACTIVATIONS, child)
        elif child_name.endswith("flatten") or child_name.endswith("squeeze"):
            continue
        elif isinstance(child, nn.Dropout):
            continue  # identity in eval mode, holds no weights
        elif not isinstance(child, nn.Linear):
            raise ValueError(f"unsupported layer {child_name}: {type(child).__name__}")
    options["hid_sizes"] = hid_sizes
    return options


def _name_of(table: dict[str, type[nn.Module]], module: nn.Module) -> str:
    for name, cls in table.items():
        if type(module) is cls:
            return name
    raise ValueError(f"unsupported layer type {type(module).__name__}")


def infer_architecture(net: nn.Module) -> tuple[str, dict[str, Any], nn.Module]:
    """Name, options and the module to save for an imitation reward net.

    Wrappers that leave ``forward`` unchanged (NormalizedRewardNet and other
    PredictProcessedWrapper) are unwrapped: the benchmark calls ``forward``.
    Raises ValueError when the net is not one of the named architectures; the caller
    then falls back to torch-export.
    """
    while isinstance(net, reward_nets.PredictProcessedWrapper):
        net = net.base
    if type(net) is reward_nets.BasicRewardNet:
        options = {flag: bool(getattr(net, flag)) for flag in USE_FLAGS}
        options.update(_mlp_options(net.mlp))
        return "BasicRewardNet", options, net
    if (
        isinstance(net, reward_nets.ShapedRewardNet)
        and type(net.base) is reward_nets.BasicRewardNet
        and isinstance(net.potential, reward_nets.BasicPotentialMLP)
    ):
        base_options = _mlp_options(net.base.mlp)
        potential_options = _mlp_options(net.potential._potential_net)
        options = {flag: bool(getattr(net.base, flag)) for flag in USE_FLAGS}
        options["reward_hid_sizes"] = base_options.pop("hid_sizes")
        options["potential_hid_sizes"] = potential_options.pop("hid_sizes")
        if base_options != potential_options:
            raise ValueError("base and potential MLPs differ in activation or normalisation")
        options.update(base_options)
        options["discount_factor"] = float(net.discount_factor)
        return "BasicShapedRewardNet", options, net
    if type(net) is MLPReward:
        raise ValueError("MLPReward options cannot be inferred; pass them explicitly")
    raise ValueError(f"{type(net).__name__} is not one of {', '.join(ARCHITECTURES)}")
