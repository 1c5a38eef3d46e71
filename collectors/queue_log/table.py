"""A queue_log table in MySQL/MariaDB or PostgreSQL: rows by id, through SQLAlchemy Core. Blocking I/O.

Theory of operation
-------------------
:func:`database_url` turns what the user gives (``mysql://``, ``mariadb://``, ``postgresql://`` or
``postgres://``, a user, a host and a database, no password) into SQLAlchemy's URL for the installed
driver (PyMySQL, psycopg 3) with the password added from the environment
(``WALLBOARD_QUEUE_LOG_DB_PASSWORD``, read by ``wallboard.config``). A URL that carries a password is
refused, and no message here ever repeats the URL as given: it may hold one. :func:`source_name` is the
table's name in the store's positions (``queue_log_db:mysql://pbx:3306/asterisk#queue_log``): no user,
no password, one name for ``mysql``/``mariadb`` and for ``postgres``/``postgresql``.

:class:`QueueLogTable` reads the table: :meth:`~QueueLogTable.layout` reflects its columns once per
connection (``collectors.queue_log.database.detect_layout`` decides), :meth:`~QueueLogTable.rows_after`
is one keyset page ``WHERE id > :last ORDER BY id LIMIT :n`` with each column under its role name,
:meth:`~QueueLogTable.max_id` is where a tail starts. Nothing is written. Every call is blocking (the
collector runs it in a thread); the pool pings a connection before reuse, so a restarted server costs
one failed call, not a stuck connection, and the drivers' connect and read timeouts bound a call on a
dead network.

Errors: :class:`DatabaseUrlError` (exit 2) for a URL that cannot be used; :class:`DatabaseLoginError`
(exit 1) when the server refuses the login; a missing table is :class:`~collectors.queue_log.database.
UnknownSchema`; any other failure is SQLAlchemy's ``SQLAlchemyError`` (or ``OSError``): an outage, retried
by the caller.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta, tzinfo
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchTableError

from collectors.queue_log.database import TableLayout, UnknownSchema, detect_layout
from wallboard.errors import StartupError, UsageError

__all__ = [
    "DRIVERS",
    "DatabaseLoginError",
    "DatabaseUrlError",
    "QueueLogTable",
    "TimeKind",
    "database_url",
    "is_database_url",
    "source_name",
]

# scheme the user writes -> (SQLAlchemy dialect+driver, the name positions use)
DRIVERS: dict[str, tuple[str, str]] = {
    "mysql": ("mysql+pymysql", "mysql"),
    "mariadb": ("mariadb+pymysql", "mysql"),
    "postgresql": ("postgresql+psycopg", "postgresql"),
    "postgres": ("postgresql+psycopg", "postgresql"),
}
PASSWORD_VARIABLE = "WALLBOARD_QUEUE_LOG_DB_PASSWORD"
CONNECT_TIMEOUT_S = 10
READ_TIMEOUT_S = 60
TimeKind = Literal["datetime", "number", "text"]
_MARGIN = timedelta(days=1)


class DatabaseUrlError(UsageError):
    """The queue_log database URL cannot be used (exit 2); the message never repeats the URL."""


class DatabaseLoginError(StartupError):
    """The database server refused the login (exit 1): a wrong user or password is not an outage."""


def is_database_url(text: str) -> bool:
    """Whether ``text`` names a database (``scheme://...``) rather than a file."""
    scheme, sep, _ = text.partition("://")
    return bool(sep) and scheme.replace("+", "").isalnum()


def _parse(text: str) -> URL:
    try:
        url = make_url(text.strip())
    except (ArgumentError, ValueError):
        raise DatabaseUrlError(
            "the queue_log database URL cannot be read, expected mysql://USER@HOST[:PORT]/DATABASE "
            "(or mariadb://, postgresql://)"
        ) from None
    if url.password is not None:
        raise DatabaseUrlError(
            f"the queue_log database URL carries a password: remove it from the URL and set {PASSWORD_VARIABLE}"
        )
    return url


def database_url(text: str, password: str | None) -> URL:
    """SQLAlchemy's URL for ``text`` (no password allowed in it) with ``password``; raises DatabaseUrlError."""
    url = _parse(text)
    scheme, _, driver = url.drivername.partition("+")
    if scheme not in DRIVERS:
        raise DatabaseUrlError(
            f"the queue_log database URL has the scheme {scheme!r}, expected one of {', '.join(DRIVERS)}"
        )
    drivername = DRIVERS[scheme][0]
    if driver and drivername != f"{scheme}+{driver}".replace("postgres+", "postgresql+"):
        raise DatabaseUrlError(f"the queue_log database URL names the driver {driver!r}, expected {drivername}")
    if not url.database:
        raise DatabaseUrlError("the queue_log database URL names no database, expected scheme://USER@HOST/DATABASE")
    return url.set(drivername=drivername, password=password or None)


def source_name(text: str, table: str) -> str:
    """The table's name in the store's positions: scheme, host, port, database and table (no user)."""
    url = _parse(text)
    kind = DRIVERS.get(url.drivername.partition("+")[0], (url.drivername, url.drivername))[1]
    port = f":{url.port}" if url.port else ""
    return f"queue_log_db:{kind}://{url.host or 'localhost'}{port}/{url.database}#{table}"


def _connect_args(url: URL) -> dict[str, Any]:
    if url.get_backend_name() in ("mysql", "mariadb"):
        return {"connect_timeout": CONNECT_TIMEOUT_S, "read_timeout": READ_TIMEOUT_S, "charset": "utf8mb4"}
    return {"connect_timeout": CONNECT_TIMEOUT_S}


_REFUSED_LOGIN = ("password authentication failed", "no pg_hba.conf entry")  # libpq's connect errors


def _login_refused(exc: DBAPIError) -> bool:
    """Whether the driver's error is a refused login (MySQL 1044/1045/1698, PostgreSQL SQLSTATE class 28).

    libpq fails a connection before any SQLSTATE reaches psycopg, so its message is what tells.
    """
    orig = exc.orig
    sqlstate = getattr(orig, "sqlstate", None)
    if isinstance(sqlstate, str):
        return sqlstate.startswith("28")
    if orig is not None and orig.args and isinstance(orig.args[0], int):
        return orig.args[0] in (1044, 1045, 1698)
    message = str(orig)
    unknown_role = 'role "' in message and "does not exist" in message
    return unknown_role or any(marker in message for marker in _REFUSED_LOGIN)


class QueueLogTable:
    """One queue_log table: its layout and its rows after an id (blocking calls)."""

    def __init__(self, url: URL, table: str, *, batch_rows: int = 1000) -> None:
        schema, _, name = table.rpartition(".")
        self.table = table
        self._schema = schema or None
        self._name = name
        self._batch_rows = batch_rows
        self._engine: Engine = sa.create_engine(url, pool_pre_ping=True, pool_size=1, connect_args=_connect_args(url))
        self._where = f"{url.get_backend_name()}://{url.host or 'localhost'}/{url.database}"
        self._user = url.username or ""
        self._layout: TableLayout | None = None
        self._select: sa.Select[Any] | None = None
        self._id: sa.ColumnClause[Any] | None = None
        self._time: sa.ColumnClause[Any] | None = None
        self.time_kind: TimeKind = "text"

    def layout(self) -> TableLayout:
        """Reflect the table's columns and check them (raises UnknownSchema, DatabaseLoginError or an outage)."""
        try:
            columns = sa.inspect(self._engine).get_columns(self._name, schema=self._schema)
        except NoSuchTableError:
            raise UnknownSchema(f"no table {self.table!r} in {self._where}") from None
        except DBAPIError as exc:
            raise self._refused(exc) from exc
        layout = detect_layout(self.table, (column["name"] for column in columns))
        types = {column["name"]: column["type"] for column in columns}
        time_type = types[layout.columns["time"]]
        if isinstance(time_type, sa.DateTime | sa.Date):
            self.time_kind = "datetime"
        elif isinstance(time_type, sa.Integer | sa.Numeric):
            self.time_kind = "number"
        else:
            self.time_kind = "text"
        table = sa.table(self._name, *(sa.column(name) for name in layout.columns.values()), schema=self._schema)
        self._id = table.c[layout.columns["id"]]
        self._time = table.c[layout.columns["time"]]
        self._select = sa.select(*(table.c[layout.columns[role]].label(role) for role in layout.roles))
        self._layout = layout
        return layout

    def max_id(self) -> int | None:
        """The largest id in the table, None when it is empty."""
        assert self._id is not None, "layout() first"
        with self._connection() as conn:
            value = conn.execute(sa.select(sa.func.max(self._id))).scalar()
        return None if value is None else int(value)

    def rows_after(
        self, last_id: int | None, *, limit: int | None = None, since: Any = None, until: Any = None
    ) -> list[Mapping[str, Any]]:
        """The next rows in id order after ``last_id`` (all when None), keyed by role; at most ``limit``.

        ``since``/``until`` (values of the time column's kind, see :meth:`time_bounds`) narrow the rows
        on the server: a caller that needs an exact range filters the records again.
        """
        assert self._select is not None and self._id is not None and self._time is not None, "layout() first"
        query = self._select
        if last_id is not None:
            query = query.where(self._id > last_id)
        if since is not None:
            query = query.where(self._time >= since)
        if until is not None:
            query = query.where(self._time < until)
        query = query.order_by(self._id).limit(limit or self._batch_rows)
        with self._connection() as conn:
            return [dict(row) for row in conn.execute(query).mappings()]

    def time_bounds(self, start: datetime | None, end: datetime | None, zone: tzinfo) -> tuple[Any, Any]:
        """Server-side bounds for :meth:`rows_after` around ``[start, end)``, a day wider on each side.

        A DATETIME column is compared with naive times in ``zone`` (the zone the table is written in), a
        number column with epoch seconds; a text column (a date-time string or digits) is not narrowed.
        The margin covers any zone or DST mistake: the caller filters the records exactly.
        """
        bounds: list[Any] = []
        for stamp, step in ((start, -_MARGIN), (end, _MARGIN)):
            if stamp is None or self.time_kind == "text":
                bounds.append(None)
            elif self.time_kind == "datetime":
                bounds.append((stamp + step).astimezone(zone).replace(tzinfo=None))
            else:
                bounds.append(int((stamp + step).timestamp()))
        return bounds[0], bounds[1]

    def dispose(self) -> None:
        """Close the pooled connections."""
        self._engine.dispose()

    def _connection(self) -> sa.Connection:
        try:
            return self._engine.connect()
        except DBAPIError as exc:
            raise self._refused(exc) from exc

    def _refused(self, exc: DBAPIError) -> Exception:
        if _login_refused(exc):
            return DatabaseLoginError(
                f"{self._where} refused the login of user {self._user!r}: check the user in the URL "
                f"and {PASSWORD_VARIABLE}"
            )
        return exc
