"""Every handler is thin: configuration through settings, clients through visionpipe_common.aws."""

import ast

import pytest

from visionpipe.template import REPO_ROOT

HANDLERS = sorted((REPO_ROOT / "functions").glob("*/app.py"))


def test_there_are_handlers():
    assert len(HANDLERS) >= 8


@pytest.mark.parametrize("path", HANDLERS, ids=lambda p: p.parent.name)
def test_handler_is_short_and_reads_no_environment_or_retry_policy_of_its_own(path):
    source = path.read_text()
    assert len(source.splitlines()) < 60, f"{path} should stay a thin handler"
    names = {
        node.id if isinstance(node, ast.Name) else node.attr
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Name | ast.Attribute)
    }
    assert "environ" not in names, "read configuration through the flow's settings.py"
    assert "Config" not in names and "boto3" not in names, "make clients with visionpipe_common.aws"
