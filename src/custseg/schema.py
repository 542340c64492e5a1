"""Column roles: which column is the customer id, the invoice, the date, and so on.

Roles are found from column names (case, spaces and punctuation ignored) through the alias
table :data:`ROLE_ALIASES`, then checked against the values. Flags such as ``--customer-col``
override any detection. The result says whether the table holds transactions (invoice lines,
several per customer) or customers (one row per customer).

This module also turns text into typed values (numbers, dates, ids) in SQL, with errors that
name the column, the rows and an example of the bad value.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from custseg.engines.duckdb import DuckDBEngine, quote_ident, sql_literal
from custseg.errors import InputError, show_rows
from custseg.labels import CURRENCY_CHARACTERS

#: Column names that each role is recognised by, after lower-casing and removing everything
#: but letters and digits. Earlier names win when a table has several.
ROLE_ALIASES: dict[str, tuple[str, ...]] = {
    "customer_id": (
        "customerid",
        "customer",
        "custid",
        "customerno",
        "customernumber",
        "customercode",
        "clientid",
        "client",
        "userid",
        "memberid",
        "accountid",
        "buyerid",
        "shopperid",
        "id",
        "kundennummer",
        "kundennr",
        "kundenid",
        "numeroclient",
        "idclient",
        "idcliente",
    ),
    "invoice": (
        "invoiceno",
        "invoice",
        "invoiceid",
        "invoicenumber",
        "orderid",
        "order",
        "orderno",
        "ordernumber",
        "transactionid",
        "transaction",
        "receiptid",
        "receipt",
        "basketid",
        "billno",
        "rechnungsnummer",
        "rechnungsnr",
        "rechnung",
        "bestellnummer",
        "bestellnr",
        "belegnr",
        "numerofacture",
        "facture",
        "numerocommande",
        "factura",
        "numerofactura",
        "pedido",
    ),
    "date": (
        "invoicedate",
        "orderdate",
        "transactiondate",
        "purchasedate",
        "saledate",
        "date",
        "datetime",
        "timestamp",
        "orderdatetime",
        "time",
        "createdat",
        "orderedat",
        "purchasedat",
        "rechnungsdatum",
        "bestelldatum",
        "belegdatum",
        "datum",
        "datefacture",
        "datecommande",
        "fechafactura",
        "fecha",
    ),
    "quantity": (
        "quantity",
        "qty",
        "units",
        "quantityordered",
        "nitems",
        "numberofitems",
        "items",
        "count",
        "lineitemquantity",
        "menge",
        "anzahl",
        "quantite",
        "cantidad",
    ),
    "price": (
        "unitprice",
        "price",
        "itemprice",
        "priceeach",
        "unitcost",
        "priceperunit",
        "lineitemprice",
        "einzelpreis",
        "preis",
        "stueckpreis",
        "prixunitaire",
        "prix",
        "preciounitario",
        "precio",
    ),
    "amount": (
        "amount",
        "lineamount",
        "linetotal",
        "totalprice",
        "totalamount",
        "total",
        "sales",
        "revenue",
        "value",
        "netamount",
        "spend",
        "betrag",
        "umsatz",
        "summe",
        "nettobetrag",
        "bruttobetrag",
        "gesamtbetrag",
        "montant",
        "importe",
    ),
    "product": (
        "stockcode",
        "productid",
        "productcode",
        "product",
        "sku",
        "itemid",
        "itemcode",
        "articleid",
        "lineitemsku",
        "artikelnummer",
        "artikelnr",
        "artikel",
        "codeproduit",
        "referencia",
    ),
    "description": (
        "description",
        "productname",
        "itemname",
        "itemdescription",
        "productdescription",
        "lineitemname",
        "artikelbezeichnung",
        "bezeichnung",
        "produktname",
        "designation",
        "descripcion",
    ),
    "country": (
        "country",
        "countryname",
        "region",
        "market",
        "billingcountry",
        "shippingcountry",
        "land",
        "pays",
        "pais",
    ),
}

#: Fallback for the customer id: a party word followed by an id word (normalized names).
CUSTOMER_ID_PATTERN = (
    r"(customer|cust|client|member|user|account|buyer|shopper|consumer)"
    r"(id|no|nr|num|number|ref|reference|code|key)"
)

#: Column names (normalized) taken as the customer id when no column is named like one: the
#: e-mail address is how shop exports such as Shopify's orders export tell customers apart.
EMAIL_ID_NAMES = ("email", "emailaddress", "customeremail", "buyeremail")

#: Roles a transactions table must have (``price`` or ``amount`` as well).
REQUIRED_TRANSACTION_ROLES = ("customer_id", "date")

#: Date formats tried on text dates. Within each group of formats that differ only in the
#: order of day and month, the first one wins when both read every value: month-first for
#: slashes (US exports such as ``12/1/2010 8:26``), day-first for dashes and dots (European
#: exports such as ``04-09-2012``). A warning says so, and ``--date-format`` overrides it.
DATE_FORMATS: tuple[str, ...] = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M:%S.%f",
    "%Y-%m-%dT%H:%M:%S.%f",
    "%Y-%m-%dT%H:%M:%SZ",
    "%Y-%m-%dT%H:%M:%S.%fZ",
    "%Y-%m-%d %H:%M:%S %z",
    "%Y-%m-%dT%H:%M:%S%z",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y",
    "%m/%d/%y %H:%M",
    "%m/%d/%y",
    "%d/%m/%y %H:%M",
    "%d/%m/%y",
    "%d-%m-%Y %H:%M:%S",
    "%d-%m-%Y %H:%M",
    "%d-%m-%Y",
    "%m-%d-%Y %H:%M:%S",
    "%m-%d-%Y %H:%M",
    "%m-%d-%Y",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y",
    "%d-%b-%Y %H:%M",
    "%d-%b-%Y",
    "%d-%b-%y",
    "%d %b %Y",
    "%d %B %Y",
    "%b %d, %Y",
    "%B %d, %Y",
    "%Y%m%d",
)
#: Dates outside this range are reported as implausible.
PLAUSIBLE_YEARS = (1970, 2100)
#: Excel date serials: days since 1899-12-30, the fraction being the time of day (``45000.5``
#: is 2023-03-15 12:00). A cell shows one when it lost its date format in Excel. A text date
#: column reads them as dates when they have five digits before the point, from 25,569
#: (1970-01-01) to 73,050 (2099-12-31): among other dates, or (for the date column the table
#: needs) as every value. Numbers outside that range are not taken for dates.
EXCEL_SERIAL_DAYS = (25_569, 73_050)
EXCEL_SERIAL_EPOCH = "1899-12-30"
#: The date format that names Excel serials; ``'%d/%m/%Y or Excel serial'`` reads both.
EXCEL_SERIAL = "Excel serial"
_OR_SERIAL = " or " + EXCEL_SERIAL

NUMERIC_TYPES = (
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "FLOAT",
    "DOUBLE",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
)
#: The whole-number types among :data:`NUMERIC_TYPES` (their text is their digits).
INTEGER_TYPES = tuple(t for t in NUMERIC_TYPES if t not in ("FLOAT", "DOUBLE"))
OVERRIDE_FLAGS = {
    "customer_id": "--customer-col",
    "invoice": "--invoice-col",
    "date": "--date-col",
    "quantity": "--quantity-col",
    "price": "--price-col",
    "amount": "--amount-col",
    "product": "--product-col",
    "description": "--description-col",
    "country": "--country-col",
}


def normalize_name(name: str) -> str:
    """Lower-case a column name and keep only letters and digits.

    Examples
    --------
    >>> normalize_name("Customer ID")
    'customerid'
    >>> normalize_name("Annual Income (k$)")
    'annualincomek'
    """
    return re.sub(r"[^0-9a-z]", "", name.lower())


@dataclass
class Schema:
    """Detected column roles and the kind of table."""

    kind: str
    roles: dict[str, str]
    kind_reason: str
    date_format: str | None = None
    warnings: list[str] = field(default_factory=list)
    currency: str | None = None
    """The currency symbol written in the price or amount values (``£2.55``), when one is."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        return {
            "kind": self.kind,
            "roles": dict(self.roles),
            "kind_reason": self.kind_reason,
            "date_format": self.date_format,
            "currency": self.currency,
        }


