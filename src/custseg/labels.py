"""Readable labels, units and directions of features, for every place a person reads them.

The report, the app, the CLI tables and the exports show features by a label ("Days since last
purchase", "Amount spent on wines") instead of their column name, format each value in its
unit (money with its currency, shares as percentages, counts as whole numbers) and colour a
feature by whether higher is better, worse or neither. This module is the one place that says
how; it imports nothing heavy so that the CLI can use it.

- :func:`feature_label`: the label of a transaction feature or a customer-table column, with
  the user's own labels (``feature_labels=`` of :func:`custseg.segment`, ``--labels FILE``) first;
- :func:`feature_unit` and :func:`format_value`: the unit of a feature and a value in it;
- :func:`feature_direction`: +1 when higher is better for the business, -1 when lower is,
  0 when neither;
- :func:`detect_currency` and :func:`load_labels`: the currency and the user's label file.

Examples
--------
>>> feature_label("days_since_last_purchase"), feature_label("MntWines")
('Days since last purchase', 'Amount spent on wines')
>>> format_value(0.0033, "share"), format_value(2951.4, "money", currency="£")
('0.3%', '£2,951')
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from custseg.errors import InputError

#: Features custseg computes from invoice lines: label, unit, direction.
TRANSACTION_LABELS: dict[str, tuple[str, str, int]] = {
    "days_since_last_purchase": ("Days since last purchase", "days", -1),
    "n_orders": ("Orders", "count", 1),
    "revenue": ("Revenue", "money", 1),
    "mean_order_value": ("Average order value", "money", 1),
    "days_since_first_purchase": ("Days since first purchase", "days", 0),
    "n_products": ("Distinct products bought", "count", 1),
    "return_rate": ("Share of items returned", "share", -1),
    "expected_purchases": ("Expected purchases next year", "number", 1),
    "expected_revenue": ("Expected revenue next year", "money", 1),
}

#: Abbreviations in column names and what they stand for (whole words, lower case).
ABBREVIATIONS: dict[str, str] = {
    "mnt": "amount spent on",
    "amt": "amount",
    "num": "number of",
    "no": "number of",
    "nb": "number of",
    "qty": "quantity",
    "cmp": "campaign",
    "dt": "date",
    "prods": "products",
    "prod": "product",
    "avg": "average",
    "pct": "percent",
    "cust": "customer",
    "acct": "account",
    "yr": "year",
    "yrs": "years",
    "mo": "month",
    "freq": "frequency",
    "rev": "revenue",
    "txn": "transactions",
    "trx": "transactions",
    "inv": "invoice",
    "kidhome": "kids at home",
    "teenhome": "teenagers at home",
    "id": "ID",
}

#: Whole readable phrases that read better another way (after abbreviations are expanded).
PHRASES: dict[str, str] = {
    "year birth": "year of birth",
    "date customer": "customer since",
    "accepted campaign": "accepted campaign",
    "number of web visits month": "web visits per month",
    "amount spent on gold prods": "amount spent on gold products",
    "number of deals purchases": "purchases with a discount",
}

#: Units of a column, from the words of its readable label (:func:`readable_column`, lower
#: case), first match wins.
# fmt: off
UNIT_WORDS: tuple[tuple[str, str], ...] = (
    (r"\b(score|rating|rank|index|nps)\b", "number"),
    (r"\b(duration|minutes|seconds|hours|time)\b", "number"),
    (r"\bpercent\b", "percent"),
    (r"\b(rate|ratio|share|proportion|probability|likelihood)\b", "share"),
    (r"\b(recency|days)\b", "days"),
    (r"^number of\b", "count"),
    (r"\b(amount|spend|spent|revenue|sales|monetary|turnover|ltv|clv|value|aov|basket|income|"
     r"salary|wage|wealth|price|cost|fee|balance|refund|charges?)\b",
     "money"),
    (r"\b(purchases|orders|visits|count|kids|teenagers|children|transactions|invoices)\b",
     "count"),
    (r"\byears?\b", "year"),
)
#: Which side of a column is better for the business, from the words of its label, first
#: match wins: -1 lower is better, 0 neither, +1 higher is better.
DIRECTION_WORDS: tuple[tuple[str, int], ...] = (
    (r"\b(unsubscrib\w*|churn\w*|cancel\w*|complain\w*|complaints?|refunds?|returns?|"
     r"returned|lapsed|debt|owed|overdue|missed|late|failed|declined|unpaid|"
     r"days since last)\b", -1),
    (r"\b(income|salary|wage|wealth|price|cost|fee|balance|age|years?|kids|teenagers|children|"
     r"visits|discount|deals?|duration|time|tenure|days since first|days as|days between)\b", 0),
    (r"\b(spend|spent|revenue|sales|monetary|turnover|ltv|clv|value|aov|basket|purchases|"
     r"orders|accepted|response|responded|converted|subscribed|satisfaction|nps|recency|"
     r"charges?)\b", 1),
)
# fmt: on
#: Recency is the one positive-looking word that is better low.
_LOWER_IS_BETTER = re.compile(r"\brecency\b")

#: Symbols and codes of currencies -> the symbol printed before an amount.
CURRENCY_SYMBOLS: dict[str, str] = {
    "$": "$",
    "usd": "$",
    "dollar": "$",
    "£": "£",
    "gbp": "£",
    "pound": "£",
    "€": "€",
    "eur": "€",
    "euro": "€",
    "¥": "¥",
    "jpy": "¥",
    "yen": "¥",
    "cny": "¥",
    "chf": "CHF ",
    "inr": "₹",
    "₹": "₹",
}
#: Currency symbols looked for in column names and in text prices.
CURRENCY_CHARACTERS = "[£$€¥₹]"
#: ISO codes accepted by ``--currency`` besides the symbols themselves.
ISO_CODES = {"usd", "gbp", "eur", "jpy", "cny", "chf", "inr"}

_SPLIT_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_BRACKETS = re.compile(r"\s*[\(\[](.*?)[\)\]]\s*")


def readable_column(column: str) -> str:
    """A column name as a person reads it: CamelCase and underscores split, abbreviations
    expanded, units in brackets kept, first letter capitalised.

    Examples
    --------
    >>> readable_column("MntWines"), readable_column("NumWebPurchases")
    ('Amount spent on wines', 'Number of web purchases')
    >>> readable_column("AcceptedCmp5"), readable_column("Kidhome"), readable_column("Year_Birth")
    ('Accepted campaign 5', 'Kids at home', 'Year of birth')
    >>> readable_column("Annual Income (k$)"), readable_column("days_since_Dt_Customer")
    ('Annual income (k$)', 'Days as a customer')
    >>> readable_column("age_from_birth_date")
    'Age (from birth date)'
    """
    name = str(column).strip()
    if not name:
        return name
    if name.lower().startswith("age_from_") and len(name) > len("age_from_"):
        # A birth date read as an age (custseg.features.customers).
        return f"Age (from {readable_column(name[len('age_from_') :]).lower()})"
    if name.lower().startswith("days_since_") and len(name) > len("days_since_"):
        inner = readable_column(name[len("days_since_") :]).lower()
        if inner in {"customer since", "signup", "sign up", "registration", "joined", "created"}:
            return "Days as a customer"
        return f"Days since {inner}"
    units = [m.group(1) for m in _BRACKETS.finditer(name) if m.group(1).strip()]
    base = _BRACKETS.sub(" ", name)
    base = _SPLIT_CAMEL.sub(" ", base)
    base = re.sub(r"(?<=[A-Za-z])(?=[0-9])", " ", base)
    words = [w for w in re.split(r"[\s_\-.]+", base) if w]
    expanded = []
    for i, word in enumerate(words):
        lower = word.lower()
        if i == 0 and lower == "n" and len(words) > 1:
            expanded.append("number of")  # n_returns
        elif lower in ABBREVIATIONS:
            expanded.append(ABBREVIATIONS[lower])
        elif word.isupper() and len(word) > 1:
            expanded.append(word)  # an acronym (ID, VIP, SKU) stays as it is
        else:
            expanded.append(lower)
    if len(expanded) > 1 and expanded[-1].lower() in ISO_CODES:
        units.append(expanded.pop().upper())  # total_revenue_gbp: "Total revenue (GBP)"
    text = " ".join(expanded).replace("number of of ", "number of ")
    for phrase, better in PHRASES.items():
        if text == phrase or text.startswith(phrase + " "):
            text = better + text[len(phrase) :]
            break
    text = text[:1].upper() + text[1:]
    if units:
        text += " (" + ", ".join(units) + ")"
    return text


def feature_label(name: Any, labels: Mapping[str, str] | None = None) -> str:
    """The label of a feature: the user's label when given, custseg's own for the features
    it computes, else :func:`readable_column`.

    Examples
    --------
    >>> feature_label("n_orders"), feature_label("n_orders", {"n_orders": "Invoices"})
    ('Orders', 'Invoices')
    """
    key = str(name)
    if labels and key in labels:
        return str(labels[key])
    if key in TRANSACTION_LABELS:
        return TRANSACTION_LABELS[key][0]
    return readable_column(key)


def distinct_labels(names: Iterable[Any], labels: Mapping[str, str] | None = None) -> list[str]:
    """:func:`feature_label` of each name, with the column name added in brackets where two
    would read the same (``num_orders`` and ``NumOrders`` are both "Number of orders"; a
    labels file may give two columns one label): a table or chart row per feature must say
    which feature it is.

    Examples
    --------
    >>> distinct_labels(["num_orders", "NumOrders", "revenue"])
    ['Number of orders (num_orders)', 'Number of orders (NumOrders)', 'Revenue']
    """
    keys = [str(n) for n in names]
    out = [feature_label(k, labels) for k in keys]
    seen: dict[str, int] = {}
    for label in out:
        seen[label] = seen.get(label, 0) + 1
    return [
        f"{label} ({key})" if seen[label] > 1 else label
        for key, label in zip(keys, out, strict=True)
    ]


def _words(name: str) -> str:
    return readable_column(name).lower()


def _kind(name: str) -> tuple[str, int]:
    if name in TRANSACTION_LABELS:
        _, unit, direction = TRANSACTION_LABELS[name]
        return unit, direction
    text = _words(name)
    unit = next((u for pattern, u in UNIT_WORDS if re.search(pattern, text)), "number")
    direction = next((d for pattern, d in DIRECTION_WORDS if re.search(pattern, text)), 0)
    if direction == 1 and _LOWER_IS_BETTER.search(text):
        direction = -1
    return unit, direction


def feature_unit(name: Any) -> str:
    """The unit of a feature: ``money``, ``days``, ``count``, ``share`` (0 to 1),
    ``percent`` (0 to 100), ``year`` or ``number``.

    Examples
    --------
    >>> [feature_unit(c) for c in ("revenue", "return_rate", "MntWines", "NumWebPurchases",
    ...                             "Spending Score (1-100)", "Age")]
    ['money', 'share', 'money', 'count', 'number', 'number']
    """
    return _kind(str(name))[0]


def feature_direction(name: Any) -> int:
    """+1 when more of the feature is better for the business, -1 when less is, 0 when
    neither (an age, a tenure, an income).

    Examples
    --------
    >>> [feature_direction(c) for c in ("revenue", "days_since_last_purchase", "Recency",
    ...                                 "Complain", "Income", "Age")]
    [1, -1, -1, -1, 0, 0]
    """
    return _kind(str(name))[1]


#: Money columns that are not part of a customer's total value: averages, extremes and ratios
#: (summing them counts the same spend twice) and refunds or discounts.
NOT_A_TOTAL = re.compile(
    r"\b(average|mean|median|per|max|maximum|min|minimum|refunds?|discount|aov|basket)\b"
)
#: A time window in a column name (``spend_30d``, ``revenue_12m``, ``sales last 90 days``).
WINDOW = re.compile(r"\b(\d+ ?[dwmy]|last \d+|\d+ (days?|weeks?|months?|years?)|ytd|mtd)\b")
#: Names of an all-time total (``total_spend``, ``lifetime_value``).
TOTAL = re.compile(r"\b(total|lifetime|all time|ltv|clv)\b")


def value_columns(numeric: Iterable[str]) -> list[str]:
    """The spend-like columns of a customer table, whose sum is a customer's value: money
    that is better when higher (``MntWines``, ``total_spend``, ``revenue``), not an income,
    a price, an average, a maximum, a refund or a discount. When a column names an all-time
    total, that one alone; columns for a time window (``spend_30d``) only when nothing else
    is there.

    Examples
    --------
    >>> value_columns(["Income", "MntWines", "MntFruits", "Recency", "Spending Score (1-100)"])
    ['MntWines', 'MntFruits']
    >>> value_columns(["total_spend", "spend_30d", "avg_order_value", "refund_amount"])
    ['total_spend']
    """
    found = [
        c
        for c in numeric
        if _kind(str(c)) == ("money", 1) and not NOT_A_TOTAL.search(_words(str(c)))
    ]
    totals = [c for c in found if TOTAL.search(_words(str(c)))]
    if totals:
        return totals[:1]
    lasting = [c for c in found if not WINDOW.search(_words(str(c)))]
    return lasting or found


def column_currency(name: Any, currency: str) -> str:
    """The currency to print before a column's amounts: none when the column's name already
    gives its unit in brackets (``Annual Income (k$)``: its values are thousands of dollars,
    and "$40" would read as forty dollars).

    Examples
    --------
    >>> column_currency("Annual Income (k$)", "$"), column_currency("revenue", "£")
    ('', '£')
    """
    units = " ".join(m.group(1) for m in _BRACKETS.finditer(str(name)))
    if units and (
        re.search(CURRENCY_CHARACTERS, units)
        or any(t in ISO_CODES for t in re.findall(r"[a-z]+", units.lower()))
    ):
        return ""
    return currency


def currency_symbol(text: str) -> str | None:
    """The currency a symbol or code stands for, as the symbol to print, or None.

    Examples
    --------
    >>> currency_symbol("EUR"), currency_symbol("£"), currency_symbol("points")
    ('€', '£', None)
    """
    key = str(text).strip().lower()
    if key in CURRENCY_SYMBOLS:
        return CURRENCY_SYMBOLS[key]
    return None


def parse_currency(text: str | None) -> str | None:
    """The ``--currency`` option: a symbol or ISO code custseg knows, or any short text used
    as it is (``"CAD "``, ``"kr"``); ``""`` or ``"none"`` turns the symbol off.

    Examples
    --------
    >>> parse_currency("gbp"), parse_currency("kr"), parse_currency("none")
    ('£', 'kr ', '')
    """
    if text is None:
        return None
    value = str(text).strip()
    if value.lower() in {"", "none", "off"}:
        return ""
    known = currency_symbol(value)
    if known is not None:
        return known
    if len(value) > 5 or not re.fullmatch(r"[^\W\d_]+|\W", value):
        raise InputError(
            f"the currency '{text}' (--currency) is not a symbol or code: give one "
            "such as USD, EUR, GBP, $ or kr (at most 5 letters), or none."
        )
    return value + " "


def detect_currency(columns: Iterable[str], money: Iterable[str] = ()) -> str | None:
    """The currency the data's amounts are in, from the money columns' names (``Price (EUR)``,
    ``amount_usd``, ``Annual Income (k$)``), or None when nothing says; two different
    currencies also give None. ``money`` are columns known to hold amounts whatever their
    names (the price or amount of invoice lines: ``Betrag (EUR)``). (Symbols written in the
    values are found by :func:`custseg.schema.currency_in_values`.)

    Examples
    --------
    >>> detect_currency(["CustomerID", "Annual Income (k$)"]), detect_currency(["price_eur"])
    ('$', '€')
    >>> detect_currency(["Price"])
    >>> detect_currency([], money=["Betrag (EUR)"])
    '€'
    """
    found: set[str] = set()
    known = set(money)
    for column in [*columns, *known]:
        if column not in known and feature_unit(column) != "money":
            continue
        for token in re.findall(CURRENCY_CHARACTERS + r"|[a-z]+", str(column).lower()):
            symbol = CURRENCY_SYMBOLS.get(token)
            if symbol and (len(token) == 1 or token in ISO_CODES):
                found.add(symbol)
    return found.pop() if len(found) == 1 else None


def format_value(value: Any, unit: str, *, currency: str | None = None) -> str:
    """A value in its unit, rounded for reading: money with its currency and no cents above
    100, shares as percentages, days and counts as whole numbers when they are whole.

    Examples
    --------
    >>> format_value(12.345, "money", currency="€"), format_value(1.0, "count")
    ('€12.35', '1')
    >>> format_value(37.5, "days"), format_value(0.25, "share"), format_value(None, "money")
    ('38', '25.0%', '–')
    """
    if value is None or isinstance(value, str):
        return "–" if value is None else value
    try:
        f = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(f):
        return "–"
    if unit == "share":
        pct = 100 * f
        if 0 < abs(pct) < 0.05:
            return "<0.1%"
        return f"{pct:.1f}%"
    if unit == "percent":
        return f"{f:.1f}%"
    if unit == "year":
        return plain_number(f, grouping=False)
    if unit == "money":
        if round(f, 2) == 0:
            f = 0.0  # -0.004 is "0", not "-0.00"
        sign = "-" if f < 0 else ""
        body = f"{abs(f):,.0f}" if abs(f) >= 100 or f == round(f) else f"{abs(f):,.2f}"
        return f"{sign}{currency or ''}{body}"
    if unit == "days":
        return f"{f:,.0f}" if f == round(f) or abs(f) >= 10 else f"{f:,.1f}"
    return plain_number(f)


def plain_number(f: float, grouping: bool = True) -> str:
    """A number rounded for reading: whole numbers stay whole, larger numbers get fewer
    decimals, small ones three significant digits.

    Examples
    --------
    >>> [plain_number(v) for v in (2195.1, 360.98, 20.0, 12.345, 1.2345, 0.0024, -3.5)]
    ['2,195', '361', '20', '12.3', '1.23', '0.0024', '-3.50']
    """
    if math.isinf(f):
        return "∞" if f > 0 else "-∞"
    sep = "," if grouping else ""
    if f == round(f) or abs(f) >= 100:
        return f"{f:{sep}.0f}"
    if abs(f) >= 10:
        return f"{f:{sep}.1f}"
    if abs(f) >= 1:
        return f"{f:.2f}"
    return f"{f:.3g}"


def format_feature(name: Any, value: Any, currency: str = "") -> str:
    """A value of a feature in the feature's unit: :func:`format_value` with
    :func:`feature_unit` and the currency (none for a column whose name gives its unit);
    text stays as it is.

    Examples
    --------
    >>> format_feature("revenue", 2951.4, "£"), format_feature("Annual Income (k$)", 40.0, "$")
    ('£2,951', '40')
    """
    if isinstance(value, str):
        return value
    return format_value(value, feature_unit(name), currency=column_currency(name, currency))


def load_labels(path: str | Path) -> dict[str, str]:
    """Read the user's labels: a CSV with two columns (column name, label; a header row
    ``column,label`` is allowed; comma, semicolon or tab between them) or a JSON object
    ``{"column": "label"}``.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = Path(d, "labels.csv")
    ...     _ = p.write_text("column,label\\nMntWines,Wine spend\\n")
    ...     load_labels(p)
    {'MntWines': 'Wine spend'}
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InputError(
            f"cannot read the labels file '{file}' ({exc.strerror or exc}); give a CSV with "
            "two columns (column,label) or a JSON object."
        ) from None
    except UnicodeDecodeError:
        raise InputError(f"the labels file '{file}' is not UTF-8 text; save it as UTF-8.") from None
    if file.suffix.lower() == ".json" or text.lstrip().startswith("{"):
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(
                f"the labels file '{file}' is not valid JSON (line {exc.lineno}): {exc.msg}."
            ) from None
        if not isinstance(raw, dict) or not all(isinstance(v, str) for v in raw.values()):
            raise InputError(
                f"the labels file '{file}' must be one JSON object of column -> label text."
            )
        return {str(k): v.strip() for k, v in raw.items() if v.strip()}
    import csv

    out: dict[str, str] = {}
    # Excel writes ";" (or a tab) where the decimal separator is a comma.
    first = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = max((",", ";", "\t"), key=first.count) if first else ","
    for i, row in enumerate(csv.reader(text.splitlines(), delimiter=delimiter), start=1):
        if not row or not any(cell.strip() for cell in row):
            continue
        if len(row) != 2:
            raise InputError(
                f"the labels file '{file}', line {i}, has {len(row)} fields; each line is "
                "column,label (quote a label that contains a comma)."
            )
        column, label = row[0].strip(), row[1].strip()
        if i == 1 and column.lower() == "column" and label.lower() == "label":
            continue
        if column and label:
            out[column] = label
    return out
