"""Audiences: one CSV per segment, in the layout mailing tools import.

Each file lists the segment's customers with ``Customer ID``, ``Segment``, ``Segment Name``
and ``Action``, then, only when asked for by name, contact columns read from the input file
(joined by customer id). Contact columns with a known name get the header that Mailchimp and
Klaviyo map on import (:data:`CONTACT_HEADERS`): ``email`` -> ``Email Address``, ``phone`` ->
``Phone Number``, ... Text a spreadsheet would read as a formula is neutralized, as in every
custseg CSV. docs/audiences.md is the user guide.

Examples
--------
>>> written = write_audiences("out/", "campaigns/", contact_cols=["email"])  # doctest: +SKIP
>>> sorted(written.files)  # doctest: +SKIP
['segment-0-Champions.csv', 'segment-1-At-risk.csv', ...]
"""

from __future__ import annotations

import io
import json
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from custseg.errors import InputError

AUDIENCE_COLUMNS = ("Customer ID", "Segment", "Segment Name", "Action")
"""The columns every audience file starts with."""

CONTACT_HEADERS: dict[str, str] = {
    **dict.fromkeys(("email", "emailaddress", "mail", "emailid"), "Email Address"),
    **dict.fromkeys(
        (
            "phone",
            "phonenumber",
            "mobile",
            "mobilephone",
            "mobilenumber",
            "cell",
            "cellphone",
            "telephone",
            "tel",
            "sms",
        ),
        "Phone Number",
    ),
    **dict.fromkeys(("firstname", "givenname", "forename"), "First Name"),
    **dict.fromkeys(("lastname", "surname", "familyname"), "Last Name"),
}
"""Contact column names (lower case, letters and digits only) -> the header mailing tools
map on import (Mailchimp: Email Address, First Name, Last Name, Phone Number; Klaviyo reads
the same). Other contact columns keep their own name."""

PERSONAL_NAMES = frozenset(
    {
        "name", "fullname", "customername", "clientname", "contactname", "membername",
        "address", "street", "streetaddress", "postcode", "postalcode", "zip", "zipcode",
    }
)  # fmt: skip
"""More column names (normalized) that hold personal data: names and postal addresses."""


def is_contact_column(column: str) -> bool:
    """Whether a column's name says it holds contact data (e-mail, phone, names, address),
    which the output folder leaves out.

    Examples
    --------
    >>> is_contact_column("E-mail"), is_contact_column("Full Name"), is_contact_column("Region")
    (True, True, False)
    """
    norm = re.sub(r"[^a-z0-9]", "", column.lower())
    return norm in CONTACT_HEADERS or norm in PERSONAL_NAMES


_PHONE = re.compile(r"^\+?[0-9][0-9 ().\-/]*$")
_AUDIENCE_FILE = re.compile(r"^(segment-\d+(-[A-Za-z0-9-]+)?|no-segment)\.csv$")


def audience_file_name(segment: int, name: object) -> str:
    """``segment-0-Best-buyers.csv``: the file of a segment's audience. Only ASCII letters,
    digits and dashes from its name (accents dropped), at most 40 of them, so that the name
    is valid on Windows, macOS and Linux; the number keeps two segments apart.

    Examples
    --------
    >>> audience_file_name(0, "Best *buyers*!"), audience_file_name(2, "Clients fidèles")
    ('segment-0-Best-buyers.csv', 'segment-2-Clients-fideles.csv')
    >>> audience_file_name(-1, "Outliers"), audience_file_name(3, "???")
    ('no-segment.csv', 'segment-3.csv')
    """
    ascii_name = unicodedata.normalize("NFKD", str(name)).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^A-Za-z0-9]+", "-", ascii_name).strip("-")[:40].strip("-")
    if segment < 0:
        return "no-segment.csv"
    return f"segment-{segment}-{slug}.csv" if slug else f"segment-{segment}.csv"


def contact_header(column: str) -> str:
    """The header a contact column is written under (see :data:`CONTACT_HEADERS`).

    Examples
    --------
    >>> contact_header("E-mail"), contact_header("mobile_phone"), contact_header("Loyalty card")
    ('Email Address', 'Phone Number', 'Loyalty card')
    """
    return CONTACT_HEADERS.get(re.sub(r"[^a-z0-9]", "", column.lower()), column)


