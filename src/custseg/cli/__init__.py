"""The ``custseg`` command line: a thin shell over the Python API.

User mistakes end with one line on stderr that starts with ``error:`` and exit code 2;
nothing else prints a traceback unless ``CUSTSEG_DEBUG=1`` is set.
"""

from __future__ import annotations

import os
import sys
import warnings

import typer

from custseg.cli import app as app_cmd
from custseg.cli import compare, demo, export, forecast, predict, report, segment
from custseg.cli import serve as serve_cmd
from custseg.cli._common import console_err
from custseg.errors import CustsegError, CustsegWarning

app = typer.Typer(
    name="custseg",
    help="Customer segmentation: named, explained segments from a customer table or invoice lines.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
app.command("segment")(segment.segment_command)
app.command("predict")(predict.predict_command)
app.command("demo")(demo.demo_command)
app.command("forecast")(forecast.forecast_command)
app.command("report")(report.report_command)
app.command("serve")(serve_cmd.serve_command)
app.command("compare")(compare.compare_command)
app.command("export")(export.export_command)
app.command("app", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})(
    app_cmd.app_command
)


INTERRUPTED = "error: interrupted; no output was written."
"""What Ctrl-C ends with (exit code 130), at whatever stage it arrives."""


def _one_line(message: str) -> str:
    return " ".join(str(message).split())


def _is_interrupt(exc: BaseException) -> bool:
    """Whether ``exc`` is Ctrl-C as a library reported it: DuckDB turns the KeyboardInterrupt
    that arrives during a query into its own ``InterruptException`` (or a ``RuntimeError``
    "Query interrupted" when the query ran behind a pandas or Arrow fetch)."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, KeyboardInterrupt):
            return True
        names = {c.__name__ for c in type(exc).__mro__}
        if "InterruptException" in names:
            return True
        if isinstance(exc, RuntimeError) and "query interrupted" in str(exc).lower():
            return True
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return False


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``custseg`` command; returns the exit code."""
    warnings.simplefilter("default", CustsegWarning)
    warnings.formatwarning = lambda message, category, *a, **k: (
        f"warning: {_one_line(str(message))}\n"
    )
    try:
        result = app(args=argv, standalone_mode=False)
    except CustsegError as exc:
        if _is_interrupt(exc):  # a reader that turned DuckDB's interrupt into "cannot read"
            console_err(INTERRUPTED)
            return 130
        console_err(f"error: {_one_line(exc.cli_message)}")
        return 2
    except (KeyboardInterrupt, typer.Abort):
        console_err(INTERRUPTED)
        return 130
    except typer.Exit as exc:
        return int(getattr(exc, "exit_code", 0) or 0)
    except Exception as exc:
        if _is_interrupt(exc):
            console_err(INTERRUPTED)
            return 130
        names = {c.__name__ for c in type(exc).__mro__}
        if "NoArgsIsHelpError" in names:
            ctx = getattr(exc, "ctx", None)
            sys.stdout.write(
                (ctx.get_help() if ctx is not None else "Run 'custseg --help'.") + "\n"
            )
            return 0
        if "UsageError" in names or "ClickException" in names:
            ctx = getattr(exc, "ctx", None)
            command = getattr(getattr(ctx, "command", None), "name", None)
            hint = (
                f"custseg {command} --help"
                if command and command != "custseg"
                else "custseg --help"
            )
            console_err(f"error: {_one_line(exc.format_message()).rstrip('.')}. Run '{hint}'.")  # type: ignore[attr-defined]
            return 2
        if os.environ.get("CUSTSEG_DEBUG"):
            raise
        console_err(
            f"error: internal error ({type(exc).__name__}: {_one_line(str(exc))[:300]}). "
            "This is a bug in custseg; please report it (set CUSTSEG_DEBUG=1 to see the traceback)."
        )
        return 1
    if result == 130:  # Typer's own answer to a KeyboardInterrupt, said in no words
        console_err(INTERRUPTED)
    if isinstance(result, int):
        return result
    return 0


def run() -> None:
    """Console-script wrapper."""
    sys.exit(main())


__all__ = ["app", "main", "run"]
