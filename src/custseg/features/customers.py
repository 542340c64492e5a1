"""A customer table (one row per customer) -> typed feature frame.

Each column other than the id becomes a number, a date (turned into days before a reference
day, ``days_since_<column>``; a birth date into an age in whole years, ``age_from_<column>``) or
a category (text). The plan is stored in the model so that new customers are typed exactly like
the training table.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd

from custseg.engines.duckdb import DuckDBEngine, quote_ident, sql_literal
from custseg.errors import InputError, show_rows
from custseg.schema import (
    NUMERIC_TYPES,
    check_parsed,
    currency_in_values,
    date_expr,
    detect_date_format,
    id_expr,
    number_expr,
    percent_column,
    uses_decimal_comma,
)

BIRTH_DATE_WORDS: tuple[str, ...] = (
    "birthdate",  # birth_date, BirthDate, Birth Date
    "birthdt",
    "dateofbirth",  # date_of_birth, Date of Birth
    "dtofbirth",
    "dob",  # DOB, D.O.B.
    "birthday",  # birth_day; only as the whole name: birthday_offer_sent is not one
    "birth",
    "geburtsdatum",  # German
    "gebdatum",  # Geb.-Datum
    "geburtstag",
    "fechanacimiento",  # Spanish
    "fechadenacimiento",
    "fechanac",
    "datenaissance",  # French
    "datedenaissance",
    "datadinascita",  # Italian
    "datanascita",
    "datadenascimento",  # Portuguese
    "datanascimento",
    "geboortedatum",  # Dutch
)
"""Names of a date column that holds birth dates, once lower-cased and stripped of everything
but letters and digits (``Date of Birth`` reads ``dateofbirth``). The name must be one of these
as a whole, optionally after one word saying whose (:data:`BIRTH_DATE_OWNERS`: ``member_dob``,
``CustomerBirthDate``): a date column whose name only *contains* one (``birthday_offer_sent``,
``dob_verified_at``, ``adobe_sync_date``) is an event, counted in days like any other date."""

BIRTH_DATE_OWNERS: tuple[str, ...] = (
    "customer", "cust", "client", "member", "user", "contact", "person", "holder", "kunde"
)  # fmt: skip
"""Words that may come before a :data:`BIRTH_DATE_WORDS` name (whose birth date it is)."""

_BIRTH_DATE = re.compile(rf"^(?:{'|'.join(BIRTH_DATE_OWNERS)})?(?:{'|'.join(BIRTH_DATE_WORDS)})$")

MAX_AGE = 120
"""Oldest plausible age in years. No one has been documented older than 122, so an older age is
a typing error or a placeholder (``1900-01-01``); it is left blank, with a warning, like a
birth date after the reference day (a negative age)."""


def is_birth_date(column: str) -> bool:
    """Whether a date column's name says it holds birth dates (:data:`BIRTH_DATE_WORDS`).

    Examples
    --------
    >>> is_birth_date("Date of Birth"), is_birth_date("member_dob"), is_birth_date("DOB")
    (True, True, True)
    >>> is_birth_date("birthday_offer_sent"), is_birth_date("join_date")
    (False, False)
    """
    return _BIRTH_DATE.match(re.sub(r"[^0-9a-z]", "", str(column).lower())) is not None


def age_in_years(born: dt.date, day: dt.date) -> int:
    """Completed years between a birth date and a day: the age a person gives (a birthday on
    29 February is reached on 1 March in other years). Negative when ``born`` is after ``day``.

    Examples
    --------
    >>> age_in_years(dt.date(1990, 6, 15), dt.date(2025, 6, 14))
    34
    >>> age_in_years(dt.date(1990, 6, 15), dt.date(2025, 6, 15))
    35
    """
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def _age_sql(date_sql: str, day: dt.date) -> str:
    """:func:`age_in_years` in SQL, for a date expression and a fixed day."""
    return (
        f"(({day.year} - year({date_sql})) - CASE WHEN month({date_sql}) * 100 + day({date_sql}) "
        f"> {day.month * 100 + day.day} THEN 1 ELSE 0 END)"
    )


@dataclass
class CustomerColumns:
    """How each column of a customer table is read."""

    id_col: str
    numeric: list[str] = field(default_factory=list)
    categorical: list[str] = field(default_factory=list)
    #: date column -> [format or None, reference day as ISO text]
    dates: dict[str, list[str | None]] = field(default_factory=dict)
    decimal_comma: list[str] = field(default_factory=list)
    #: the one currency symbol written in the number columns' values (``$1,234.50``), if any
    currency: str | None = None
    #: columns a scored file may lack: the model left them out of its segments, so they are
    #: read when present (for the output) and skipped when absent. Set at scoring only.
    optional: list[str] = field(default_factory=list)
    #: the date columns holding birth dates (:func:`is_birth_date`): their feature is the age
    #: in whole years at the column's reference day. Absent from plans stored before ages
    #: existed, whose date columns all count days.
    birth_dates: list[str] = field(default_factory=list)

    def feature_name(self, col: str) -> str:
        """Name of the feature made from a column.

        Examples
        --------
        >>> plan = CustomerColumns("id", dates={"dob": [None, "2025-01-01"],
        ...     "joined": [None, "2025-01-01"]}, birth_dates=["dob"])
        >>> plan.feature_name("dob"), plan.feature_name("joined"), plan.feature_name("spend")
        ('age_from_dob', 'days_since_joined', 'spend')
        """
        if col in self.birth_dates:
            return f"age_from_{col}"
        return f"days_since_{col}" if col in self.dates else col

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy, as a model stores it (without ``optional``, set at scoring, and
        without an empty ``birth_dates``, so that a plan without ages is stored as before)."""
        return {
            k: v
            for k, v in self.__dict__.items()
            if k != "optional" and not (k == "birth_dates" and not v)
        }

    def for_scoring(self, used: Collection[str]) -> CustomerColumns:
        """This plan with every column whose feature is not in ``used`` (the features a model
        segments on) marked optional.

        Examples
        --------
        >>> plan = CustomerColumns("id", numeric=["age", "tenure"], categorical=["email"])
        >>> plan.for_scoring(["age"]).optional
        ['tenure', 'email']
        """
        columns = [*self.numeric, *self.categorical, *self.dates]
        return replace(self, optional=[c for c in columns if self.feature_name(c) not in used])

    def present(self, have: Collection[str]) -> CustomerColumns:
        """This plan without the optional columns missing from ``have``.

        Examples
        --------
        >>> plan = CustomerColumns("id", numeric=["age", "tenure"], optional=["tenure"])
        >>> plan.present(["id", "age"]).numeric
        ['age']
        """
        gone = {c for c in self.optional if c not in have}
        if not gone:
            return self
        return replace(
            self,
            numeric=[c for c in self.numeric if c not in gone],
            categorical=[c for c in self.categorical if c not in gone],
            dates={c: v for c, v in self.dates.items() if c not in gone},
            birth_dates=[c for c in self.birth_dates if c not in gone],
            optional=[c for c in self.optional if c not in gone],
        )


