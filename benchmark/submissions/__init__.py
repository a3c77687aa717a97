"""Submissions: format, validation, safe loading and conversion from imitation.

load_submission(path) -> Submission      # schema + task + files + sha256; loads no model
list_submissions(root="submissions") -> list[Submission]
Submission.load_reward(device="cpu", trust_pickle=False) -> RewardFn
validate_submission(path, ValidationConfig(...)) -> ValidationReport
submit_from_imitation(path, task=..., name=..., trust_pickle=True) -> Conversion
SubmissionError                          # message names the submission and the check
"""

from benchmark.submissions.conversion import (
    Conversion,
    export_reward,
    save_model,
    submit_from_imitation,
)
from benchmark.submissions.formats import (
    FORMATS,
    LOADERS,
    SubmittedReward,
    TaskReward,
    shaping_potential,
)
from benchmark.submissions.model_file import MODEL_FILE_FORMATS, model_file_submission
from benchmark.submissions.spec import (
    ModelSpec,
    Submission,
    SubmissionError,
    list_submissions,
    load_submission,
    scan_submissions,
    sha256_file,
    write_submission,
)
from benchmark.submissions.validation import (
    CheckResult,
    ValidationConfig,
    ValidationReport,
    submissions_table,
    validate_many,
    validate_submission,
)

__all__ = [
    "FORMATS",
    "LOADERS",
    "MODEL_FILE_FORMATS",
    "CheckResult",
    "Conversion",
    "ModelSpec",
    "Submission",
    "SubmissionError",
    "SubmittedReward",
    "TaskReward",
    "ValidationConfig",
    "ValidationReport",
    "export_reward",
    "list_submissions",
    "load_submission",
    "model_file_submission",
    "save_model",
    "scan_submissions",
    "sha256_file",
    "shaping_potential",
    "submit_from_imitation",
    "submissions_table",
    "validate_many",
    "validate_submission",
    "write_submission",
]
