"""``custseg serve``: a web service that scores customers with a saved model.

:func:`create_app` builds the FastAPI application (FastAPI is imported only then, with an
install hint when missing: ``pip install "custseg[serve]"``); :class:`Scorer` does the scoring
without any web framework. See docs/serving.md.

Examples
--------
>>> from custseg.serve import create_app  # doctest: +SKIP
>>> app = create_app("out/model.skops", api_key="s3cret", max_batch=1000)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from custseg.serve.scoring import RowError, Scored, Scorer

__all__ = ["RowError", "Scored", "Scorer", "create_app"]


def create_app(*args: Any, **kwargs: Any) -> Any:
    """Build the FastAPI application; see :func:`custseg.serve.app.create_app`."""
    from custseg.serve.scoring import require_fastapi

    require_fastapi()
    from custseg.serve.app import create_app as _create_app

    return _create_app(*args, **kwargs)
