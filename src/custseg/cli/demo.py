"""``custseg demo``: the whole job on the bundled demo data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from custseg.cli._common import Quiet, StageProgress, make_console
from custseg.cli.segment import print_result


def demo_command(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("custseg-demo"),
    seed: Annotated[int, typer.Option(help="Seed.")] = 0,
    quiet: Quiet = False,
) -> None:
    """Segment the bundled demo data (800 customers of UCI Online Retail) and write the report."""
    import custseg
    from custseg.datasets import DEMO_ATTRIBUTION, demo_path
    from custseg.result import check_output_dir

    console = make_console(quiet)
    console.print(DEMO_ATTRIBUTION, markup=False)
    check_output_dir(out.resolve())
    import custseg.pipeline

    custseg.pipeline.WARM_UP = True  # this process is ours: load scikit-learn while DuckDB reads
    with StageProgress(console) as steps:
        result = custseg.segment(demo_path(), seed=seed, progress=steps.update)
        steps.update("Writing the report and the model")
        target = result.save(out)
    print_result(console, result, target)
