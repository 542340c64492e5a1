"""Tables the benchmark scripts print: rich when installed, else plain or Markdown text."""

from __future__ import annotations


class Table:
    """A small table printed with rich when it is installed, else as plain or Markdown text."""

    def __init__(self, title: str, columns: list[str]) -> None:
        self.title, self.columns = title, columns
        self.rows: list[list[str]] = []

    def add(self, *cells: object) -> None:
        self.rows.append([str(c) for c in cells])

    def print(self, markdown: bool, width: int = 160) -> None:
        if markdown:
            print(f"\n**{self.title}**\n")
            print("| " + " | ".join(self.columns) + " |")
            print(
                "|" + "|".join("---" if i == 0 else "---:" for i in range(len(self.columns))) + "|"
            )
            for row in self.rows:
                print("| " + " | ".join(row) + " |")
            return
        try:
            from rich.console import Console
            from rich.table import Table as RichTable
        except ImportError:
            widths = [
                max(len(c), *(len(r[i]) for r in self.rows)) for i, c in enumerate(self.columns)
            ]
            print(f"\n{self.title}")
            for row in [self.columns, *self.rows]:
                print(
                    "  ".join(
                        c.ljust(w) if i == 0 else c.rjust(w)
                        for i, (c, w) in enumerate(zip(row, widths, strict=True))
                    )
                )
            return
        table = RichTable(title=self.title, title_justify="left", min_width=len(self.title))
        for i, col in enumerate(self.columns):
            table.add_column(col, justify="left" if i == 0 else "right")
        for row in self.rows:
            table.add_row(*row)
        Console(width=width).print(table)
