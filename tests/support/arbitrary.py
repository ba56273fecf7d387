"""Hypothesis strategies for what a hostile or broken uploader can put in a bucket."""

import json

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# Function-scoped fixtures (one moto stack per test) are shared by every example on purpose.
FUZZ = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=16,
)


def documents(fields: dict[str, st.SearchStrategy]) -> st.SearchStrategy[bytes]:
    """Bytes of all kinds: random, any JSON (NaN and 1e999 included), near-valid documents, deep nesting."""
    near_valid = st.fixed_dictionaries(
        {}, optional={name: values | json_values for name, values in fields.items()}
    )
    return st.one_of(
        st.binary(max_size=400),
        json_values.map(lambda v: json.dumps(v).encode()),
        near_valid.map(lambda v: json.dumps(v).encode()),
        st.integers(min_value=1, max_value=5000).map(lambda n: b"[" * n + b"]" * n),
        st.sampled_from([b"NaN", b'{"x": 1e999}', b"\xff\xfe", b"", b"{}", b"null"]),
    )
