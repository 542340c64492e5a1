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

#: Column-name patterns (on the lower-case name without separators) -> unit and direction,
#: first match wins. Directions: +1 higher is better for the business, -1 lower is better.
# fmt: off
COLUMN_KINDS: tuple[tuple[str, str, int], ...] = (
    (r"score|rating|rank|index", "number", 0),
    (r"rate$|ratio|share|percent|pct|proportion", "share", 0),
    (r"recency|dayssince|lastpurchase", "days", -1),
    (r"complain|churn|cancel|return", "number", -1),
    (r"^mnt|spend|spent|amount|revenue|sales|monetary|turnover|ltv|clv|lifetimevalue", "money", 1),
    (r"income|salary|wage|wealth|price|cost|fee|balance", "money", 0),
    (r"^accepted|^response$|responded|converted|subscribed", "number", 1),
    (r"^num.*(purchases|orders)|purchases$|orders$", "count", 1),
    (r"^num|visits|count|kid|teen|child", "count", 0),
    (r"year|^age$|age[^a-z]", "number", 0),
)
# fmt: on

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
#: ISO codes accepted by ``--currency`` besides the symbols themselves.
ISO_CODES = {"usd", "gbp", "eur", "jpy", "cny", "chf", "inr"}

_SPLIT_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_BRACKETS = re.compile(r"\s*[\(\[](.*?)[\)\]]\s*")


def _normalize(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", name.lower())


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
    """
    name = str(column).strip()
    if not name:
        return name
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
    text = " ".join(expanded)
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


def _kind(name: str) -> tuple[str, int] | None:
    if name in TRANSACTION_LABELS:
        _, unit, direction = TRANSACTION_LABELS[name]
        return unit, direction
    if name.lower().startswith("days_since_"):
        return "days", 0
    if name.lower().startswith("n_"):
        return "count", 0
    norm = _normalize(name)
    for pattern, unit, direction in COLUMN_KINDS:
        if re.search(pattern, norm):
            return unit, direction
    return None


def feature_unit(name: Any) -> str:
    """The unit of a feature: ``money``, ``days``, ``count``, ``share`` or ``number``.

    Examples
    --------
    >>> [feature_unit(c) for c in ("revenue", "return_rate", "MntWines", "NumWebPurchases",
    ...                             "Spending Score (1-100)", "Age")]
    ['money', 'share', 'money', 'count', 'number', 'number']
    """
    found = _kind(str(name))
    return found[0] if found else "number"


def feature_direction(name: Any) -> int:
    """+1 when more of the feature is better for the business, -1 when less is, 0 when
    neither (an age, a tenure, an income).

    Examples
    --------
    >>> [feature_direction(c) for c in ("revenue", "days_since_last_purchase", "Recency",
    ...                                 "Complain", "Income", "Age")]
    [1, -1, -1, -1, 0, 0]
    """
    found = _kind(str(name))
    return found[1] if found else 0


def value_columns(numeric: Iterable[str]) -> list[str]:
    """The spend-like columns of a customer table: money that is better when higher
    (``MntWines``, ``total_spend``, ``revenue``), not an income or a price; their sum is a
    customer's value.

    Examples
    --------
    >>> value_columns(["Income", "MntWines", "MntFruits", "Recency", "Spending Score (1-100)"])
    ['MntWines', 'MntFruits']
    """
    return [c for c in numeric if _kind(str(c)) == ("money", 1)]


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
        re.search(r"[$£€¥₹]", units)
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
            f"the currency '{text}' (currency, --currency) is not a symbol or code: give one "
            "such as USD, EUR, GBP, $ or kr (at most 5 letters), or none."
        )
    return value + " "


def detect_currency(columns: Iterable[str], values: Iterable[str] = ()) -> str | None:
    """The currency the data's amounts are in, from the money columns' names (``Price (EUR)``,
    ``amount_usd``, ``Annual Income (k$)``) or from text values seen in them (``£12.50``),
    or None when nothing says. Two different currencies also give None.

    Examples
    --------
    >>> detect_currency(["CustomerID", "Annual Income (k$)"]), detect_currency(["price_eur"])
    ('$', '€')
    >>> detect_currency(["Price"], ["£2.55", "£3.10"]), detect_currency(["Price"])
    ('£', None)
    """
    found: set[str] = set()
    for column in columns:
        name = str(column).lower()
        if feature_unit(column) != "money" and not re.search(r"price|cost|amount", name):
            continue
        for token in re.findall(r"[$£€¥₹]|[a-z]+", name):
            symbol = CURRENCY_SYMBOLS.get(token)
            if symbol and (len(token) == 1 or token in ISO_CODES):
                found.add(symbol)
    for value in values:
        for char in re.findall(r"[$£€¥₹]", str(value)):
            found.add(CURRENCY_SYMBOLS[char])
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
    if unit == "money":
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


def load_labels(path: str | Path) -> dict[str, str]:
    """Read the user's labels: a CSV with two columns (column name, label; a header row
    ``column,label`` is allowed) or a JSON object ``{"column": "label"}``.

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
    for i, row in enumerate(csv.reader(text.splitlines()), start=1):
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
