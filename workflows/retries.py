"""The retry policies of every activity call, in one place."""

from datetime import timedelta

from temporalio.common import RetryPolicy

# Database work: retried until it succeeds (the activity is idempotent), backing off to 30 s.
DATABASE = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30))

# Waiting for an agent: a closed job (timed out, cancelled, gone) is final.
AGENT = RetryPolicy(initial_interval=timedelta(seconds=2), non_retryable_error_types=["JobClosed"])

# Planning a tick: a cycle that cannot plan gives up and the next tick plans again.
PLANNING = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30),
                       maximum_attempts=10)

# Expiring an exception at its timer.
EXPIRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))

# A verify scan waits for a scan already running on the host to finish, for up to about an hour.
HOST_BUSY = RetryPolicy(initial_interval=timedelta(seconds=30), backoff_coefficient=2,
                        maximum_interval=timedelta(minutes=5), maximum_attempts=14)

# A webhook event row is committed by the recording that started the delivery, usually within a second.
EVENT_PENDING = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30),
                            maximum_attempts=30)


def webhook_attempts(initial_seconds: float, max_attempts: int) -> RetryPolicy:
    """Each delivery attempt is one activity execution; Temporal spaces them with exponential backoff."""
    return RetryPolicy(initial_interval=timedelta(seconds=initial_seconds), backoff_coefficient=2.0,
                       maximum_interval=timedelta(minutes=10), maximum_attempts=max_attempts,
                       non_retryable_error_types=["EventGone"])
