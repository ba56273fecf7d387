"""`visionpipe`: development and ops tooling (never shipped inside a Lambda package).

Each module in visionpipe.commands adds one subcommand through register(subparsers); its parser
sets `func`, which receives the parsed arguments and returns an exit code.

A user's mistake (bad arguments, missing file or credentials, a stack or endpoint that is not
there) ends as one line on stderr and a non-zero exit, never a traceback: main() maps the few
exception types such mistakes raise to a message saying what is wrong and what to do.
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import sys

from visionpipe import commands
from visionpipe.stack_outputs import START_LOCAL, UserError

CREDENTIALS_HINT = (
    "configure AWS credentials (`aws configure` or AWS_PROFILE), or use the local stack with "
    "--outputs FILE from `visionpipe local outputs`"
)
MISSING_CODES = {
    "ResourceNotFoundException",
    "NoSuchBucket",
    "NoSuchKey",
    "404",
    "QueueDoesNotExist",
    "AWS.SimpleQueueService.NonExistentQueue",
    "StateMachineDoesNotExist",
}
DENIED_CODES = {
    "AccessDenied",
    "AccessDeniedException",
    "403",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "ExpiredToken",
    "ExpiredTokenException",
    "SignatureDoesNotMatch",
}


class Parser(argparse.ArgumentParser):
    """Usage errors as one line (argparse prints the usage block too)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="visionpipe", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module_info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        importlib.import_module(f"{commands.__name__}.{module_info.name}").register(subparsers)
    _name_leaves(parser)
    return parser


def _name_leaves(parser: argparse.ArgumentParser) -> None:
    """Each (sub)command's full name, e.g. `visionpipe review list`, lands in args._prog."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                sub.set_defaults(_prog=sub.prog)
                _name_leaves(sub)


def user_message(error: BaseException) -> str | None:
    """What to tell the user about an error they can fix; None: a bug (traceback kept)."""
    from botocore import exceptions as bx

    if isinstance(error, UserError):
        return str(error)
    if isinstance(error, bx.NoCredentialsError | bx.PartialCredentialsError):
        return f"no AWS credentials: {CREDENTIALS_HINT}"
    if isinstance(error, bx.NoRegionError):
        return "no AWS region: set AWS_DEFAULT_REGION (e.g. us-east-1) or run `aws configure`"
    if isinstance(error, bx.ProfileNotFound):
        return f"{error}: check AWS_PROFILE"
    if isinstance(error, bx.EndpointConnectionError | bx.ConnectTimeoutError | bx.ConnectionClosedError):
        where = error.kwargs.get("endpoint_url", "the endpoint")
        return f"cannot reach {where}: is the local stack running? {START_LOCAL}"
    if isinstance(error, bx.ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        what = f"{error.operation_name}: {error.response.get('Error', {}).get('Message') or code}"
        if code in DENIED_CODES:
            return f"{what}: {CREDENTIALS_HINT}"
        if code in MISSING_CODES:
            return f"{what}: not found; check the names in your outputs file or --stack-name"
        return f"{what} ({code})"
    if isinstance(error, FileNotFoundError | IsADirectoryError | NotADirectoryError | PermissionError):
        return f"{error.strerror or error}: {error.filename}"
    if isinstance(error, json.JSONDecodeError):
        return f"not valid JSON: {error}"
    return None


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    name = getattr(args, "_prog", "visionpipe")
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except SystemExit as exit_:  # SystemExit("message") from deeper code: the same one line
        if not isinstance(exit_.code, str):
            raise
        print(f"{name}: error: {' '.join(exit_.code.removeprefix('error: ').split())}", file=sys.stderr)
        return 1
    except Exception as error:
        message = user_message(error)
        if message is None:
            raise
        print(f"{name}: error: {' '.join(message.split())}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
