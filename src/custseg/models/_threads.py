"""Thread limits for the native libraries, without rescanning them on every call.

``threadpoolctl.threadpool_limits`` lists the loaded OpenMP and BLAS libraries each time it
is entered (reading ``/proc/self/maps``): about 20 ms, which added seconds to model selection
when it wrapped each of the hundreds of small fits. One :class:`~threadpoolctl.ThreadpoolController`
is built once per process and reused.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from threadpoolctl import ThreadpoolController

PARALLEL_FROM = 50_000
"""Below this many points k-means (and the Gaussian mixtures' BLAS) run on one thread:
faster on small data, and immune to busy cores (OpenMP threads wait for each other)."""


@lru_cache(maxsize=1)
def _controller() -> ThreadpoolController:
    return ThreadpoolController()


def limit(limits: int | None, user_api: str | None = None) -> Any:
    """A context manager limiting ``user_api`` ("openmp", "blas" or all) to ``limits``
    threads (None: no limit).

    Examples
    --------
    >>> with limit(1, "openmp"):
    ...     pass
    """
    return _controller().limit(limits=limits, user_api=user_api)