def _all_numbers(engine: DuckDBEngine, col: str, expr: str) -> bool:
    q = quote_ident(col)
    bad = engine.scalar(
        f"SELECT count(*) FROM raw WHERE {q} IS NOT NULL AND trim(CAST({q} AS VARCHAR)) <> '' "
        f"AND ({expr}) IS NULL"
    )
    present = engine.scalar(f"SELECT count({q}) FROM raw")
    return bool(present) and bad == 0


def _plain_text(engine: DuckDBEngine, columns: list[str]) -> set[str]:
    """The text columns none of whose values holds a digit or spells a special number
    (``inf``, ``nan``): neither numbers nor dates, so categories without the per-column checks
    (several queries each: a table of hundreds of text columns took seconds). One query."""
    if not columns:
        return set()
    checks = ", ".join(
        f"coalesce(bool_or(regexp_matches(lower(CAST({quote_ident(c)} AS VARCHAR)), "
        f"'[0-9]|inf|nan')), false)"
        for c in columns
    )
    row = engine.sql(f"SELECT {checks} FROM raw").fetchone()
    return {c for c, has in zip(columns, row or [], strict=False) if has is False}


def plan_customer_columns(
    engine: DuckDBEngine,
    id_col: str,
    where: str,
    delimiter: str | None,
) -> tuple[CustomerColumns, list[str]]:
    """Decide how each column of ``raw`` is read (number, date or category).

    A date column counts days to the day after its latest date. A birth date
    (:func:`is_birth_date`) gives an age instead, counted to the day after the latest date
    of the table's other date columns (the day the table was written,
    as near as it tells), but never after today, and today when it has no other date column.

    Returns the plan and warnings (for example dates that read day-first or month-first).
    """
    plan = CustomerColumns(id_col=id_col)
    warnings: list[str] = []
    columns = [(c, t) for c, t in engine.columns("raw") if c not in ("_row", id_col)]
    text = _plain_text(engine, [c for c, t in columns if t == "VARCHAR"])
    symbols: set[str] = set()
    for col, typ in columns:
        if typ in NUMERIC_TYPES or typ.startswith("DECIMAL") or typ == "BOOLEAN":
            plan.numeric.append(col)
            continue
        if typ.startswith(("TIMESTAMP", "DATE")):
            plan.dates[col] = [None, ""]
            continue
        if col in text:
            plan.categorical.append(col)
            continue
        comma = uses_decimal_comma(engine, col, delimiter)
        percent = percent_column(engine, col)
        if _all_numbers(engine, col, number_expr(col, typ, comma, percent)):
            plan.numeric.append(col)
            if comma:
                plan.decimal_comma.append(col)
            if not percent:
                symbols.update(currency_in_values(engine, col))
            continue
        fmt, date_warnings = detect_date_format(engine, col, where, required=False)
        warnings.extend(date_warnings)
        if fmt:
            plan.dates[col] = [fmt, ""]
        else:
            plan.categorical.append(col)
    if len(symbols) == 1:
        plan.currency = symbols.pop()
    plan.birth_dates = [c for c in plan.dates if is_birth_date(c)]
    refs: list[dt.date] = []
    for col, (fmt, _) in plan.dates.items():
        if col in plan.birth_dates:
            continue
        last = engine.scalar(f"SELECT max({date_expr(col, fmt)}) FROM raw")
        ref = (last.date() if isinstance(last, dt.datetime) else last) + dt.timedelta(days=1)
        plan.dates[col][1] = ref.isoformat()
        refs.append(ref)
    if plan.birth_dates:
        latest = min(max(refs), dt.date.today()) if refs else dt.date.today()
        day = latest
        for col in plan.birth_dates:
            plan.dates[col][1] = day.isoformat()
        if not refs:
            names = ", ".join(f"'{c}'" for c in plan.birth_dates)
            warnings.append(
                f"ages from {names} are counted to today ({day.isoformat()}): the table has no "
                "other date column to tell when it was written, so a run on another day gives "
                "other ages; the model keeps this day and scores new customers at it"
            )
    return plan, warnings


