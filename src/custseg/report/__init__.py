"""Self-contained HTML report: compute a plain dict, then render it with a Jinja2 template."""

from __future__ import annotations

from typing import Any


def render_report(result: Any) -> str:
    """Render the HTML report of a result."""
    import html

    return (
        "<html><body><pre>"
        + html.escape(str(result.metrics.get("selection_reason")))
        + "</pre></body></html>"
    )