def show_name(name: str) -> str:
    r"""A column name as messages show it: line breaks, tabs and other control characters
    escaped (``\n``), so that a message stays one line.

    Examples
    --------
    >>> show_name("Customer\nID")
    'Customer\\nID'
    """
    if name.isprintable():
        return name
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in name)


def show_names(columns: list[str]) -> str:
    """Column names for a message: ``a, b, c``, each shown by :func:`show_name`."""
    return ", ".join(show_name(c) for c in columns)


#: The two ways a line's amount is given: a unit price (times the quantity), or the amount.
REVENUE_ROLES = ("price", "amount")


def detect_roles(
    columns: list[str],
    overrides: dict[str, str] | None = None,
    preferred: dict[str, str] | None = None,
) -> dict[str, str]:
    """Map roles to columns from names, then apply user overrides.

    A price given by the user (``--price-col``) without an amount means the line amount is
    quantity x price, so no amount column is looked for (an order total such as Shopify's
    ``Total``, written on each order's first line only, would otherwise be taken), and an
    amount given without a price likewise. ``preferred`` (a model's roles, at scoring) are
    taken where the data has their columns, and decide the same way how the amount is made.

    Examples
    --------
    >>> detect_roles(["Invoice", "StockCode", "Quantity", "InvoiceDate", "Price", "Customer ID"])
    ... # doctest: +NORMALIZE_WHITESPACE
    {'customer_id': 'Customer ID', 'invoice': 'Invoice', 'date': 'InvoiceDate',
     'quantity': 'Quantity', 'price': 'Price', 'product': 'StockCode'}
    >>> detect_roles(["Email", "Total", "Lineitem price", "Created at"], {"price": "Lineitem price"})
    {'customer_id': 'Email', 'date': 'Created at', 'price': 'Lineitem price'}
    """
    overrides = {k: v for k, v in (overrides or {}).items() if v}
    # The model's own roles, where the data has their columns and the user said nothing (a
    # price or an amount the user gives decides how the line amount is made).
    user_revenue = any(r in overrides for r in REVENUE_ROLES)
    for role, col in (preferred or {}).items():
        if (
            role in ROLE_ALIASES
            and role not in overrides
            and col in columns
            and col not in overrides.values()
            and not (user_revenue and role in REVENUE_ROLES)
        ):
            overrides[role] = col
    for role, col in list(overrides.items()):
        if role not in ROLE_ALIASES:
            raise InputError(f"Unknown column role '{role}'. Roles: {', '.join(ROLE_ALIASES)}.")
        if col in columns:
            continue
        # Accept another spelling of an existing name when exactly one column matches it.
        near = [c for c in columns if normalize_name(c) == normalize_name(col)]
        if len(near) == 1 and normalize_name(col):
            overrides[role] = near[0]
            continue
        raise InputError(
            f"Column '{show_name(col)}' given to {OVERRIDE_FLAGS[role]} is not in the data. "
            f"Columns found: {show_names(columns)}."
        )
    given: dict[str, str] = {}
    for role, col in overrides.items():
        if col in given:
            raise InputError(
                f"Column '{show_name(col)}' is given to both {OVERRIDE_FLAGS[given[col]]} and "
                f"{OVERRIDE_FLAGS[role]}. Give each role its own column."
            )
        given[col] = role
    by_norm: dict[str, str] = {}
    for col in columns:
        by_norm.setdefault(normalize_name(col), col)
    # Units in brackets are not part of the name ('Betrag (EUR)' is an amount), but only when
    # no column is named for the role outright: 'Customer No' beats 'Customer (name)'.
    bare: dict[str, str] = {}
    for col in columns:
        bare.setdefault(normalize_name(re.sub(r"\(.*?\)|\[.*?\]", "", col)), col)
    taken = set(overrides.values())
    roles: dict[str, str] = {}
    # One of price and amount given (by the user or the model): the other is not looked for.
    given_revenue = [r for r in REVENUE_ROLES if r in overrides]
    for role, aliases in ROLE_ALIASES.items():
        if role in overrides:
            roles[role] = overrides[role]
            continue
        if role in REVENUE_ROLES and len(given_revenue) == 1:
            continue
        for names in (by_norm, bare):
            found = next((names[a] for a in aliases if a in names and names[a] not in taken), None)
            if found is not None:
                roles[role] = found
                taken.add(found)
                break
    if "customer_id" not in roles:
        # Names such as 'client_ref' or 'CustomerKey': one party word and one id word.
        candidates = [
            col
            for norm, col in by_norm.items()
            if col not in taken and re.fullmatch(CUSTOMER_ID_PATTERN, norm)
        ]
        if len(candidates) == 1:
            roles = {"customer_id": candidates[0], **roles}
    if "customer_id" not in roles and (email := _email_column(columns, taken)) is not None:
        # Shop exports (Shopify's orders export) know customers by their e-mail address only.
        roles = {"customer_id": email, **roles}
    return roles


