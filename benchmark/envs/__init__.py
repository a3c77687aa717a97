"""Environment families, one module each, behind the family contract of docs/architecture.md.

- ``gridworld``: a tabular 5x5 grid whose tables are exact (``tabular_dynamics``).
- ``pointmass``, ``pointmaze``: batched torch cores with gymnasium / SB3 adapters.
- ``mujoco``: HalfCheetah-v4 and Hopper-v4 with the x-position in the observation.

Tasks (``benchmark.tasks``) import them by the ``[env] family`` name of a task file.
"""
