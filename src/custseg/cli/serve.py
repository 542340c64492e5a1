"""``custseg serve MODEL [--host 127.0.0.1] [--port 8000]``: score customers over HTTP."""

from __future__ import annotations

import gc
import ipaddress
import os
from pathlib import Path
from typing import Annotated

import typer

from custseg.errors import InputError

LOOPBACK_NAMES = ("localhost",)


def is_loopback(host: str) -> bool:
    """Whether ``host`` only listens on this machine (127.0.0.0/8, ::1, localhost).

    Examples
    --------
    >>> is_loopback("127.0.0.1"), is_loopback("::1"), is_loopback("0.0.0.0")
    (True, True, False)
    """
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def read_api_key(env_name: str | None, host: str) -> str | None:
    """The API key from the environment variable ``env_name``; required off loopback.

    Raises
    ------
    InputError
        If ``host`` is not loopback and no key is configured, or the variable is unset or
        empty.
    """
    if env_name is None:
        if not is_loopback(host):
            raise InputError(
                f"--host {host} lets other machines reach the service, so it needs an API key: "
                "put a long random key in an environment variable and pass its name with "
                "--api-key-env NAME (clients send it in the X-API-Key header)."
            )
        return None
    key = os.environ.get(env_name, "")
    if not key.strip():
        raise InputError(
            f"--api-key-env {env_name}: the environment variable {env_name} is unset or empty. "
            f"Set it to a long random key, e.g. export {env_name}=$(openssl rand -hex 32)."
        )
    if len(key) < 16:
        raise InputError(
            f"--api-key-env {env_name}: the key is {len(key)} characters long; use at least 16 "
            f"(e.g. export {env_name}=$(openssl rand -hex 32))."
        )
    return key


def serve_command(
    model: Annotated[
        str, typer.Argument(metavar="MODEL", help="model.skops written by custseg segment.")
    ],
    host: Annotated[
        str,
        typer.Option(help="Address to listen on; anything but loopback needs --api-key-env."),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    api_key_env: Annotated[
        str | None,
        typer.Option(
            metavar="NAME",
            help="Environment variable holding the API key that clients send in X-API-Key.",
        ),
    ] = None,
    max_batch: Annotated[
        int, typer.Option(min=1, help="Most customers (or invoice lines) in one request.")
    ] = 10_000,
    max_body_mb: Annotated[
        float, typer.Option(min=0.001, help="Largest request body, in megabytes.")
    ] = 20.0,
) -> None:
    """Serve a saved model over HTTP: POST /v1/score, GET /v1/model, GET /healthz."""
    from custseg.serve.scoring import require_fastapi

    require_fastapi()
    api_key = read_api_key(api_key_env, host)
    if not Path(model).is_file():
        # load_model says the same; checked first so that nothing is imported in vain.
        raise InputError(
            f"Model file '{model}' does not exist. Pass the model.skops written by custseg segment."
        )
    import uvicorn

    from custseg.serve import create_app

    app = create_app(model, api_key=api_key, max_batch=max_batch, max_body_mb=max_body_mb)
    # The loaded model is permanent: keep the garbage collector from walking it on every
    # collection (fewer latency spikes).
    gc.freeze()
    uvicorn.run(app, host=host, port=port, log_level="info", server_header=False)
