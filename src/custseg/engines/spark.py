"""Apache Spark as an engine: invoice lines too large for one machine, or already in a data lake.

Spark reads Parquet or CSV files, folders and globs (any URI the session can read: ``s3a://``,
``abfss://``, ``hdfs://``, local paths) or a table of its catalog. The cleaning rules and the
customer features of :mod:`custseg.engines.portable` are compiled to Spark SQL by Ibis and run
in Spark; only one row per customer (and the small cleaning and activity tables) comes back to
the driver, where selection, profiling, the report and the model work as they do for files.

The session:

- **Reused when one is running** (a Databricks notebook, a ``spark-submit`` driver that made
  its own): custseg then leaves it running, gives back the settings it changed (the session
  time zone) and drops the temporary views and caches it made.
- **Otherwise started quietly**: Java is checked first (PySpark 4 needs Java 17 or newer), a
  ``spark://`` master is tested for a few seconds before Spark would retry for over a minute,
  the JVM's start-up chatter goes to a temporary file (its last line is shown if the start
  fails), and the session is stopped again by :meth:`SparkEngine.close`.

Text read from CSV stays text (no schema inference, so ids keep their leading zeros); numbers
and dates in text must be plain and ISO (:mod:`custseg.engines.remote` checks them).

Examples
--------
>>> data_format("s3a://lake/orders/part-0001.snappy.parquet")
('parquet', None)
>>> data_format("orders.tsv.gz")
('csv', '\\t')
>>> data_format("README.md") is None
True
"""

from __future__ import annotations

import contextlib
import difflib
import logging
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from custseg.engines.base import Closing
from custseg.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

    from custseg.io.readers import SourceInfo

#: Java release each PySpark major version needs at least (PySpark 4 dropped Java 8 and 11).
MIN_JAVA = {3: 8, 4: 17}
#: Seconds to wait for a ``spark://`` master to accept a connection. Spark itself retries
#: three times, 20 s apart, before it gives up.
MASTER_TIMEOUT = 3.0
#: Standalone masters listen here when the URL gives no port.
DEFAULT_MASTER_PORT = 7077
#: Settings of a session custseg starts, before the user's ``conf`` (which wins). No web UI and
#: no progress bars (a command-line tool, not a notebook), timestamps read and shown in UTC so
#: that dates do not shift with the machine's zone, and few shuffle partitions on one machine
#: (Spark's 200 make 200 tiny tasks per query). The customer table comes to the driver through
#: Arrow (columns, not pickled rows). Memory is left to ``conf``.
SESSION_DEFAULTS: dict[str, str] = {
    "spark.app.name": "custseg",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
}
LOCAL_DEFAULTS: dict[str, str] = {"spark.sql.shuffle.partitions": "8"}
#: Session settings custseg (or Ibis, when it connects) changes in a session it reuses, and
#: gives back on close.
RESTORED_SETTINGS = ("spark.sql.session.timeZone", "spark.sql.mapKeyDedupPolicy")
#: File name suffixes Spark reads: the format, and the CSV delimiter. A compression suffix may
#: follow (``orders.csv.gz``).
SUFFIXES: dict[str, tuple[str, str | None]] = {
    ".parquet": ("parquet", None),
    ".pq": ("parquet", None),
    ".csv": ("csv", ","),
    ".txt": ("csv", ","),
    ".tsv": ("csv", "\t"),
}
COMPRESSION_SUFFIXES = (".gz", ".bz2", ".zst", ".deflate", ".lz4", ".snappy")
#: A table name: ``table``, ``db.table`` or ``catalog.db.table``, each part a plain identifier
#: or quoted in backticks. Anything else (spaces, quotes, semicolons) is refused before Spark
#: parses it.
TABLE_NAME = re.compile(r"^(?:[A-Za-z0-9_]+|`[^`]+`)(?:\.(?:[A-Za-z0-9_]+|`[^`]+`)){0,2}$")
#: Tables named in a message about a missing one.
SHOWN_TABLES = 10
#: Python loggers through which PySpark 4 prints every SQL error with its Java stack trace
#: (several KB of JSON) before raising it; custseg reports the error itself.
NOISY_LOGGERS = ("SQLQueryContextLogger", "DataFrameQueryContextLogger")
#: Lines of the JVM's start-up output that say nothing about why it failed.
START_CHATTER = (
    "WARNING: Using incubator modules",
    "Using Spark's default log4j profile",
    "Setting default log level",
    "To adjust logging level",
    "Set SPARK_LOCAL_IP",
)
_SQLSTATE = re.compile(r"\s*SQLSTATE: \w+\.?")
_LOG_NOTICE = re.compile(r"^\d\d/\d\d/\d\d \d\d:\d\d:\d\d (?:WARN|INFO) ")
_LOG_PREFIX = re.compile(r"^\d\d/\d\d/\d\d \d\d:\d\d:\d\d (?:ERROR|WARN|INFO) [\w.$]+: ")


