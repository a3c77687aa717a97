"""Reward families: each module exports ``REWARDS: dict[str, factory]``.

A factory takes the keyword parameters of a task file's ``[rewards.<name>]`` table and
returns a batched RewardFn ``(obs, acts, next_obs, dones) -> [B]`` (``benchmark.data``).
Modules: ``gridworld``, ``pointmass``, ``pointmaze``, ``locomotion`` (HalfCheetah, Hopper).
"""
