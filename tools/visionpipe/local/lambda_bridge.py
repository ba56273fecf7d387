"""Event sources: every invocation moto makes of a template function runs the in-process handler.

moto_internals.lambda_invocations routes moto's LambdaFunction.invoke here. Through the endpoint
(boto3, the AWS CLI, `visionpipe replay`, Step Functions' lambda:invoke tasks) the
X-Amz-Invocation-Type decides: RequestResponse runs the handler in the request's thread (an
exception is FunctionError "Unhandled" with Lambda's error payload), Event joins the function's
asynchronous queue. moto's own services (S3 notifications) invoke with no HTTP headers; S3 invokes
Lambda asynchronously, so those join the queue too. Functions not registered keep moto's behaviour.
"""

from __future__ import annotations

import base64
import json
import logging
import uuid
from collections.abc import Callable
from typing import Any

from visionpipe.local.invocation import error_payload

log = logging.getLogger("visionpipe.local")


def _invocation_type(headers: Any) -> str:
    if not headers:  # moto's services pass {}: not an HTTP request, which always has headers
        return "Event"
    return headers.get("x-amz-invocation-type") or "RequestResponse"  # case-insensitive headers


def _event(body: Any) -> Any:
    body = body.decode() if isinstance(body, bytes | bytearray) else body
    if body in (None, ""):
        return {}
    try:
        return json.loads(body) if isinstance(body, str) else body
    except json.JSONDecodeError:
        return body


class LambdaBridge:
    def __init__(self, submit_async: Callable[[Any, Any, str], Any]):
        self._submit_async = submit_async
        self.functions: dict[str, Any] = {}  # name -> LocalFunction

    def register(self, function) -> None:
        self.functions[function.name] = function

    def route(
        self, function_name: str, body: Any, headers: Any, response_headers: dict
    ) -> str | bytes | None:
        function = self.functions.get(function_name)
        if function is None:
            return None
        event, request_id = _event(body), str(uuid.uuid4())
        response_headers["x-amzn-requestid"] = request_id
        response_headers["x-amz-executed-version"] = "$LATEST"
        invocation_type = _invocation_type(headers)
        if invocation_type == "DryRun":
            return ""
        if invocation_type == "Event":
            self._submit_async(function, event, request_id)
            return ""
        try:
            payload = json.dumps(function.invoke(event, request_id), default=str)
        except Exception as exc:
            log.warning("%s: invocation %s failed: %s", function.logical_id, request_id, exc)
            response_headers["x-amz-function-error"] = "Unhandled"
            payload = json.dumps(error_payload(exc, request_id))
        log_tail = f"START RequestId: {request_id}\nEND RequestId: {request_id}\n"
        response_headers["x-amz-log-result"] = base64.b64encode(log_tail.encode()).decode()
        return payload.encode()
