"""Self-contained HTML report: compute a plain dict, then render it with a Jinja2 template.

- :func:`build_report_data` (``summary.py``) computes everything shown, as plain data;
- :mod:`custseg.report.plots` turns plain data into plotly figures (shared with the app);
- :func:`render_report_data` (``render.py``) renders the dict with an autoescaping Jinja2
  template, embedding plotly.js once so the page opens offline.

Examples
--------
>>> import custseg
>>> result = custseg.segment(custseg.datasets.demo_path())  # doctest: +SKIP
>>> html = render_report(result)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from custseg.report.render import render_report_data, report_figures
from custseg.report.summary import SECTION_TITLES, build_report_data


def render_report(result: Any) -> str:
    """Render the self-contained HTML report of a segmentation result.

    Parameters
    ----------
    result : SegmentationResult
        What :func:`custseg.segment` returned.

    Returns
    -------
    str
        One HTML page: plotly.js is embedded once, nothing is loaded from the network.

    Examples
    --------
    >>> import custseg
    >>> result = custseg.segment(custseg.datasets.demo_path())  # doctest: +SKIP
    >>> render_report(result).startswith("<!DOCTYPE html>")  # doctest: +SKIP
    True
    """
    return render_report_data(build_report_data(result))


__all__ = [
    "SECTION_TITLES",
    "build_report_data",
    "render_report",
    "render_report_data",
    "report_figures",
]