def _email_column(columns: list[str], taken: Collection[str]) -> str | None:
    """The one column named like an e-mail address (:data:`EMAIL_ID_NAMES`) not taken yet."""
    emails = [c for c in columns if normalize_name(c) in EMAIL_ID_NAMES and c not in taken]
    return emails[0] if len(emails) == 1 else None


def prefer_email_id(
    engine: DuckDBEngine, roles: dict[str, str], columns: list[str], given: Collection[str]
) -> str | None:
    """Take the e-mail column as the customer id instead of a column named just ``id`` that
    is blank on some rows while the e-mail is not (Shopify's orders export: ``Id`` is the
    order's, written on its first line only). Returns the note that says so, or None.
    """
    col = roles.get("customer_id")
    if col is None or "customer_id" in given or normalize_name(col) != "id":
        return None
    email = _email_column(columns, set(roles.values()))
    if email is None:
        return None
    blank_id, blank_email = engine.sql(
        "SELECT "
        + ", ".join(
            f"count(*) FILTER (WHERE {quote_ident(c)} IS NULL OR "
            f"trim(CAST({quote_ident(c)} AS VARCHAR)) = '')"
            for c in (col, email)
        )
        + " FROM raw"
    ).fetchone() or (0, 0)
    if not blank_id or blank_email >= blank_id:
        return None
    roles["customer_id"] = email
    return (
        f"customers are told apart by '{email}', not '{col}': '{col}' is blank on "
        f"{blank_id:,} rows (an order's id?); pass --customer-col to choose"
    )


