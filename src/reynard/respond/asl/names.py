"""The specification's error names, and how `ErrorEquals` matches them.

`States.ALL` matches every error but `States.Runtime` (which no retrier or catcher ever sees: it fails
the execution); `States.TaskFailed` matches every error but the timeouts; `States.Timeout` also matches
a heartbeat timeout (the specification: a task "failed to heartbeat" is a timeout); `States.BranchFailed`
matches any error coming out of a Parallel branch or a Map iteration.
"""

from __future__ import annotations

from collections.abc import Sequence

ALL = "States.ALL"
TASK_FAILED = "States.TaskFailed"
TIMEOUT = "States.Timeout"
HEARTBEAT_TIMEOUT = "States.HeartbeatTimeout"
RUNTIME = "States.Runtime"
PERMISSIONS = "States.Permissions"
RESULT_PATH_MATCH_FAILURE = "States.ResultPathMatchFailure"
PARAMETER_PATH_FAILURE = "States.ParameterPathFailure"
BRANCH_FAILED = "States.BranchFailed"
NO_CHOICE_MATCHED = "States.NoChoiceMatched"
INTRINSIC_FAILURE = "States.IntrinsicFailure"
EXCEED_TOLERATED_FAILURE_THRESHOLD = "States.ExceedToleratedFailureThreshold"
QUERY_EVALUATION_ERROR = "States.QueryEvaluationError"
DATA_LIMIT_EXCEEDED = "States.DataLimitExceeded"
ITEM_READER_FAILED = "States.ItemReaderFailed"
RESULT_WRITER_FAILED = "States.ResultWriterFailed"

TIMEOUTS = frozenset({TIMEOUT, HEARTBEAT_TIMEOUT})


def matches(error_equals: Sequence[str], error: str, *, from_branch: bool = False) -> bool:
    """Whether an `ErrorEquals` list matches `error` (raised by a branch or an iteration: `from_branch`)."""
    if error == RUNTIME:
        return False
    for name in error_equals:
        if name in (error, ALL):
            return True
        if name == TASK_FAILED and error not in TIMEOUTS:
            return True
        if name == TIMEOUT and error == HEARTBEAT_TIMEOUT:
            return True
        if name == BRANCH_FAILED and from_branch:
            return True
    return False
