"""Fixtures for the end-to-end tests, and pytest's header line (the fuzz seed).

`start_server` starts `svcdns serve` processes and stops them at teardown; `cluster_server`
is one read-only server per module. The plain helpers they use, and tests import, are in
helpers.py.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator

import pytest

# tests/ is on sys.path and holds a folder `dns`: without dnspython, `import dns` finds that
# folder and fails later as "No module named 'dns.flags'". Say what is missing instead.
if importlib.util.find_spec("dns.flags") is None:
    raise pytest.UsageError(
        "dnspython is not installed: run README's install command, pip install -e '.[fast,test]'"
    )

from helpers import CLUSTER_YAML, ServerFactory, ServerProcess, server_factory


def pytest_report_header() -> str:
    import fuzzing  # here: only the header needs it

    return (
        f"fuzz: seed {fuzzing.SEED}, {fuzzing.EXAMPLES} inputs per fuzz test "
        f"(replay: SVCDNS_FUZZ_SEED={fuzzing.SEED})"
    )


@pytest.fixture
def start_server() -> Iterator[ServerFactory]:
    """Start `svcdns serve` (default: examples/cluster.yaml on 127.0.0.1:0); stopped at teardown."""
    with server_factory() as start:
        yield start


@pytest.fixture(scope="module")
def cluster_server() -> Iterator[ServerProcess]:
    """One read-only server on examples/cluster.yaml per test module."""
    with server_factory() as start:
        yield start(CLUSTER_YAML)
