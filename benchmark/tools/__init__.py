"""Tools around the benchmark: expert training, the task reward matrix and task views,
and their ``epic-bench`` commands (``tasks``, ``coverage``, ``experts``).

Nothing here is imported by the evaluation path; modules are imported one by one.
"""
