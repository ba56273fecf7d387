"""Imports functions/<name>/app.py as a module of its own, the way Lambda would load it."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from visionpipe.template import REPO_ROOT

FUNCTIONS_DIR = REPO_ROOT / "functions"


def load_handler_module(function_dir: str | Path, handler: str = "app.lambda_handler") -> ModuleType:
    """Execute the handler's module afresh (module-level code runs, as on a cold start).

    The environment must already hold the function's variables. Modules are registered as
    visionpipe_fn_<dir>_<module> so several functions' app.py can live in one process.
    """
    directory = Path(function_dir)
    if not directory.is_absolute():
        directory = (
            FUNCTIONS_DIR / directory if not (REPO_ROOT / directory).exists() else REPO_ROOT / directory
        )
    # A cold start has no Powertools parameter providers yet: one left from an earlier load (another
    # test, another endpoint) would keep its old boto3 client and cached values.
    from aws_lambda_powertools.utilities import parameters

    parameters.base.DEFAULT_PROVIDERS.clear()
    parameters.clear_caches()
    module_file = handler.rsplit(".", 1)[0]
    name = f"visionpipe_fn_{directory.name}_{module_file}"
    spec = importlib.util.spec_from_file_location(name, directory / f"{module_file}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
