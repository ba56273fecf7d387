"""Tests that deploy their own stack (a template copy, other parameters).

A package of their own, beside tests/integration: moto's state is process-wide and a stack's stop
resets it, so these stacks must never be alive beside the package-scoped `local_stack`. pytest tears
a package's fixtures down before it runs another package's tests, so a worker never holds both.
"""

from tests.integration.conftest import anomaly_model_dir  # noqa: F401 (the same trained model)