def phone_number(value: object) -> object:
    """A phone number written with spaces, dots, dashes or brackets, as digits only (a
    leading ``+`` kept): the form mailing tools import (E.164 when the country code is
    there), and ``+44...`` is then a number, not text a spreadsheet would run. Anything else
    is left as it is.

    Examples
    --------
    >>> phone_number("+44 (0)20 7946-0958"), phone_number("n/a"), phone_number(None)
    ('+4402079460958', 'n/a', None)
    """
    if not isinstance(value, str) or not _PHONE.match(value.strip()):
        return value
    text = value.strip()
    return ("+" if text.startswith("+") else "") + re.sub(r"[^0-9]", "", text)


@dataclass
class Audiences:
    """What :func:`write_audiences` wrote.

    Attributes
    ----------
    directory : Path
        The folder of audience files.
    files : dict of str to int
        File name -> customers in it.
    notes : list of str
        What the user should know about the contact columns (customers without a value,
        customers with several).
    """

    directory: Path
    files: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def read_output(folder: str | Path) -> pd.DataFrame:
    """The customers of a custseg output folder: ``customer_id``, ``segment``,
    ``segment_name`` and the segment's ``action`` (from ``profiles.csv``).

    Raises
    ------
    InputError
        If ``folder`` is not a custseg output folder.
    """
    from custseg.export import unneutralize_column

    path = Path(folder)
    needed = ("segments.csv", "profiles.csv", "metrics.json")
    if not path.is_dir() or any(not (path / name).is_file() for name in needed):
        what = "is not a folder" if not path.is_dir() else "is not a custseg output folder"
        lacks = [name for name in needed if not (path / name).is_file()] if path.is_dir() else []
        raise InputError(
            f"'{path}' {what}{' (it lacks ' + ', '.join(lacks) + ')' if lacks else ''}. "
            "Pass the folder written by 'custseg segment INPUT --out FOLDER'."
        )

    def read(name: str, columns: list[str]) -> pd.DataFrame:
        try:
            frame = pd.read_csv(
                path / name,
                dtype=str,
                keep_default_na=False,
                na_values=[""],
                usecols=lambda c: c in columns,
            )
        except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
            raise InputError(
                f"'{path / name}' cannot be read as a custseg table ({exc}). "
                "Re-run 'custseg segment'."
            ) from None
        missing = [c for c in columns if c not in frame]
        if missing:
            raise InputError(
                f"'{path / name}' lacks the column '{missing[0]}': it is not a custseg output "
                "folder, or it was edited. Re-run 'custseg segment'."
            )
        return frame.apply(unneutralize_column)

    segments = read("segments.csv", ["customer_id", "segment", "segment_name"])
    profiles = read("profiles.csv", ["segment", "action"])
    actions = dict(zip(profiles["segment"], profiles["action"], strict=True))
    segments["action"] = segments["segment"].map(actions)
    segments["segment"] = segments["segment"].astype(np.int64)
    return segments


def read_contacts(
    source: str | Path,
    columns: list[str],
    *,
    customer_col: str,
    sheet: str | None = None,
) -> tuple[pd.DataFrame, list[str]]:
    """The contact ``columns`` of each customer in ``source``, with notes.

    ``source`` may hold one row per customer or many (invoice lines): each customer gets the
    last non-empty value of each column, in file order. Ids are cleaned as for segmenting
    (``17850.0`` is ``17850``), so that they match ``segments.csv``.

    Returns
    -------
    (DataFrame, list of str)
        ``customer_id`` and one column per contact column; notes on customers with more than
        one value.

    Raises
    ------
    InputError
        If the file cannot be read, or lacks the customer id column or a contact column (the
        message lists the columns it has).
    """
    from custseg.engines.duckdb import DuckDBEngine
    from custseg.io.readers import load_source
    from custseg.schema import column_type, id_expr, text_expr

    with DuckDBEngine() as engine:
        info = load_source(engine, source, sheet=sheet)
        shown = info.path or str(source)
        where = f"File '{shown}'"
        found = ", ".join(info.columns)
        for name in [customer_col, *columns]:
            if name not in info.columns:
                hint = (
                    "Name the customer id column with --customer-col."
                    if name == customer_col
                    else "Name contact columns as they are written there, with --contact-cols."
                )
                raise InputError(f"{where} has no column '{name}'. Columns there: {found}. {hint}")
        cid = id_expr(customer_col, column_type(engine, customer_col))
        picked = ", ".join(f"{text_expr(c)} AS c{i}" for i, c in enumerate(columns))
        last = ", ".join(
            f"arg_max(c{i}, _row) FILTER (WHERE c{i} IS NOT NULL) AS c{i}, "
            f"count(DISTINCT c{i}) AS n{i}"
            for i in range(len(columns))
        )
        frame = engine.run(
            f"SELECT customer_id, {last} FROM (SELECT {cid} AS customer_id, {picked}, _row "
            f"FROM raw) WHERE customer_id IS NOT NULL GROUP BY customer_id"
        )
    notes = []
    for i, name in enumerate(columns):
        several = int((frame[f"n{i}"] > 1).sum())
        if several:
            notes.append(
                f"{several:,} customer(s) have more than one '{name}' in '{shown}'; "
                "the last one in the file is used."
            )
    out = frame[["customer_id"]].astype(str).copy()
    for i, name in enumerate(columns):
        out[name] = frame[f"c{i}"].astype(object).where(frame[f"c{i}"].notna(), None)
    return out, notes