def data_format(name: str) -> tuple[str, str | None] | None:
    """``(format, delimiter)`` of a file from its name, or ``None`` when Spark-readable data
    does not end that way.

    Examples
    --------
    >>> data_format("orders.PARQUET")
    ('parquet', None)
    >>> data_format("orders.csv.bz2")
    ('csv', ',')
    """
    low = name.lower().rstrip("/")
    for compression in COMPRESSION_SUFFIXES:
        if low.endswith(compression) and not low.endswith(".snappy.parquet"):
            low = low[: -len(compression)]
            break
    for suffix, found in SUFFIXES.items():
        if low.endswith(suffix):
            return found
    return None


def _accepted() -> str:
    return ", ".join(SUFFIXES) + " (optionally compressed, e.g. .csv.gz)"


def clean_message(exc: BaseException) -> str:
    """Spark's own words on one line: the first line of the message that is not a Java stack
    frame or Py4J's ``An error occurred while calling ...``, followed by the innermost Java
    cause when there is one (a failed read says why: ``Malformed CSV record: 4,5``).

    Examples
    --------
    >>> clean_message(RuntimeError("An error occurred while calling o1.sql.\\n: java.io."
    ...     "IOException: No FileSystem for scheme \\"s3a\\"\\n\\tat org.apache.hadoop..."))
    'java.io.IOException: No FileSystem for scheme "s3a"'
    """
    text = _first_line(str(exc)) or type(exc).__name__
    root = _root_cause(exc)
    if root and root not in text:
        text = f"{text}; {root}"
    return text[:300]


def _first_line(message: str) -> str:
    for line in message.splitlines():
        line = line.strip().lstrip(":").strip()
        if not line or line.startswith(("at ", "An error occurred while calling", "JVM stack")):
            continue
        return _SQLSTATE.sub("", " ".join(line.split()))
    return ""


def _root_cause(exc: BaseException) -> str:
    """The message of the innermost cause of the Java exception behind ``exc``, if any."""
    throwable = getattr(exc, "java_exception", None) or getattr(exc, "_origin", None)
    try:
        if throwable is None or throwable.getCause() is None:
            return ""
        while throwable.getCause() is not None:
            throwable = throwable.getCause()
        return _first_line(str(throwable.getMessage() or throwable.toString()))
    except Exception:  # the JVM is gone: the top message is all there is
        return ""


def _fix_for(text: str) -> str:
    """What to do about a Spark error, from its text."""
    if "OutOfMemoryError" in text or "Java heap space" in text:
        return "Give Spark more memory, e.g. --spark-conf spark.driver.memory=8g."
    if "No FileSystem for scheme" in text or "ClassNotFoundException" in text:
        return (
            "Add the storage connector to Spark, e.g. --spark-conf "
            "spark.jars.packages=org.apache.hadoop:hadoop-aws:3.4.1 for s3a://."
        )
    if "already exists" in text.lower():
        return "Choose a --spark-output path that does not exist yet, or delete the old one."
    if "MALFORMED" in text.upper():
        return "Check that every row of the file has the header's number of fields."
    return "Check the source and the Spark settings (--spark-conf)."


def _guarded(call: Any, said: str) -> Any:
    """``call()`` with Spark's chatter muted and its errors as one :class:`InputError`:
    ``said``, the cause, and what to do about it."""
    try:
        with _quiet():
            return call()
    except InputError:
        raise
    except Exception as exc:
        text = clean_message(exc)
        raise InputError(f"{said} ({text}). {_fix_for(text)}") from None


