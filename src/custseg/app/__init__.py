"""The custseg web app (Streamlit): upload a file, get named segments, explore, score, download.

A thin shell over the public API (``custseg.build_features``, ``custseg.segment``,
``SegmentationResult``, ``custseg.load_model``, ``custseg.report``): it holds no segmentation
logic. Start it with ``custseg app``; ``main.py`` is the Streamlit script, ``pages/`` holds one
script per page and ``_state.py`` the cached calls and session helpers.

This module imports nothing from Streamlit, so the command line can read the limits below
without it.
"""

from __future__ import annotations

from pathlib import Path

APP_MAX_UPLOAD_MB = 200
"""Largest upload the app accepts, in megabytes: Streamlit's ``server.maxUploadSize`` set by
``custseg app`` and checked again by the app (the Online Retail file, 45 MB, fits with room)."""


def main_script() -> Path:
    """Path of the Streamlit script that ``custseg app`` runs.

    Examples
    --------
    >>> main_script().name
    'main.py'
    """
    return Path(__file__).resolve().parent / "main.py"


__all__ = ["APP_MAX_UPLOAD_MB", "main_script"]
