"""The two kinds of failure a handler must tell apart.

RejectedInput: the upload itself is bad (empty, not an image, too large...). Retrying cannot help:
record a failure item with the reason and move on.
Anything else that escapes is treated as transient (throttling, 5xx, a model not yet running):
the invocation fails, Lambda retries it, and when retries run out the event lands in the
failed-events queue for replay.
"""

from botocore.exceptions import ClientError


class RejectedInput(Exception):
    """The input can never be processed as it is; the message is the reason users will read."""

    @property
    def reason(self) -> str:
        return str(self)


TRANSIENT_ERROR_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "SlowDown",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalError",
        "InternalFailure",
        "InternalServerError",
        "InternalServerException",
        "ResourceNotReadyException",
    }
)


def is_transient(error: ClientError) -> bool:
    """True when a ClientError is worth retrying (throttling, 5xx, service not ready)."""
    code = error.response.get("Error", {}).get("Code", "")
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return code in TRANSIENT_ERROR_CODES or status >= 500
