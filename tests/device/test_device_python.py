"""The device code runs on the camera's Python: 3.9+ (JetPack 6 ships 3.10, Raspberry Pi OS
Bookworm 3.11), not Lambda's 3.13. `make lint` runs vermin (standard-library members and syntax
by version) and ruff with target py39 for device/ (device/ruff.toml); vermin's `X | Y` detection
cannot tell annotations from run-time expressions, so that one is checked here."""

from __future__ import annotations

import ast

import pytest

from visionpipe.components import COMPONENTS_DIR

SOURCES = sorted(COMPONENTS_DIR.rglob("*.py"))
TYPE_NAMES = {
    "str",
    "int",
    "float",
    "bool",
    "bytes",
    "list",
    "dict",
    "tuple",
    "set",
    "frozenset",
    "type",
    "object",
}


def _annotation_node_ids(tree: ast.AST) -> set[int]:
    annotations: list[ast.AST | None] = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            a = node.args
            arguments = [*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg]
            annotations += [node.returns, *(arg.annotation for arg in arguments if arg is not None)]
        elif isinstance(node, ast.AnnAssign):
            annotations.append(node.annotation)
    return {id(n) for annotation in annotations if annotation is not None for n in ast.walk(annotation)}


def _looks_like_a_type(node: ast.AST) -> bool:
    if isinstance(node, ast.Subscript):
        node = node.value
    if isinstance(node, ast.Constant):
        return node.value is None
    if isinstance(node, ast.Name):
        return node.id in TYPE_NAMES or (node.id[:1].isupper() and not node.id.isupper())
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _looks_like_a_type(node.left) or _looks_like_a_type(node.right)
    return False


def runtime_unions(source: str) -> list[int]:
    """Lines with a PEP 604 union (`X | Y`, Python 3.10+) evaluated at run time, i.e. outside an
    annotation (annotations are strings under `from __future__ import annotations`)."""
    tree = ast.parse(source)
    in_annotation = _annotation_node_ids(tree)
    future = any(
        isinstance(n, ast.ImportFrom)
        and n.module == "__future__"
        and any(a.name == "annotations" for a in n.names)
        for n in tree.body
    )
    return sorted(
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.BinOp)
        and isinstance(node.op, ast.BitOr)
        and (id(node) not in in_annotation or not future)
        and (_looks_like_a_type(node.left) or _looks_like_a_type(node.right))
    )


def test_the_check_finds_run_time_unions_and_spares_annotations():
    future = "from __future__ import annotations\n"
    assert runtime_unions(future + "ok = isinstance(x, str | list)\n") == [2]
    assert runtime_unions(future + "Maybe = dict[str, int] | None\n") == [2]
    assert runtime_unions(future + "def f(x: int | None) -> Box | None:\n    y: str | None = None\n") == []
    assert runtime_unions("def f(x: int | None): pass\n") == [1]  # evaluated at def time without the import
    assert runtime_unions(future + "flags = cv2.A | cv2.B\nmask = READ | WRITE\nn = a | b\n") == []


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(COMPONENTS_DIR)))
def test_no_run_time_union_types(path):
    assert runtime_unions(path.read_text()) == [], f"{path.name}: X | Y at run time needs Python 3.10"


def test_sources_are_found():
    assert len(SOURCES) > 10