def add_date_role_from_values(
    engine: DuckDBEngine, roles: dict[str, str], columns: list[str], where: str
) -> None:
    """When no column is named like a date, take the one column whose values are all dates.

    Only done for tables that otherwise look like transactions (a customer id and a price or
    amount), so that a customer table's sign-up date is not mistaken for an order date.
    """
    if "date" in roles or "customer_id" not in roles or not ({"price", "amount"} & set(roles)):
        return
    taken = set(roles.values())
    found = []
    for col in columns:
        if col in taken:
            continue
        fmt, _ = detect_date_format(engine, col, where, required=False)
        if fmt != "":
            found.append(col)
    if len(found) == 1:
        roles["date"] = found[0]


def describe_roles(roles: dict[str, str]) -> str:
    """One line listing detected roles, for messages."""
    if not roles:
        return "none"
    return ", ".join(f"{role}={col!r}" for role, col in roles.items())


def detect_kind(
    engine: DuckDBEngine,
    roles: dict[str, str],
    columns: list[str],
    where: str,
    kind: str = "auto",
    *,
    id_counts: Callable[[], tuple[int, int]] | None = None,
) -> tuple[str, str]:
    """Decide whether the table holds transactions or one row per customer.

    Transactions need a customer id, a date, and a price or an amount, and customer ids that
    repeat. Anything else is read as a customer table. ``id_counts`` returns the rows with an
    id and the distinct ids when the table is not ``engine``'s ``raw`` (a database table).
    """
    has_tx_roles = all(r in roles for r in REQUIRED_TRANSACTION_ROLES) and (
        "price" in roles or "amount" in roles
    )
    if kind == "transactions":
        missing = [r for r in REQUIRED_TRANSACTION_ROLES if r not in roles]
        if "price" not in roles and "amount" not in roles:
            missing.append("price or amount")
        if missing:
            flags = ", ".join(OVERRIDE_FLAGS.get(m, "--price-col or --amount-col") for m in missing)
            raise InputError(
                f"{where} has no column for {', '.join(missing)}. Columns found: "
                f"{show_names(columns)}; roles detected: {describe_roles(roles)}. "
                f"Name the columns with {flags}."
            )
        return "transactions", "asked for with --kind transactions"
    if kind == "customers":
        return "customers", "asked for with --kind customers"
    if kind != "auto":
        raise InputError(f"Unknown kind '{kind}'. Use auto, transactions or customers.")
    if not has_tx_roles:
        found = [r for r in ("date", "price", "amount") if r in roles]
        return "customers", (
            "no transaction columns (a date and a price or amount) were found"
            if not found
            else f"only {', '.join(found)} of the transaction columns were found"
        )
    # Rows without an id do not count: they cannot make an id repeat. The id is cleaned once
    # per distinct stored value, not once per row.
    if id_counts is not None:
        n_rows, n_ids = id_counts()
        return _kind_from_counts(n_rows, n_ids)
    col = quote_ident(roles["customer_id"])
    row = engine.sql(
        f"SELECT sum(n) FILTER (WHERE id IS NOT NULL), count(DISTINCT id) FROM ("
        f"SELECT {id_expr(roles['customer_id'], 'VARCHAR')} AS id, n FROM "
        f"(SELECT {col}, count(*) AS n FROM raw GROUP BY {col}))"
    ).fetchone()
    n_rows, n_ids = (int(row[0] or 0), int(row[1] or 0)) if row else (0, 0)
    return _kind_from_counts(n_rows, n_ids)


def _kind_from_counts(n_rows: int, n_ids: int) -> tuple[str, str]:
    if n_ids >= n_rows:
        return "customers", "every customer id appears once, so each row is a customer"
    return "transactions", (
        f"it has a customer id, an order date and prices, and {n_rows:,} rows with a customer id "
        f"for {n_ids:,} customers"
    )


# ---------------------------------------------------------------- typing values in SQL


