"""Loading the committed expert policies (MuJoCo tasks) without unpickling anything.

An exported expert is a folder ``experts/<name>/`` with

- ``actor.safetensors``: the deterministic actor's weights (latent MLP + mean head),
- ``expert.json``: architecture, which obs entries the actor reads, action bounds,
  training seed/steps and the evaluation return.

Loading reads only those two files. The deterministic action is
``low + (tanh(mu(obs[..., dims])) + 1) / 2 * (high - low)``, SAC's ``predict(deterministic=True)``.
Training lives in `benchmark.tools.experts` (the loader is beside the envs that use it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file
from torch import nn

from benchmark.paths import EXPERTS_DIR


@dataclass
class ExpertSpec:
    """What ``expert.json`` holds: enough to rebuild the actor and to audit it."""

    env_id: str
    obs_dim: int
    act_dim: int
    obs_dims_used: list[int]
    net_arch: list[int]
    activation: str
    action_low: list[float]
    action_high: list[float]
    algo: str = "SAC"
    seed: int = 0
    timesteps: int = 0
    eval_return_mean: float | None = None
    eval_return_std: float | None = None
    eval_episodes: int = 0
    eval_seed: int | None = None


class ExpertActor(nn.Module):
    """SB3 SAC actor, deterministic: obs [B, obs_dim] -> acts [B, act_dim] in the action box."""

    def __init__(self, spec: ExpertSpec):
        super().__init__()
        if spec.activation != "relu":
            raise ValueError(f"unsupported activation {spec.activation!r} in expert.json")
        layers: list[nn.Module] = []
        width = len(spec.obs_dims_used)
        for hidden in spec.net_arch:
            layers += [nn.Linear(width, hidden), nn.ReLU()]
            width = hidden
        self.latent_pi = nn.Sequential(*layers)
        self.mu = nn.Linear(width, spec.act_dim)
        self.register_buffer("obs_dims", torch.tensor(spec.obs_dims_used, dtype=torch.long))
        self.register_buffer("low", torch.tensor(spec.action_low, dtype=torch.float32))
        self.register_buffer("high", torch.tensor(spec.action_high, dtype=torch.float32))
        self.obs_dim = spec.obs_dim

    @torch.no_grad()
    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        obs = torch.as_tensor(obs)
        if obs.shape[-1] != self.obs_dim:
            raise ValueError(
                f"expert expects observations [B, {self.obs_dim}], got {tuple(obs.shape)}"
            )
        squeeze = obs.ndim == 1
        x = obs.reshape(-1, self.obs_dim).index_select(-1, self.obs_dims).to(self.mu.weight)
        unit = torch.tanh(self.mu(self.latent_pi(x)))
        acts = self.low + (unit + 1.0) * 0.5 * (self.high - self.low)
        return acts[0] if squeeze else acts


def read_spec(folder: Path) -> ExpertSpec:
    return ExpertSpec(**json.loads((folder / "expert.json").read_text()))


def load_expert(name_or_path: str | Path, device: str = "cpu") -> ExpertActor:
    """Load ``experts/<name>/`` (or a folder path) into a deterministic torch policy."""
    folder = Path(name_or_path)
    if not folder.is_dir():
        folder = EXPERTS_DIR / str(name_or_path)
    missing = [f for f in ("actor.safetensors", "expert.json") if not (folder / f).is_file()]
    if missing:
        raise FileNotFoundError(
            f"expert {str(name_or_path)!r} is missing {missing} in {folder}; "
            "train it with `epic-bench experts train TASK`"
        )
    actor = ExpertActor(read_spec(folder))
    actor.load_state_dict(load_file(str(folder / "actor.safetensors")), strict=False)
    return actor.to(device).eval()
