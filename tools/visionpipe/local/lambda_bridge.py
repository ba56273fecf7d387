"""Makes moto's Lambda service run the in-process handlers (no docker).

Every template function is registered in moto's Lambda backend (resources/functions.py does the
CreateFunction); this module patches moto's LambdaFunction.invoke so that, for those functions,
`lambda.invoke` runs the real handler:

- RequestResponse: the handler runs in the server's request thread; its return value is the
  payload, an exception becomes FunctionError "Unhandled" with Lambda's error payload.
- Event: the event joins the function's asynchronous queue (retries and the OnFailure
  destination as the template's EventInvokeConfig says) and the call returns 202 at once.

That covers boto3/AWS CLI `lambda invoke`, `visionpipe replay`, and Step Functions
`arn:aws:states:::lambda:invoke` tasks (moto's interpreter calls Lambda through the endpoint).
Functions moto knows but the bridge does not keep moto's own behaviour.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import traceback
import uuid
from collections.abc import Callable
from typing import Any

from moto.awslambda import models as lambda_models

from visionpipe.local.functions import LocalFunction

log = logging.getLogger("visionpipe.local")

AsyncSubmit = Callable[[LocalFunction, Any, str], None]

_lock = threading.Lock()
_active: LambdaBridge | None = None
_original_invoke = lambda_models.LambdaFunction.invoke


def error_payload(exc: BaseException, request_id: str) -> dict[str, Any]:
    """The payload Lambda returns for an unhandled Python exception."""
    return {
        "errorMessage": str(exc),
        "errorType": type(exc).__name__,
        "requestId": request_id,
        "stackTrace": traceback.format_tb(exc.__traceback__),
    }


def _header(headers: Any, name: str) -> str | None:
    """A header from werkzeug's Headers (case-insensitive) or a plain dict (moto's SNS passes {})."""
    if not headers:
        return None
    keys = headers.keys() if hasattr(headers, "keys") else []
    for key in keys:
        if key.lower() == name.lower():
            return headers[key]
    return None


class LambdaBridge:
    def __init__(self, submit_async: AsyncSubmit):
        self._submit_async = submit_async
        self._functions: dict[str, LocalFunction] = {}

    def register(self, function: LocalFunction) -> None:
        self._functions[function.name] = function
        self._functions[function.arn] = function

    def function(self, name_or_arn: str) -> LocalFunction | None:
        return self._functions.get(name_or_arn)

    @property
    def functions(self) -> list[LocalFunction]:
        return list({id(f): f for f in self._functions.values()}.values())

    def invoke(self, function: LocalFunction, body: Any, headers: Any, response_headers: dict) -> str | bytes:
        event = _parse_body(body)
        invocation_type = _header(headers, "x-amz-invocation-type") or "RequestResponse"
        request_id = str(uuid.uuid4())
        response_headers["x-amzn-requestid"] = request_id
        response_headers["x-amz-executed-version"] = "$LATEST"
        if invocation_type == "DryRun":
            return ""
        if invocation_type == "Event":
            self._submit_async(function, event, request_id)
            return ""
        try:
            result = function.invoke(event, request_id)
            payload = json.dumps(result, default=str)
        except Exception as exc:
            log.warning("%s: invocation %s failed: %s", function.logical_id, request_id, exc)
            response_headers["x-amz-function-error"] = "Unhandled"
            payload = json.dumps(error_payload(exc, request_id))
        response_headers["x-amz-log-result"] = base64.b64encode(
            f"START RequestId: {request_id}\nEND RequestId: {request_id}\n".encode()
        ).decode()
        return payload.encode()


def _parse_body(body: Any) -> Any:
    if isinstance(body, bytes | bytearray):
        body = body.decode()
    if body in (None, ""):
        return {}
    if isinstance(body, str):
        try:
            return json.loads(body)
        except json.JSONDecodeError:
            return body
    return body


def _patched_invoke(self, body: Any, request_headers: Any, response_headers: Any) -> str | bytes:
    bridge = _active
    function = bridge.function(self.function_name) if bridge else None
    if function is None:
        return _original_invoke(self, body, request_headers, response_headers)
    return bridge.invoke(function, body, request_headers, response_headers)


def install(bridge: LambdaBridge) -> None:
    """Route moto Lambda invocations of the bridge's functions to their in-process handlers."""
    global _active
    with _lock:
        if _active is not None and _active is not bridge:
            raise RuntimeError("another local stack's Lambda bridge is active in this process")
        _active = bridge
        lambda_models.LambdaFunction.invoke = _patched_invoke


def uninstall(bridge: LambdaBridge) -> None:
    global _active
    with _lock:
        if _active is bridge:
            _active = None
            lambda_models.LambdaFunction.invoke = _original_invoke