def column_type(engine: DuckDBEngine, column: str, table: str = "raw") -> str:
    """DuckDB type of one column."""
    for name, typ in engine.columns(table):
        if name == column:
            return typ
    raise KeyError(column)


def id_expr(column: str, typ: str) -> str:
    """SQL that turns an id column into clean text: trimmed, ``17850.0`` written as ``17850``.

    Ids stored as floating-point numbers (Parquet, DataFrames, Excel) are written as whole
    numbers when they are whole (``1e16`` becomes ``10000000000000000``, not ``1e+16``).
    Text ids keep their leading zeros (``00123`` stays ``00123``).
    """
    col = quote_ident(column)
    if typ in INTEGER_TYPES:
        # Whole numbers already read as their digits; no trimming or regular expression needed.
        return f"CAST({col} AS VARCHAR)"
    if typ in ("FLOAT", "DOUBLE"):
        return (
            f"CASE WHEN {col} IS NULL OR isnan({col}) THEN NULL "
            f"WHEN {col} = trunc({col}) AND abs({col}) < 1e18 "
            f"THEN CAST(CAST({col} AS BIGINT) AS VARCHAR) ELSE CAST({col} AS VARCHAR) END"
        )
    return f"NULLIF(regexp_replace(trim(CAST({col} AS VARCHAR)), '^([0-9]+)\\.0+$', '\\1'), '')"


def text_expr(column: str) -> str:
    """SQL for a trimmed text column with empty strings as missing."""
    col = quote_ident(column)
    return f"NULLIF(trim(CAST({col} AS VARCHAR)), '')"


#: Characters removed from numbers before parsing: currency symbols and spaces, including the
#: no-break spaces that French and Swiss exports put between thousands.
NUMBER_NOISE = "[£$€¥\\s\u00a0\u202f]"
#: ``1,234,567.89``: commas that group thousands (the first group has no leading zero).
THOUSANDS_COMMA = "^[+-]?[1-9][0-9]{0,2}(,[0-9]{3})+(\\.[0-9]+)?$"
#: ``1.234.567,89``: dots that group thousands, with a decimal comma.
THOUSANDS_DOT = "^[+-]?[1-9][0-9]{0,2}(\\.[0-9]{3})+(,[0-9]+)?$"


#: ``12%``, ``-3.5 %``: a number followed by a per cent sign.
PERCENT_VALUE = "^[+-]?[0-9.,]*[0-9][0-9.,]*[\\s\u00a0]*%$"


def _stripped(column: str, percent: bool = False) -> str:
    col = quote_ident(column)
    noise = NUMBER_NOISE[:-1] + "%]" if percent else NUMBER_NOISE
    return f"regexp_replace(trim(CAST({col} AS VARCHAR)), '{noise}', '', 'g')"


def percent_column(engine: DuckDBEngine, column: str) -> bool:
    """True when every value of a text column is a number followed by ``%`` (``12%``): the
    column is read as the numbers before the signs."""
    col = f"trim(CAST({quote_ident(column)} AS VARCHAR))"
    row = engine.sql(
        f"SELECT count(*), count(*) FILTER (WHERE regexp_matches(v, '{PERCENT_VALUE}')) "
        f"FROM (SELECT DISTINCT {col} AS v FROM raw WHERE {col} <> '')"
    ).fetchone() or (0, 0)
    return bool(row[0]) and row[0] == row[1]


def currency_in_values(engine: DuckDBEngine, column: str) -> list[str]:
    """The currency symbols written in a text column's values (``£2.55``), sorted; every
    distinct value is looked at (prices repeat, so this stays fast on large files).
    """
    col = quote_ident(column)
    rows = engine.sql(
        f"SELECT DISTINCT regexp_extract(v, '{CURRENCY_CHARACTERS}') FROM "
        f"(SELECT DISTINCT CAST({col} AS VARCHAR) AS v FROM raw) "
        f"WHERE regexp_matches(v, '{CURRENCY_CHARACTERS}')"
    ).fetchall()
    return sorted(str(r[0]) for r in rows if r[0])