def customer_features(
    engine: DuckDBEngine, plan: CustomerColumns, where: str
) -> tuple[pd.DataFrame, list[str]]:
    """Read ``raw`` into a typed frame following ``plan`` (its optional columns already
    left out where ``raw`` lacks them: :meth:`CustomerColumns.present`); one row per
    customer. Returns the frame and warnings (birth dates left blank).

    Raises
    ------
    InputError
        If a planned column is missing, ids are missing or repeated, or values do not parse.
    """
    have = {c: t for c, t in engine.columns("raw")}
    notes: list[str] = []
    needed = [plan.id_col, *plan.numeric, *plan.categorical, *plan.dates]
    missing = [c for c in needed if c not in have]
    if missing:
        raise InputError(
            f"{where} has no column '{missing[0]}', which the model was trained with. "
            f"Columns found: {', '.join(c for c in have if c != '_row')}."
        )
    selects = [f"{id_expr(plan.id_col, have[plan.id_col])} AS customer_id"]
    for col in plan.numeric:
        # Per cent signs are removed from every text column read as numbers (the plan keeps
        # no list of them): a model trained on 12 reads 12% as 12 too, and one trained on 12%
        # reads 12.
        expr = number_expr(col, have[col], col in plan.decimal_comma, percent=True)
        if have[col] == "BOOLEAN":
            expr = f"CAST({quote_ident(col)} AS DOUBLE)"
        check_parsed(engine, col, expr, "numbers", "Fix them or remove the column.", where)
        selects.append(f"{expr} AS {quote_ident(col)}")
    for col in plan.categorical:
        selects.append(
            f"NULLIF(trim(CAST({quote_ident(col)} AS VARCHAR)), '') AS {quote_ident(col)}"
        )
    for col, (fmt, ref) in plan.dates.items():
        check_parsed(
            engine, col, date_expr(col, fmt), "dates", f"Write them like the others ({fmt}).", where
        )
        day_sql = f"CAST({date_expr(col, fmt)} AS DATE)"
        name = quote_ident(plan.feature_name(col))
        if col in plan.birth_dates:
            age = _age_sql(day_sql, dt.date.fromisoformat(str(ref)))
            selects.append(f"CAST({age} AS DOUBLE) AS {name}")
            selects.append(f"{day_sql} AS {quote_ident('_born_' + col)}")
            continue
        selects.append(
            f"CAST(date_diff('day', {day_sql}, "
            f"CAST({sql_literal(str(ref))} AS DATE)) AS DOUBLE) AS {name}"
        )
    frame = engine.sql(f"SELECT _row, {', '.join(selects)} FROM raw ORDER BY _row").df()
    for col in plan.birth_dates:
        message = blank_implausible_ages(
            frame, col, plan.feature_name(col), str(plan.dates[col][1]), where
        )
        frame = frame.drop(columns=f"_born_{col}")
        if message:
            notes.append(message)
    missing_ids = frame.loc[frame["customer_id"].isna(), "_row"].tolist()
    if missing_ids:
        raise InputError(
            f"{where}: column '{plan.id_col}' has {len(missing_ids):,} empty customer id(s) "
            f"({show_rows(missing_ids[:5], total=len(missing_ids))}). Give every row an id."
        )
    dup = frame["customer_id"].duplicated(keep=False)
    if dup.any():
        example = frame.loc[dup, "customer_id"].iloc[0]
        rows = frame.loc[frame["customer_id"] == example, "_row"].tolist()
        repeated = int(frame.loc[dup, "customer_id"].nunique())
        others = f" (and {repeated - 1:,} other id(s) repeat)" if repeated > 1 else ""
        raise InputError(
            f"{where}: customer id {example!r} in column '{plan.id_col}' appears more than once "
            f"({show_rows(rows[:5], total=len(rows))}){others}, but a customer table has one row "
            "per customer. If these are invoice lines, pass --kind transactions with --date-col "
            "and --price-col (or --amount-col)."
        )
    _check_magnitudes(frame, plan.numeric, where)
    frame["customer_id"] = frame["customer_id"].astype(str)
    return frame.drop(columns="_row").reset_index(drop=True), notes