def java_major(version_text: str) -> int | None:
    """The Java release in ``java -version``'s output (``1.8.0_392`` is 8).

    Examples
    --------
    >>> java_major('openjdk version "17.0.15" 2025-04-15')
    17
    >>> java_major('java version "1.8.0_392"')
    8
    """
    found = re.search(r'version "(\d+)(?:\.(\d+))?', version_text)
    if found is None:
        return None
    major = int(found.group(1))
    return int(found.group(2) or 0) if major == 1 else major


def check_java(minimum: int = 17) -> str:
    """The ``java`` Spark will start (``$JAVA_HOME/bin/java``, else ``java`` on the PATH, as
    ``spark-submit`` chooses), after checking that it exists and is recent enough.

    Raises
    ------
    InputError
        If there is no Java, or it is older than ``minimum``.
    """
    fix = (
        f"Install Java {minimum} (e.g. apt-get install openjdk-{minimum}-jre-headless) or set "
        "JAVA_HOME to a Java installation."
    )
    home = os.environ.get("JAVA_HOME")
    if home:
        java = os.path.join(home, "bin", "java")
        if not os.access(java, os.X_OK):
            raise InputError(
                f"Spark needs Java, but JAVA_HOME is '{home}', which has no bin/java. "
                f"Point JAVA_HOME at a Java {minimum} installation or unset it. {fix}"
            )
    else:
        found = shutil.which("java")
        if found is None:
            raise InputError(f"Spark needs Java {minimum} or newer and none was found. {fix}")
        java = found
    try:
        done = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InputError(f"Spark needs Java, but '{java}' does not run ({exc}). {fix}") from None
    major = java_major(done.stderr + done.stdout)
    if major is not None and major < minimum:
        raise InputError(
            f"Spark needs Java {minimum} or newer, but '{java}' is Java {major}. {fix}"
        )
    return java


def check_master(master: str, timeout: float = MASTER_TIMEOUT) -> None:
    """For a standalone master (``spark://host:port``, or several for high availability),
    check that one of them accepts a connection within ``timeout`` seconds.

    Raises
    ------
    InputError
        If none does.
    """
    if not master.startswith("spark://"):
        return
    reasons = []
    for address in master[len("spark://") :].split(","):
        host, _, port = address.strip().rpartition(":")
        if not host:
            host, port = port, str(DEFAULT_MASTER_PORT)
        try:
            with socket.create_connection((host, int(port)), timeout=timeout):
                return
        except (OSError, ValueError) as exc:
            reasons.append(f"{address}: {exc.strerror if isinstance(exc, OSError) else exc}")
    raise InputError(
        f"Spark master {master} cannot be reached ({'; '.join(map(str, reasons))}). Check the "
        "host and port (the master's web page shows its spark:// URL) and that it is running, "
        "or use --spark-master 'local[*]' to run Spark on this machine."
    )


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Ibis 12 reads pandas' ``future.infer_string`` option and PySpark 4.0's ``toPandas``
    passes ``copy=``, both deprecated by pandas 3: warnings about their internals that say
    nothing to the user. Py4J leaves sockets to the garbage collector. With Arrow on, PySpark
    warns before it re-raises a failed query's error, which custseg reports itself."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*future.infer_string", category=Warning)
        warnings.filterwarnings("ignore", message=".*copy keyword is deprecated", category=Warning)
        warnings.filterwarnings("ignore", category=ResourceWarning)
        warnings.filterwarnings("ignore", message="toPandas attempted Arrow", category=Warning)
        yield


def _start_failure(log_path: str) -> str:
    """The last line of the JVM's start-up output that says something."""
    try:
        with open(log_path, encoding="utf-8", errors="replace") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return ""
    said = [
        line.strip()
        for line in lines
        if line.strip()
        and not line.strip().startswith(("at ", "...", "Caused by:", *START_CHATTER))
        and not _LOG_NOTICE.match(line.strip())
    ]
    return _LOG_PREFIX.sub("", said[-1])[:300] if said else ""