def uses_decimal_comma(engine: DuckDBEngine, column: str, delimiter: str | None = None) -> bool:
    """True when a text column writes decimals with a comma (``2,55``, ``1.234,56``).

    A comma is a decimal comma when some value has a comma that cannot group thousands
    (``2,55``, ``0,5``) and no value has a dot that cannot (``2.55``). When every comma could
    group thousands (``1,234``), it is read as a decimal comma only in a semicolon-separated
    file, the convention of locales that write decimal commas.
    """
    s = _stripped(column, percent=True)
    row = engine.sql(
        f"SELECT "
        f"count(*) FILTER (WHERE regexp_matches({s}, '^[+-]?[0-9.]*,[0-9]+$') "
        f"AND NOT regexp_matches({s}, '{THOUSANDS_COMMA}')), "
        f"count(*) FILTER (WHERE regexp_matches({s}, '^[+-]?[0-9,]*\\.[0-9]+$') "
        f"AND NOT regexp_matches({s}, '{THOUSANDS_DOT}')), "
        f"count(*) FILTER (WHERE regexp_matches({s}, '{THOUSANDS_COMMA}')) "
        f"FROM (SELECT DISTINCT {quote_ident(column)} FROM raw)"
    ).fetchone() or (0, 0, 0)
    comma_only, dot_only, grouped = (int(x) for x in row)
    if comma_only:
        return dot_only == 0
    return grouped > 0 and dot_only == 0 and delimiter == "semicolon"


def number_expr(column: str, typ: str, decimal_comma: bool = False, percent: bool = False) -> str:
    """SQL that reads a number; currency symbols, spaces and thousands separators are removed
    (with ``percent``, per cent signs too: ``12%`` reads 12).

    A separator that is not where thousands are grouped makes the value unparseable (NULL,
    reported by :func:`check_parsed`) rather than silently a hundred times too large: with
    decimal dots ``2,55`` does not parse, with decimal commas ``2.55`` does not.
    """
    col = quote_ident(column)
    if typ in NUMERIC_TYPES or typ.startswith("DECIMAL"):
        return f"CAST({col} AS DOUBLE)"
    s = _stripped(column, percent)
    if decimal_comma:
        return (
            f"CASE WHEN contains({s}, '.') AND NOT regexp_matches({s}, '{THOUSANDS_DOT}') "
            f"THEN NULL ELSE TRY_CAST(replace(replace({s}, '.', ''), ',', '.') AS DOUBLE) END"
        )
    # Plain numbers (the common case) take the fast path.
    return (
        f"coalesce(TRY_CAST({col} AS DOUBLE), "
        f"CASE WHEN contains({s}, ',') AND NOT regexp_matches({s}, '{THOUSANDS_COMMA}') "
        f"THEN NULL ELSE TRY_CAST(replace({s}, ',', '') AS DOUBLE) END)"
    )


def is_serial(value: str) -> str:
    """SQL: true when the text ``value`` is an Excel date serial in :data:`EXCEL_SERIAL_DAYS`."""
    low, high = EXCEL_SERIAL_DAYS
    return (
        f"(regexp_full_match({value}, '[0-9]{{5}}(\\.[0-9]+)?') "
        f"AND TRY_CAST({value} AS DOUBLE) BETWEEN {low} AND {high + 1})"
    )


def serial_to_timestamp(value: str) -> str:
    """SQL: the timestamp of an Excel date serial written as text, to the second."""
    return (
        f"(TIMESTAMP '{EXCEL_SERIAL_EPOCH}' + "
        f"to_seconds(CAST(round(TRY_CAST({value} AS DOUBLE) * 86400) AS BIGINT)))"
    )


def _date_candidates(
    engine: DuckDBEngine, column: str, *, give_up: bool = False
) -> tuple[list[str], int, dict[str, int], int]:
    """Formats that read every distinct value (Excel serials left out when some values are
    not serials), the number of those values, each format's failures, and the number of
    distinct Excel serials."""
    col = quote_ident(column)
    engine.sql(
        f"CREATE OR REPLACE TEMP TABLE _dates AS SELECT DISTINCT trim(CAST({col} AS VARCHAR)) AS v "
        f"FROM raw WHERE {col} IS NOT NULL AND trim(CAST({col} AS VARCHAR)) <> ''"
    )
    n_distinct = int(engine.scalar("SELECT count(*) FROM _dates"))
    n_serial = int(engine.scalar(f"SELECT count(*) FROM _dates WHERE {is_serial('v')}"))
    if 0 < n_serial < n_distinct:
        # Serials among text dates: the format is found on the others.
        engine.sql(f"DELETE FROM _dates WHERE {is_serial('v')}")
        n_distinct -= n_serial

    def count_failures(formats: list[str], source: str) -> dict[str, int]:
        aggs = ", ".join(
            f"count(*) FILTER (WHERE try_strptime(v, {sql_literal(f)}) IS NULL)" for f in formats
        )
        fails = engine.sql(f"SELECT {aggs} FROM {source}").fetchone() or ()
        return dict(zip(formats, (int(x) for x in fails), strict=True))

    # Most formats fail on the first values already: try them all on a sample, then only the
    # survivors on every distinct value.
    failures = count_failures(list(DATE_FORMATS), "(SELECT v FROM _dates ORDER BY v LIMIT 2000)")
    survivors = [f for f in DATE_FORMATS if failures[f] == 0]
    if not survivors and give_up:
        # Only asked whether the column is dates at all: no format reads the first values.
        return [], n_distinct, failures, n_serial
    failures.update(count_failures(survivors or list(DATE_FORMATS), "_dates"))
    ok = [f for f in DATE_FORMATS if failures[f] == 0]
    return ok, n_distinct, failures, n_serial


