"""Settings shared by the fuzz tests: how many inputs, and the seed that replays a run.

CI runs SVCDNS_FUZZ_EXAMPLES inputs per fuzz test (default 2,000) from a fresh random
seed, which pytest prints in its header (`fuzz: seed N`) and Hypothesis prints with any
failure; `SVCDNS_FUZZ_SEED=N python -m pytest tests -k fuzz` replays that run. Before a
release: `SVCDNS_FUZZ_EXAMPLES=1000000 python -m pytest tests -k fuzz -p no:cacheprovider`
(README, TESTS).
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from typing import Any, TypeVar

from hypothesis import HealthCheck, seed, settings

EXAMPLES = int(os.environ.get("SVCDNS_FUZZ_EXAMPLES", "2000"))
SEED = int(os.environ.get("SVCDNS_FUZZ_SEED") or random.SystemRandom().randrange(2**32))

Test = TypeVar("Test", bound=Callable[..., Any])


def fuzz(test: Test) -> Test:
    """Hypothesis with the run's seed and size; no example database, no deadline."""
    configured = settings(
        max_examples=EXAMPLES,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )(test)
    return seed(SEED)(configured)  # type: ignore[no-any-return]
