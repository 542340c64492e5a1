"""``custseg app [--port N] [Streamlit's own flags]``: start the web app."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from typing import Annotated

import typer

from custseg.errors import InputError

SAFE_DEFAULTS = {
    "--server.headless": "true",
    "--browser.gatherUsageStats": "false",
    "--client.showErrorDetails": "none",
    "--client.toolbarMode": "viewer",
    "--server.enableXsrfProtection": "true",
}
"""Streamlit settings the app starts with unless the command line sets them: no browser
opened on the server, no usage statistics sent, no error details (tracebacks) in the browser,
no developer menu, XSRF protection on."""


def streamlit_args(port: int | None, extra: list[str]) -> list[str]:
    """The ``streamlit run`` command line: the app script, the safe defaults, the upload limit,
    then the user's own flags (which win over the defaults they name).

    Examples
    --------
    >>> args = streamlit_args(8600, ["--server.address", "0.0.0.0"])
    >>> args[args.index("--server.port") + 1], args[-1]
    ('8600', '0.0.0.0')
    """
    from custseg.app import APP_MAX_UPLOAD_MB, main_script

    named = {a.split("=", 1)[0] for a in extra if a.startswith("--")}
    defaults = {**SAFE_DEFAULTS, "--server.maxUploadSize": str(APP_MAX_UPLOAD_MB)}
    if port is not None:
        if "--server.port" in named:
            raise InputError("Give the port once: --port N or --server.port N, not both.")
        defaults["--server.port"] = str(port)
    args = [sys.executable, "-m", "streamlit", "run", str(main_script())]
    for flag, value in defaults.items():
        if flag not in named:
            args += [flag, value]
    return args + list(extra)


def app_command(
    ctx: typer.Context,
    port: Annotated[
        int | None, typer.Option(help="Port to serve on (Streamlit's default: 8501).")
    ] = None,
) -> int:
    """Start the web app (Streamlit); extra flags such as --server.address go to Streamlit."""
    if importlib.util.find_spec("streamlit") is None:
        raise InputError('The web app needs Streamlit: pip install "custseg[app]"')
    if port is not None and not 1 <= port <= 65535:
        raise InputError(f"--port must be between 1 and 65535, got {port}.")
    args = streamlit_args(port, list(ctx.args))
    sys.stdout.flush()
    sys.stderr.flush()
    if os.name == "posix":
        # Become the Streamlit server: signals (Ctrl+C, a service manager's SIGTERM) reach it
        # directly and no child process outlives this one.
        os.execv(args[0], args)
    try:
        return subprocess.call(args)
    except KeyboardInterrupt:
        return 0