class SparkEngine(Closing):
    """A Spark session (reused or started) and the Ibis backend over it.

    Parameters
    ----------
    master : str
        Where Spark runs: ``local[*]`` (this machine, every core), ``local[4]``,
        ``spark://host:7077``, ``yarn``, ``k8s://...``. Ignored when a session is already
        running (a notebook's): custseg uses that one.
    conf : dict, optional
        Spark settings, e.g. ``{"spark.driver.memory": "8g"}``; they override custseg's
        defaults (:data:`SESSION_DEFAULTS`). In a running session only the settings Spark lets
        a session change are applied, and given back on close.

    Raises
    ------
    InputError
        If PySpark or Java is missing, the master cannot be reached or Spark does not start.

    Examples
    --------
    >>> with SparkEngine(master="local[2]") as spark:  # doctest: +SKIP
    ...     lines, info = spark.read("s3a://lake/orders/")
    ...     spark.scalar(lines.count())
    541909
    """

    label = "Spark"
    dialect = "pyspark"

    def __init__(self, *, master: str = "local[*]", conf: dict[str, str] | None = None) -> None:
        try:
            import pyspark
            from pyspark.sql import SparkSession
        except ImportError:
            raise InputError("Spark needs PySpark: pip install 'custseg[spark]'.") from None
        try:
            import ibis
            import ibis.backends.pyspark  # noqa: F401
        except ImportError:
            raise InputError(
                "Spark needs Ibis's PySpark backend: pip install 'custseg[spark]'."
            ) from None
        self.master = master
        self._views: list[str] = []
        self._cached: list[Any] = []
        self._restore: dict[str, str | None] = {}
        self._loggers: dict[str, bool] = {}
        settings = {str(k): str(v) for k, v in (conf or {}).items()}
        session = SparkSession.getActiveSession()
        if session is None and pyspark.SparkContext._active_spark_context is not None:
            session = SparkSession.builder.getOrCreate()  # another thread's session
        self.created = session is None
        if session is None and os.environ.get("PYSPARK_GATEWAY_PORT"):
            # Under spark-submit: the JVM runs already, with spark-submit's --master and
            # --conf, which a master or defaults given here would override.
            session = self._start_submitted(settings)
        elif session is None:
            major = int(pyspark.__version__.split(".")[0])
            check_java(MIN_JAVA.get(major, 17))
            check_master(master)
            session = self._start(master, settings)
        else:
            self._adopt(session, settings)
        self.session = session
        self._loggers = {name: logging.getLogger(name).disabled for name in NOISY_LOGGERS}
        for name in NOISY_LOGGERS:
            logging.getLogger(name).disabled = True
        try:
            with _quiet():
                self.con = ibis.pyspark.connect(session)
        except Exception as exc:
            self.close()
            raise InputError(
                f"Ibis could not use the Spark session ({clean_message(exc)}). Install the "
                "versions custseg was tested with: pip install 'custseg[spark]'."
            ) from None

    # ------------------------------------------------------------------ the session

    def _start_submitted(self, settings: dict[str, str]) -> Any:
        from pyspark.sql import SparkSession

        builder = SparkSession.builder
        for key, value in settings.items():
            builder = builder.config(key, value)
        try:
            return builder.getOrCreate()
        except Exception as exc:
            raise InputError(
                f"Spark did not start ({clean_message(exc)}). Check the --master and --conf "
                "options of spark-submit."
            ) from None

    def _start(self, master: str, settings: dict[str, str]) -> Any:
        from pyspark.sql import SparkSession

        local = master.startswith("local")
        if local:
            # Else Spark warns that the host name resolves to a loopback address and binds
            # the machine's outside address.
            os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
            # Python workers (the scaled-out job's feature transform) run this interpreter,
            # which has custseg, not whatever `python3` is first on PATH.
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        builder = SparkSession.builder.master(master)
        for key, value in {
            **SESSION_DEFAULTS,
            **(LOCAL_DEFAULTS if local else {}),
            **settings,
        }.items():
            builder = builder.config(key, value)
        # The JVM writes its start-up chatter straight to file descriptor 2, and keeps the one
        # it is started with: point it at a file for the start.
        handle, log_path = tempfile.mkstemp(prefix="custseg-spark-", suffix=".log")
        saved = os.dup(2)
        os.dup2(handle, 2)
        try:
            session = builder.getOrCreate()
            session.sparkContext.setLogLevel("ERROR")
        except Exception as exc:
            os.dup2(saved, 2)
            said = _start_failure(log_path) or clean_message(exc)
            raise InputError(
                f"Spark did not start with master {master} ({said}). Check --spark-master "
                "and --spark-conf; Spark's own output is in " + log_path + "."
            ) from None
        else:
            os.unlink(log_path)
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(handle)
        return session

    def _adopt(self, session: Any, settings: dict[str, str]) -> None:
        """Use a running session: change only what a session may change, and remember what
        to give back."""
        conf = session.conf
        for key in settings:
            if not conf.isModifiable(key):
                raise InputError(
                    f"Spark setting {key} cannot be changed in the running Spark session "
                    "(custseg uses the session that is already running). Set it when the "
                    "session or cluster starts, or leave it out."
                )
        for key in [*RESTORED_SETTINGS, *settings]:
            self._restore[key] = conf.get(key, None)
        for key, value in {**settings, "spark.sql.session.timeZone": "UTC"}.items():
            conf.set(key, value)

    def close(self) -> None:
        """Drop the temporary views and caches made here; stop the session if this engine
        started it, else give back the settings it changed."""
        session = getattr(self, "session", None)
        if session is None:
            return
        with contextlib.suppress(Exception):  # a stopped or broken session: nothing to free
            for view in self._views:
                session.catalog.dropTempView(view)
            for frame in self._cached:
                frame.unpersist()
        self._views.clear()
        self._cached.clear()
        if self.created:
            with contextlib.suppress(Exception):
                session.stop()
        else:
            with contextlib.suppress(Exception):
                for key, value in self._restore.items():
                    if value is None:
                        session.conf.unset(key)
                    else:
                        session.conf.set(key, value)
        for name, disabled in self._loggers.items():
            logging.getLogger(name).disabled = disabled
        self.session = None

    # ------------------------------------------------------------------ reading

    def _view(self, frame: Any, name: str) -> Any:
        """A temporary view of a Spark DataFrame under a name of its own, as an Ibis table."""
        view = f"{name}_{uuid.uuid4().hex[:8]}"
        frame.createOrReplaceTempView(view)
        self._views.append(view)
        return self.con.table(view)

    def read(self, path: str | None, *, table: str | None = None) -> tuple[Any, SourceInfo]:
        """The source as an Ibis table, and what is known of it.

        Parameters
        ----------
        path : str, optional
            A Parquet or CSV file, folder or glob, in any file system the session reads
            (``s3a://``, ``abfss://``, ``hdfs://``, local). The format comes from the files'
            suffixes (:data:`SUFFIXES`). CSV files need a header row; every column is read
            as text.
        table : str, optional
            A table or view of the Spark catalog (``db.table``), instead of ``path``.

        Raises
        ------
        InputError
            If the path or table does not exist, the format is not Spark's, or there are no
            rows.
        """
        from custseg.io.readers import SourceInfo

        if table is not None:
            frame, name = self._catalog_table(table), table
            info = SourceInfo(
                name=name,
                format="spark table",
                n_rows=0,
                columns=[],
                path="the Spark catalog",
                table=name,
            )
            where = f"Table '{name}' of the Spark catalog"
        elif path:
            fmt, sep, n_files = self._files(path)
            frame = self._read_files(path, fmt, sep)
            name = path.rstrip("/").rsplit("/", 1)[-1] or path
            info = SourceInfo(
                name=name,
                format=fmt,
                n_rows=0,
                columns=[],
                path=path,
                delimiter=sep,
                n_files=n_files,
            )
            where = f"The {n_files} files of '{path}'" if n_files > 1 else f"File '{path}'"
        else:
            raise InputError("Spark needs a path to read or a table: pass INPUT or --table.")
        renamed = {c: c.lstrip("\ufeff").strip() for c in frame.columns}
        if any(old != new for old, new in renamed.items()):
            frame = frame.toDF(*renamed.values())
        info.columns = list(frame.columns)
        info.n_rows = int(self._spark(lambda: frame.count(), where))
        if not info.n_rows:
            raise InputError(f"{where} has no data rows. Check that the source holds the lines.")
        return self._view(frame, "custseg_source"), info

    def _spark(self, call: Any, where: str) -> Any:
        """Run a PySpark call that reads ``where``, with Spark's errors as
        :class:`InputError`."""
        return _guarded(call, f"{where}: Spark could not read it")

    def _catalog_table(self, name: str) -> Any:
        catalog = self.session.catalog
        if not TABLE_NAME.match(name.strip()):
            raise InputError(
                f"{name!r} is not a Spark table name. Write it as table, db.table or "
                "catalog.db.table (letters, digits and _; quote other names in `backticks`)."
            )
        name = name.strip()
        if not self._spark(lambda: catalog.tableExists(name), f"Table '{name}'"):
            database = name.rsplit(".", 1)[0] if "." in name else None
            if database is not None and not catalog.databaseExists(database):
                raise InputError(
                    f"The Spark catalog has no database {database!r} (for table {name!r}). "
                    "Check the name, written as db.table."
                )
            with _quiet():
                names = [
                    t.name
                    for t in catalog.listTables(database)
                    if not t.name.startswith("custseg_")  # custseg's own views
                ]
            close = difflib.get_close_matches(name.rsplit(".", 1)[-1], names, n=3)
            hint = (
                f" Did you mean {', '.join(repr(c) for c in close)}?"
                if close
                else f" Tables there: {', '.join(sorted(names)[:SHOWN_TABLES]) or 'none'}"
                + (" ..." if len(names) > SHOWN_TABLES else "")
                + "."
            )
            raise InputError(
                f"The Spark catalog has no table or view named {name!r}."
                + hint
                + " Pass an existing table with --table."
            )
        return self._spark(lambda: self.session.table(name), f"Table '{name}'")

    def _files(self, path: str) -> tuple[str, str | None, int]:
        """The format, CSV delimiter and number of data files at ``path``, found with Spark's
        own file systems (so ``s3a://`` works where the session has the connector)."""
        names = self._list(path)
        if names is None:  # no access to the JVM (Spark Connect, locked-down clusters)
            found = data_format(path)
            if found is None:
                raise InputError(
                    f"Cannot tell the format of '{path}' from its name. Name the files with "
                    f"their suffix (e.g. '{path.rstrip('/')}/*.parquet'); Spark reads "
                    f"{_accepted()}."
                )
            return found[0], found[1], 1
        if not names:
            raise InputError(
                f"'{path}' does not exist (Spark found no file or folder there). Check the "
                "path; a relative path is read from the working directory."
            )
        formats = {name: data_format(name) for name in names}
        unknown = [name for name, found in formats.items() if found is None]
        kinds = {found for found in formats.values() if found is not None}
        if not kinds:
            raise InputError(
                f"'{path}' holds no Parquet or CSV files (e.g. {unknown[0]!r}). Spark reads "
                f"{_accepted()}."
            )
        if unknown:
            raise InputError(
                f"'{path}' mixes data files with {len(unknown)} other file(s), e.g. "
                f"{unknown[0]!r}. Move them out, or name the data files with a glob (e.g. "
                f"'{path.rstrip('/')}/*.parquet')."
            )
        if len(kinds) > 1:
            raise InputError(
                f"'{path}' mixes formats ({', '.join(sorted(f'{f} {s!r}' for f, s in kinds))}). "
                "Read one format at a time: name the files with a glob."
            )
        fmt, sep = kinds.pop()
        return fmt, sep, len(names)

    def _list(self, path: str) -> list[str] | None:
        """The data files at ``path`` (a file, a folder, read recursively, or a glob),
        without Spark's hidden files (``_SUCCESS``, ``.crc``); ``None`` when the session's
        file systems cannot be reached from Python."""
        try:
            jvm: Any = self.session.sparkContext._jvm
            hadoop_conf = self.session.sparkContext._jsc.hadoopConfiguration()
            jpath = jvm.org.apache.hadoop.fs.Path(path)
        except Exception:
            return None
        where = f"'{path}'"
        fs = self._spark(lambda: jpath.getFileSystem(hadoop_conf), where)
        statuses = self._spark(lambda: fs.globStatus(jpath), where) or []
        names: list[str] = []
        for status in statuses:
            root = status.getPath()
            if not status.isDirectory():
                names.append(root.getName())
                continue
            files = self._spark(lambda root=root: fs.listFiles(root, True), where)
            prefix = len(root.toString().rstrip("/")) + 1
            while files.hasNext():
                relative = files.next().getPath().toString()[prefix:]
                if not any(part.startswith(("_", ".")) for part in relative.split("/")):
                    names.append(relative)
        return names

    def _read_files(self, path: str, fmt: str, sep: str | None) -> Any:
        reader = self.session.read
        where = f"'{path}'"
        if fmt == "parquet":
            return self._spark(lambda: reader.parquet(path), where)
        # Every column as text (no inference: ids keep their leading zeros); a row with the
        # wrong number of fields stops the read instead of being padded or cut.
        return self._spark(
            lambda: reader.csv(
                path, header=True, inferSchema=False, sep=sep, mode="FAILFAST", encoding="UTF-8"
            ),
            where,
        )

    # ------------------------------------------------------------------ running

    def _error(self, exc: BaseException) -> InputError:
        text = clean_message(exc)
        return InputError(f"Spark could not run custseg's query ({text}). {_fix_for(text)}")

    def run(self, expr: Any) -> pd.DataFrame:
        """Run an Ibis table expression in Spark and return the result as pandas."""
        try:
            with _quiet():
                return self.con.to_pandas(expr)
        except InputError:
            raise
        except Exception as exc:
            raise self._error(exc) from None

    def scalar(self, expr: Any) -> Any:
        """Run an Ibis scalar expression in Spark and return its value."""
        try:
            with _quiet():
                return self.con.execute(expr)
        except Exception as exc:
            raise self._error(exc) from None

    def materialize(self, expr: Any, name: str) -> Any:
        """``expr`` computed once and cached by Spark (memory, then disk), so that the several
        queries built on it read the cache instead of the source; an Ibis table over it."""
        try:
            with _quiet():
                frame = self.session.sql(str(self.con.compile(expr))).cache()
            self._cached.append(frame)
            return self._view(frame, name).cast(expr.schema())
        except Exception as exc:
            raise self._error(exc) from None

    # ------------------------------------------------------------------ scaling out

    def frame(self, expr: Any) -> Any:
        """``expr`` as a Spark DataFrame, cached (memory, then disk) until :meth:`close`: the
        customer features of a job past the driver limit (:mod:`custseg.engines.mllib`)."""
        try:
            with _quiet():
                frame = self.session.sql(str(self.con.compile(expr))).cache()
        except Exception as exc:
            raise self._error(exc) from None
        self._cached.append(frame)
        return frame

    def register_cache(self, frame: Any) -> None:
        """Unpersist ``frame`` (a cached Spark DataFrame) at :meth:`close`."""
        self._cached.append(frame)

    def call(self, call: Any, what: str) -> Any:
        """Run a PySpark call (an action), with Spark's errors as :class:`InputError`."""
        return _guarded(call, f"Spark failed while {what}")

    def collect(self, frame: Any, what: str) -> pd.DataFrame:
        """A (small) Spark DataFrame brought to the driver as pandas."""
        return self.call(frame.toPandas, what)

    def check_new_path(self, path: str) -> None:
        """Refuse a ``--spark-output`` path that exists (Spark would fail only after the whole
        clustering)."""
        try:
            jvm: Any = self.session.sparkContext._jvm
            jpath = jvm.org.apache.hadoop.fs.Path(path)
            fs = jpath.getFileSystem(self.session.sparkContext._jsc.hadoopConfiguration())
            exists = bool(fs.exists(jpath))
        except Exception:  # no JVM access (Spark Connect): Spark's write refuses it later
            return
        if exists:
            raise InputError(
                f"--spark-output '{path}' already exists. Choose a --spark-output path that "
                "does not exist yet, or delete the old one."
            )
