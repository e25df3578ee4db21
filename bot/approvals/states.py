"""The states of an approval request and of an execution, and the one table of moves for each. The stored
values are these strings (StrEnum), so rows stored before the enums read the same."""

from __future__ import annotations

from enum import StrEnum

from bot.store.states import Transitions


class RequestState(StrEnum):
    PENDING = "pending"  # waits for an approver until it expires
    EXECUTING = "executing"  # approved (or allowed by policy) and handed to the gateway, or waiting on the platform
    EXECUTED = "executed"  # the read-back shows the target state
    FAILED = "failed"
    UNKNOWN = "unknown"  # it ran, but the read-back cannot confirm it: a human must check
    DENIED = "denied"
    EXPIRED = "expired"
    INVALIDATED = "invalidated"  # the evidence changed under it
    CANCELLED = "cancelled"  # its incident was resolved


REQUEST_MOVES = Transitions[RequestState](
    "approval request",
    {
        RequestState.PENDING: {
            RequestState.EXECUTING,
            RequestState.DENIED,
            RequestState.EXPIRED,
            RequestState.INVALIDATED,
            RequestState.CANCELLED,
        },
        # executing → executing records a platform that waits for its own reviewers; the request keeps running there.
        RequestState.EXECUTING: {
            RequestState.EXECUTING,
            RequestState.EXECUTED,
            RequestState.FAILED,
            RequestState.UNKNOWN,
        },
    },
)
# Where a request starts: pending when the policy asks for an approval, executing when it allows the action.
REQUEST_STARTS = frozenset({RequestState.PENDING, RequestState.EXECUTING})
# The states that count against an action's rate limit: it ran, or is running.
RAN = (RequestState.EXECUTING, RequestState.EXECUTED, RequestState.FAILED, RequestState.UNKNOWN)


class ExecutionOutcome(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    WAITING = "waiting"  # handed to a platform that waits for its own reviewers
    FAILED = "failed"
    UNKNOWN = "unknown"


EXECUTION_MOVES = Transitions[ExecutionOutcome](
    "execution",
    {
        ExecutionOutcome.RUNNING: {
            ExecutionOutcome.SUCCEEDED,
            ExecutionOutcome.WAITING,
            ExecutionOutcome.FAILED,
            ExecutionOutcome.UNKNOWN,
        },
        # A failure claims nothing: the same idempotency key may run again.
        ExecutionOutcome.FAILED: {ExecutionOutcome.RUNNING},
    },
)
# What an execution ends as, by the request's outcome state.
EXECUTION_OUTCOME = {
    RequestState.EXECUTED: ExecutionOutcome.SUCCEEDED,
    RequestState.FAILED: ExecutionOutcome.FAILED,
    RequestState.EXECUTING: ExecutionOutcome.WAITING,
    RequestState.UNKNOWN: ExecutionOutcome.UNKNOWN,
}
