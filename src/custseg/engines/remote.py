"""Typing a table that a remote engine holds (a database table, a Spark DataFrame) into the
lines contract of :mod:`custseg.engines.portable`, in the engine's own SQL.

Files are typed by DuckDB with the readers' detection (encodings, date formats, decimal
commas); a database or Spark table is typed here from its column types. Numbers and dates kept
as text must be plain (``12.5``) and ISO (``2011-12-09 12:50``): anything else is reported with
the column and examples, never dropped in silence or guessed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from custseg.errors import InputError

if TYPE_CHECKING:
    from custseg.engines.base import RemoteEngine

#: Values of a text column shown in a message about it.
SHOWN_VALUES = 3
#: Text accepted as a date in a text column (ISO 8601; databases store dates as dates, and
#: SQLite's and Spark's own date functions read this form).
ISO_DATE = r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$"
#: Text accepted as a number in a text column.
PLAIN_NUMBER = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$"


def _text(value: Any) -> Any:
    """Trimmed text, empty as missing."""
    text = value.cast("string").strip()
    return text.nullif("")


def _check_text(
    engine: RemoteEngine, raw: Any, column: str, pattern: str, what: str, fix: str, where: str
) -> None:
    """Raise when a text column holds values that do not match ``pattern``."""
    value = _text(raw[column])
    bad = raw.filter(value.notnull() & ~value.re_search(pattern))
    n_bad = int(engine.scalar(bad.count()))
    if not n_bad:
        return
    examples = engine.run(bad.select(v=value).distinct().limit(SHOWN_VALUES))["v"].tolist()
    raise InputError(
        f"{where}: column '{column}' has {n_bad:,} values that are not {what}, e.g. "
        f"{', '.join(repr(str(v)) for v in examples)}. {fix}"
    )


def id_value(column: Any) -> Any:
    """A customer id as clean text: whole numbers without ``.0``, text trimmed."""
    dtype = column.type()
    if dtype.is_integer():
        return column.cast("string")
    if dtype.is_floating() or dtype.is_decimal():
        whole = column.cast("float64")
        return (whole == whole.floor()).ifelse(
            whole.cast("int64").cast("string"), whole.cast("string")
        )
    return _text(column).re_replace(r"^([0-9]+)\.0+$", r"\1")


def typed_lines(
    engine: RemoteEngine, raw: Any, roles: dict[str, str], where: str
) -> tuple[Any, str, list[str]]:
    """The lines contract (:data:`custseg.engines.portable.LINE_COLUMNS`) as an expression
    over the database table ``raw``, plus the name of its duplicate flag and warnings.

    Numbers and dates stored as text must be plain (``12.5``) and ISO (``2011-12-09 12:50``):
    anything else is reported with the column and examples, never dropped in silence.
    """
    import ibis

    from custseg.engines import portable

    warnings: list[str] = []

    def number(role: str) -> Any:
        column = roles[role]
        value = raw[column]
        if value.type().is_numeric():
            return value.cast("float64")
        if value.type().is_string():
            _check_text(
                engine,
                raw,
                column,
                PLAIN_NUMBER,
                "plain numbers",
                "Store the column as a number in the database (or in a view that casts it), or "
                f"pass --{role}-col to use another column.",
                where,
            )
            return _text(value).cast("float64")
        raise InputError(
            f"{where}: column '{column}' ({value.type()}) is not a number. Pass --{role}-col to "
            "use another column."
        )

    ts_col = raw[roles["date"]]
    if ts_col.type().is_timestamp() or ts_col.type().is_date():
        ts = ts_col.cast("timestamp")
    elif ts_col.type().is_string():
        _check_text(
            engine,
            raw,
            roles["date"],
            ISO_DATE,
            "ISO dates (2011-12-09 or 2011-12-09 12:50:00)",
            "Store the column as a date or timestamp in the database (or in a view that "
            "converts it), or pass --date-col to use another column.",
            where,
        )
        ts = _text(ts_col).cast("timestamp")
    else:
        raise InputError(
            f"{where}: column '{roles['date']}' ({ts_col.type()}) is not a date. Pass "
            "--date-col to use another column."
        )
    if "quantity" in roles:
        quantity = number("quantity")
    else:
        quantity = ibis.literal(1.0)
        warnings.append("no quantity column: each line counts as one item")
    given_price = number("price") if "price" in roles else None
    given_amount = number("amount") if "amount" in roles else None
    if given_price is not None:
        price = given_price
        amount = given_amount if given_amount is not None else quantity * given_price
    else:
        amount = given_amount
        price = given_amount / quantity.nullif(0)

    def text(role: str) -> Any:
        return _text(raw[roles[role]]) if role in roles else ibis.null("string")

    decimal = portable.LINE_COLUMNS["amount"]
    # PostgreSQL's cast of a double to numeric(18, 4) rounds its 15 significant digits half
    # away from zero, as round(x, 4) does; Ibis's round of a double goes to NUMERIC and back to
    # DOUBLE first, which cost 1.2 s per million lines and gave the same values (checked on 7M
    # values, half-way ties included).
    postgres = engine.dialect == "postgres"
    amount = amount.cast(decimal) if postgres else amount.round(4).cast(decimal)
    # The duplicate window sorts the lines by every column: numbers and dates first, whose
    # comparisons are cheap and tell most lines apart, then text, which a database compares by
    # its collation (1M lines in PostgreSQL with an ICU collation: 2.1 s instead of 2.6-3.2 s).
    # The groups, and so the flags, are the same in any order.
    columns = sorted(raw.columns, key=lambda c: raw[c].type().is_string())
    lines = raw.select(
        # A table has no line order, and nothing downstream needs one: numbering the rows
        # would cost a window over the whole table in every query (on Spark, in one
        # partition).
        _row=ibis.null("int64"),
        customer_id=id_value(raw[roles["customer_id"]]),
        invoice=text("invoice"),
        ts=ts,
        quantity=quantity.cast("float64"),
        price=price.cast("float64"),
        amount=amount,
        product=text("product"),
        description=text("description"),
        country=text("country"),
        _duplicate=portable.duplicate_flag(raw, columns),
    )
    if engine.dialect == "sqlite":
        # SQLite computes the duplicate window even for a query that reads none of its
        # columns (the date range), then again for the classified lines: stored once in a
        # temporary table, the window runs once (1M lines: 9.2 s of CPU instead of 15.6 s).
        lines = engine.materialize(lines, "custseg_lines")
    return lines, "_duplicate", warnings


def repeat_counts(engine: RemoteEngine, raw: Any, id_col: str) -> tuple[int, int]:
    """Rows with a customer id, and distinct customer ids."""
    column = raw[id_col]
    # Whole numbers are distinct exactly when their text is: counted as they are, without
    # making a string of every line's id (PostgreSQL, 1M lines: 0.46 s instead of 1.0 s).
    ids = column if column.type().is_integer() else id_value(column)
    counts = engine.run(raw.aggregate(n_rows=ids.count(), n_ids=ids.nunique()))
    return int(counts["n_rows"].iloc[0] or 0), int(counts["n_ids"].iloc[0] or 0)


def date_columns(raw: Any) -> list[str]:
    """Columns the database types as dates or timestamps."""
    return [c for c, t in raw.schema().items() if t.is_timestamp() or t.is_date()]