def detect_date_format(
    engine: DuckDBEngine, column: str, where: str, *, required: bool = True
) -> tuple[str | None, list[str]]:
    """Find the one format that reads every value of a text date column.

    Returns the format (``None`` when the column is already typed as a date) and warnings.
    With ``required=False`` a column that is not dates returns ``("", [])`` instead of raising.
    """
    typ = column_type(engine, column)
    if typ.startswith(("TIMESTAMP", "DATE")):
        return None, []
    ok, n_distinct, failures, n_serial = _date_candidates(engine, column, give_up=not required)
    if n_distinct == 0:
        if not required:
            return "", []
        raise InputError(
            f"{where}: column '{column}' has no dates at all. Pass --date-col to name the date column."
        )
    serials = serial_note(engine, column) if n_serial else None
    if (
        serials
        and not ok
        and not engine.scalar(f"SELECT count(*) FROM _dates WHERE NOT {is_serial('v')}")
    ):
        if not required:  # a column of numbers is not taken for dates unasked
            return "", []
        return EXCEL_SERIAL, [serials]
    if ok:
        chosen = ok[0] + (_OR_SERIAL if serials else "")
        warnings = [serials] if serials else []
        swapped = chosen.replace("%d", "%D").replace("%m", "%d").replace("%D", "%m")
        if swapped != chosen and swapped in ok:
            sample = engine.scalar("SELECT v FROM _dates ORDER BY v LIMIT 1")
            order = "day-first" if chosen.index("%d") < chosen.index("%m") else "month-first"
            warnings.append(
                f"dates in '{column}' such as '{sample}' read either way; read as {order} "
                f"('{chosen}'). Pass --date-format '{swapped}' if that is wrong."
            )
        return chosen, warnings
    if not required:
        return "", []
    best = min(DATE_FORMATS, key=lambda f: failures[f])
    if failures[best] >= n_distinct:
        sample = engine.sql("SELECT v FROM _dates ORDER BY v LIMIT 3").fetchall()
        examples = ", ".join(repr(r[0]) for r in sample)
        if not engine.scalar("SELECT count(*) FROM _dates WHERE TRY_CAST(v AS DOUBLE) IS NULL"):
            low, high = EXCEL_SERIAL_DAYS
            raise InputError(
                f"{where}: column '{column}' holds numbers, not dates, e.g. {examples}. Excel "
                f"date serials (days since {EXCEL_SERIAL_EPOCH}) from {low} (1970-01-01) to "
                f"{high} (2099-12-31) are read as dates, and these are not. Pass --date-col to "
                "name the date column, or in Excel format this column as dates and export again."
            )
        raise InputError(
            f"{where}: column '{column}' has values that are not dates in any known format, "
            f"e.g. {examples}. Pass --date-col to pick another column, or --date-format "
            "(for example '%d/%m/%Y %H:%M') to say how dates are written."
        )
    col = quote_ident(column)
    value = f"trim(CAST({col} AS VARCHAR))"
    bad_cond = f"{col} IS NOT NULL AND {value} <> '' AND try_strptime({value}, {sql_literal(best)}) IS NULL"
    bad = engine.sql(f"SELECT _row FROM raw WHERE {bad_cond} ORDER BY _row LIMIT 5").fetchall()
    n_bad = int(engine.scalar(f"SELECT count(*) FROM raw WHERE {bad_cond}"))
    bad_examples = engine.sql(
        f"SELECT v FROM (SELECT {value} AS v, min(_row) AS r FROM raw WHERE {bad_cond} GROUP BY v) "
        "ORDER BY r LIMIT 3"
    ).fetchall()
    good = engine.scalar(
        f"SELECT {value} FROM raw WHERE try_strptime({value}, {sql_literal(best)}) IS NOT NULL "
        "ORDER BY _row LIMIT 1"
    )
    raise InputError(
        f"{where}: column '{column}' has {n_bad:,} value(s) that are not dates written like the "
        f"others ({good!r}, format '{best}') "
        f"({show_rows([int(r[0]) for r in bad], total=n_bad)}), e.g. "
        f"{', '.join(repr(r[0]) for r in bad_examples)}. Write every date the same way, or pass "
        "--date-format to say how dates are written."
    )