def audience_tables(
    customers: pd.DataFrame, contacts: pd.DataFrame | None = None
) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """One table per segment (file name -> table), in :data:`AUDIENCE_COLUMNS` then the
    contact columns under their mailing-tool headers; and notes on missing contacts.

    Parameters
    ----------
    customers : DataFrame
        ``customer_id``, ``segment``, ``segment_name``, ``action`` (:func:`read_output`).
    contacts : DataFrame, optional
        ``customer_id`` and the contact columns (:func:`read_contacts`).

    Examples
    --------
    >>> customers = pd.DataFrame({"customer_id": ["1", "2"], "segment": [0, 1],
    ...     "segment_name": ["Champions", "At risk"], "action": ["Reward", "Win back"]})
    >>> tables, _ = audience_tables(customers)
    >>> list(tables), tables["segment-1-At-risk.csv"].columns.tolist()
    (['segment-0-Champions.csv', 'segment-1-At-risk.csv'], ['Customer ID', 'Segment', 'Segment Name', 'Action'])
    """
    table = pd.DataFrame(
        {
            "Customer ID": customers["customer_id"].astype(str).to_numpy(),
            "Segment": customers["segment"].astype(np.int64).to_numpy(),
            "Segment Name": customers["segment_name"].astype(object).to_numpy(),
            "Action": customers["action"].astype(object).to_numpy(),
        }
    )
    notes: list[str] = []
    if contacts is not None:
        joined = contacts.set_index("customer_id").reindex(table["Customer ID"])
        taken = set(AUDIENCE_COLUMNS)
        for name in [c for c in contacts.columns if c != "customer_id"]:
            header = contact_header(name)
            if header in taken:
                header = name if name not in taken else f"{name} (input)"
            taken.add(header)
            values = joined[name].reset_index(drop=True)
            if header == "Phone Number":
                values = values.map(phone_number)
            table[header] = values.astype(object).where(values.notna(), None).to_numpy()
            empty = int(values.isna().sum())
            if empty:
                notes.append(
                    f"{empty:,} of {len(table):,} customers have no '{name}' in the input; "
                    "their cells are empty."
                )
    tables = {}
    order = sorted(table["Segment"].unique().tolist(), key=lambda s: (s < 0, s))
    for segment in order:
        rows = table[table["Segment"] == segment].reset_index(drop=True)
        tables[audience_file_name(int(segment), rows["Segment Name"].iloc[0])] = rows
    return tables, notes


def audience_csv(table: pd.DataFrame) -> bytes:
    """One audience table as CSV bytes (UTF-8, comma, ``\\n``), formula-like text neutralized.

    Examples
    --------
    >>> audience_csv(pd.DataFrame({"Customer ID": ["=1"], "Segment": [0]}))
    b"Customer ID,Segment\\n'=1,0\\n"
    """
    from custseg.export import safe_frame

    return safe_frame(table).to_csv(index=False, lineterminator="\n").encode("utf-8")


def customers_of(result: Any) -> pd.DataFrame:
    """The customers of a :class:`custseg.SegmentationResult` (its names, as renamed), as
    :func:`read_output` reads them from its folder."""
    profiles = result.profiles
    actions = dict(zip(profiles["segment"].astype(int), profiles["action"], strict=True))
    segments = result.segments
    return pd.DataFrame(
        {
            "customer_id": segments["customer_id"].astype(str).to_numpy(),
            "segment": segments["segment"].astype(np.int64).to_numpy(),
            "segment_name": segments["segment_name"].astype(object).to_numpy(),
            "action": segments["segment"].astype(int).map(actions).astype(object).to_numpy(),
        }
    )