def blank_implausible_ages(
    frame: pd.DataFrame, col: str, feature: str, day: str, where: str
) -> str | None:
    """Blank the ages of ``frame[feature]`` below 0 (born after ``day``) or above
    :data:`MAX_AGE`, in place; return the warning that says which, or None.

    ``frame`` holds ``_row`` (the row number shown) and ``_born_<col>`` (the birth day).
    """
    ages = frame[feature]
    future = ages < 0
    old = ages > MAX_AGE
    bad = future | old
    if not bad.any():
        return None
    rows = frame.loc[bad, "_row"].astype(int).tolist()
    example = frame.loc[bad, f"_born_{col}"].iloc[0]
    example = example.date() if isinstance(example, dt.datetime) else example
    frame.loc[bad, feature] = float("nan")
    parts = []
    if future.any():
        parts.append(f"{int(future.sum()):,} after that day")
    if old.any():
        parts.append(f"{int(old.sum()):,} more than {MAX_AGE} years before it")
    return (
        f"{where}: column '{col}' has {len(rows):,} birth date(s) giving no plausible age at "
        f"{day} ({show_rows(rows[:5], total=len(rows))}; {' and '.join(parts)}), e.g. "
        f"{example}; their '{feature}' is left blank (missing values get the training median). "
        "Correct those birth dates to use them."
    )


LARGEST_VALUE = 1e30
"""Numbers beyond +-1e30 are refused. No amount, count or measure is that large (nanoseconds
since 1970 are about 1.7e18); such values are typing errors or overflow markers, and near the
float limit (1e308) they break what is computed from them (squares in scaling, the rules'
single precision, whose limit is 3.4e38)."""


def _check_magnitudes(frame: pd.DataFrame, numeric: list[str], where: str) -> None:
    """Refuse numbers beyond :data:`LARGEST_VALUE`, naming the column and the rows."""
    for col in numeric:
        values = pd.to_numeric(frame[col], errors="coerce").abs()
        huge = values > LARGEST_VALUE
        if huge.any():
            rows = frame.loc[huge, "_row"].astype(int).tolist()
            example = float(frame.loc[huge, col].iloc[0])
            raise InputError(
                f"{where}: column '{col}' has {len(rows):,} value(s) beyond +-{LARGEST_VALUE:g} "
                f"({show_rows(rows[:5], total=len(rows))}), e.g. {example:g}. No amount or "
                "count is that large: fix or remove those values, or leave the column out."
            )