def serial_note(engine: DuckDBEngine, column: str) -> str | None:
    """A warning that a text date column holds Excel date serials (with their count, first row
    and an example read as a date), or None when it holds none."""
    col = quote_ident(column)
    value = f"trim(CAST({col} AS VARCHAR))"
    row = engine.sql(
        f"SELECT count(*), min(_row), arg_min({value}, _row) FROM raw "
        f"WHERE {col} IS NOT NULL AND {is_serial(value)}"
    ).fetchone()
    n, first_row, example = row if row else (0, None, None)
    if not n:
        return None
    as_date = engine.scalar(
        f"SELECT strftime({serial_to_timestamp(sql_literal(str(example)))}, '%Y-%m-%d %H:%M')"
    )
    return (
        f"column '{column}' has {n:,} Excel date serial(s) (days since {EXCEL_SERIAL_EPOCH}, "
        f"first at row {first_row}: {example!r} is {as_date}); they were read as dates. In "
        "Excel, format the column as dates before exporting to see them as dates."
    )


def with_serials(engine: DuckDBEngine, column: str, fmt: str) -> tuple[str, list[str]]:
    """A format given with ``--date-format`` that also reads the column's Excel date serials,
    when it has any (``strptime`` cannot describe them), and the warning that says so."""
    if fmt == EXCEL_SERIAL or fmt.endswith(_OR_SERIAL):
        return fmt, []
    note = serial_note(engine, column)
    return (fmt + _OR_SERIAL, [note]) if note else (fmt, [])


def date_expr(column: str, fmt: str | None) -> str:
    """SQL that reads a date column with a detected format.

    ``fmt`` is ``None`` for a column already typed as dates, :data:`EXCEL_SERIAL` for Excel
    date serials, or a ``strptime`` format, optionally followed by ``' or Excel serial'``.
    """
    col = quote_ident(column)
    if fmt is None:
        return f"CAST({col} AS TIMESTAMP)"
    value = f"trim(CAST({col} AS VARCHAR))"
    serials = fmt == EXCEL_SERIAL or fmt.endswith(_OR_SERIAL)
    text_fmt = None if fmt == EXCEL_SERIAL else fmt.removesuffix(_OR_SERIAL)
    if text_fmt is not None and text_fmt.endswith("%z"):
        # The time as written, in the shop's own time zone: the offset is dropped rather than
        # applied (converted to UTC, an evening order at -05:00 would move to the next day).
        value = f"regexp_replace({value}, '\\s*(Z|[+-][0-9]{{2}}:?[0-9]{{2}})$', '')"
        text_fmt = text_fmt.removesuffix("%z").rstrip()
    text = "NULL" if text_fmt is None else f"try_strptime({value}, {sql_literal(text_fmt)})"
    if not serials:
        return text
    return f"CASE WHEN {is_serial(value)} THEN {serial_to_timestamp(value)} ELSE {text} END"


def check_parsed(
    engine: DuckDBEngine, column: str, expr: str, what: str, hint: str, where: str
) -> None:
    """Raise if any present value of ``column`` does not parse, or parses to inf/NaN.

    Names the column, the rows and one example value.
    """
    col = quote_ident(column)
    present = f"{col} IS NOT NULL AND trim(CAST({col} AS VARCHAR)) <> ''"
    bad_cond = f"({expr}) IS NULL"
    kind = what
    if what == "numbers":
        bad_cond = f"({expr}) IS NULL OR isinf({expr}) OR isnan({expr})"
        kind = "numbers or are out of range"
    # Checking each distinct value once is much cheaper than each row; rows only for the message.
    n_distinct_bad = engine.scalar(
        f"SELECT count(*) FROM (SELECT DISTINCT {col} FROM raw) WHERE {present} AND ({bad_cond})"
    )
    if not n_distinct_bad:
        return
    bad = engine.sql(
        f"SELECT _row FROM raw WHERE {present} AND ({bad_cond}) ORDER BY _row LIMIT 5"
    ).fetchall()
    n_bad = int(engine.scalar(f"SELECT count(*) FROM raw WHERE {present} AND ({bad_cond})"))
    examples = engine.sql(
        f"SELECT v FROM (SELECT CAST({col} AS VARCHAR) AS v, min(_row) AS r FROM raw "
        f"WHERE {present} AND ({bad_cond}) GROUP BY v) ORDER BY r LIMIT 3"
    ).fetchall()
    shown = show_rows([int(r[0]) for r in bad], total=n_bad)
    raise InputError(
        f"{where}: column '{column}' has {n_bad:,} value(s) that are not {kind} "
        f"({shown}), e.g. {', '.join(repr(r[0]) for r in examples)}. {hint}"
    )