def audiences_zip(customers: pd.DataFrame, contacts: pd.DataFrame | None = None) -> bytes:
    """Every audience file (see :func:`audience_tables`) in one zip, as the app offers them.

    Examples
    --------
    >>> customers = pd.DataFrame({"customer_id": ["1"], "segment": [0],
    ...     "segment_name": ["Champions"], "action": ["Reward"]})
    >>> zipfile.ZipFile(io.BytesIO(audiences_zip(customers))).namelist()
    ['segment-0-Champions.csv']
    """
    tables, _ = audience_tables(customers, contacts)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, table in tables.items():
            bundle.writestr(name, audience_csv(table))
    return archive.getvalue()


def _check_target(target: Path) -> None:
    """Refuse a file, or a folder that holds anything but earlier audience files."""
    if target.exists() and not target.is_dir():
        raise InputError(f"--audiences '{target}' is a file. Pass a folder name.")
    if target.is_dir():
        others = sorted(p.name for p in target.iterdir() if not _AUDIENCE_FILE.match(p.name))
        if others:
            raise InputError(
                f"Folder '{target}' already holds other files ({', '.join(others[:3])}"
                f"{', ...' if len(others) > 3 else ''}). Choose a new folder for the audiences, "
                "or empty this one."
            )


def write_audiences(
    output: str | Path,
    directory: str | Path,
    *,
    contact_cols: list[str] | None = None,
    input: str | Path | None = None,
    customer_col: str | None = None,
    sheet: str | None = None,
) -> Audiences:
    """Write one CSV per segment of a custseg output folder into ``directory``, atomically.

    Parameters
    ----------
    output : str or Path
        A folder written by ``custseg segment --out``.
    directory : str or Path
        Where the audience files go. A folder of earlier audience files is replaced; a folder
        holding anything else is refused.
    contact_cols : list of str, optional
        Columns of the input to add (``email``, ``phone``, ...). None: no contact data is
        read or written.
    input : str or Path, optional
        The file to read them from, joined by customer id; by default the file the output
        folder was segmented from (``metrics.json`` ``source.path``).
    customer_col : str, optional
        Customer id column of ``input``; by default the one the segmentation used.
    sheet : str, optional
        Excel sheet of ``input``.

    Returns
    -------
    Audiences

    Raises
    ------
    InputError
        ``output`` is not a custseg output folder, a contact column or the id column is not
        in the input, or ``directory`` cannot be written.

    Examples
    --------
    >>> write_audiences("out/", "campaigns/", contact_cols=["email"])  # doctest: +SKIP
    """
    customers = read_output(output)
    contacts = None
    notes: list[str] = []
    if not contact_cols and input is not None:
        raise InputError(
            "--input is read for contact columns only: name them with --contact-cols "
            "(e.g. --contact-cols email,phone), or leave --input out."
        )
    if contact_cols:
        metrics = json.loads((Path(output) / "metrics.json").read_text(encoding="utf-8"))
        source = input if input is not None else (metrics.get("source") or {}).get("path")
        if source is None or (input is None and not Path(str(source)).is_file()):
            shown = f" ('{source}' is not a file here)" if source else ""
            raise InputError(
                f"The file that was segmented is not known{shown}. Pass the file with the "
                "contact columns with --input FILE."
            )
        if input is None and sheet is None:
            sheet = (metrics.get("source") or {}).get("sheet")
        id_col = customer_col or ((metrics.get("schema") or {}).get("roles") or {}).get(
            "customer_id"
        )
        if not id_col:
            raise InputError("Name the customer id column of the input with --customer-col.")
        contacts, notes = read_contacts(
            source, list(contact_cols), customer_col=str(id_col), sheet=sheet
        )
    tables, missing = audience_tables(customers, contacts)
    target = Path(directory).absolute()
    _check_target(target)
    from custseg.export import write_folder_atomically

    def write(folder: Path) -> None:
        for name, table in tables.items():
            (folder / name).write_bytes(audience_csv(table))

    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        write_folder_atomically(target, write)
    except OSError as exc:
        raise InputError(
            f"Cannot write the audiences to '{target}' ({exc.strerror or exc}). Choose a "
            "folder you may write to with --audiences."
        ) from None
    return Audiences(
        directory=target,
        files={name: len(table) for name, table in tables.items()},
        notes=[*notes, *missing],
    )
