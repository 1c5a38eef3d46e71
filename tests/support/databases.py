"""Real database servers for tests: MariaDB and PostgreSQL from the Debian packages (scripts/bootstrap installs them).

``start_mariadb(directory)`` and ``start_postgres(directory)`` initialise a private data directory, start
the server on a free loopback port (and a unix socket in the directory), create the database
``asterisk`` and a user ``wallboard`` with the password ``PASSWORD``, and return a :class:`DatabaseServer`:
``url`` is what the collector is given (no password), ``admin_url`` the SQLAlchemy URL tests write rows
with; ``stop()`` and ``start()`` simulate an outage (same port, same data). PostgreSQL refuses to run
as root: when the tests run as root, the server runs as ``nobody`` in a directory of its own.

``mariadb_server`` and ``postgres_server`` are session-scoped fixtures over them (a test module
imports ``mariadb_server_fixture`` and ``postgres_server_fixture``); ``queue_log_table`` creates a
queue_log table in one of the Asterisk realtime forms, ``queue_log_rows`` the rows of queue_log lines.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any, Literal

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

START_TIMEOUT_S = 60.0
PASSWORD = "s3cret-pw"
USER = "wallboard"
DATABASE = "asterisk"
UNPRIVILEGED = "nobody"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _binary(*candidates: str) -> str:
    for candidate in candidates:
        found = shutil.which(candidate) or (candidate if os.path.isfile(candidate) else None)
        if found:
            return found
    pytest.fail(f"none of {', '.join(candidates)} is installed: run scripts/bootstrap (mariadb-server, postgresql)")


class DatabaseServer:
    """A database server child process on 127.0.0.1:<port>, its data in ``directory``."""

    def __init__(
        self,
        kind: Literal["mariadb", "postgresql"],
        argv: Sequence[str],
        directory: Path,
        port: int,
        log: Path,
        user: str | None = None,
        ready: Callable[[], bool] | None = None,
    ) -> None:
        self.kind = kind
        self.argv = list(argv)
        self.directory = directory
        self.port = port
        self.log = log
        self.user = user
        self.ready = ready or self._accepts
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The collector's URL: no password (it comes from WALLBOARD_QUEUE_LOG_DB_PASSWORD)."""
        scheme = "mysql" if self.kind == "mariadb" else "postgresql"
        return f"{scheme}://{USER}@127.0.0.1:{self.port}/{DATABASE}"

    @property
    def admin_url(self) -> sa.URL:
        """The tests' own SQLAlchemy URL, password included, to create tables and write rows."""
        driver = "mysql+pymysql" if self.kind == "mariadb" else "postgresql+psycopg"
        return sa.URL.create(driver, USER, PASSWORD, "127.0.0.1", self.port, DATABASE)

    def engine(self) -> sa.Engine:
        return sa.create_engine(self.admin_url, pool_pre_ping=True)

    def start(self) -> None:
        """Start (or restart) the server; returns once it accepts connections."""
        assert self.process is None, f"{self.kind} already running"
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                self.argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, user=self.user, cwd=self.directory
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self.ready():
            if self.process.poll() is not None or time.monotonic() > deadline:
                tail = self.log.read_text(errors="replace")[-3000:]
                self.stop()
                raise RuntimeError(f"{self.kind} did not start on port {self.port}:\n{tail}")
            time.sleep(0.05)  # start-up poll of an external process, not a settle-sleep

    def _accepts(self) -> bool:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=1.0):
            return True
        return False

    def stop(self) -> None:
        """Shut the server down (fast: open connections are closed); connections fail until start()."""
        if self.process is None:
            return
        self.process.send_signal(2 if self.kind == "postgresql" else 15)  # SIGINT: PostgreSQL's fast shutdown
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None


def _run(argv: Sequence[str], user: str | None = None) -> None:
    done = subprocess.run(argv, capture_output=True, user=user, check=False)
    if done.returncode:
        output = (done.stdout + done.stderr).decode(errors="replace")[-3000:]
        raise RuntimeError(f"{argv[0]} failed ({done.returncode}):\n{output}")


def start_mariadb(directory: Path) -> DatabaseServer:
    """A MariaDB server with its data in ``directory``, started, with the database and user of the tests."""
    install = _binary("mariadb-install-db", "mysql_install_db")
    server_binary = _binary("mariadbd", "/usr/sbin/mariadbd", "mysqld", "/usr/sbin/mysqld")
    data = directory / "data"
    socket_path = directory / "mysqld.sock"
    as_root = ["--user=root"] if os.geteuid() == 0 else []
    _run([install, "--no-defaults", f"--datadir={data}", "--auth-root-authentication-method=normal",
          "--skip-test-db", *as_root])  # fmt: skip
    port = free_port()
    argv = [server_binary, "--no-defaults", f"--datadir={data}", f"--socket={socket_path}", f"--port={port}",
            "--bind-address=127.0.0.1", f"--pid-file={directory / 'mysqld.pid'}", "--skip-name-resolve",
            "--skip-log-bin", "--innodb-buffer-pool-size=32M", "--innodb-flush-log-at-trx-commit=0",
            *as_root]  # fmt: skip
    server = DatabaseServer("mariadb", argv, directory, port, directory / "mariadb.log")
    server.start()
    admin = sa.create_engine(sa.URL.create("mysql+pymysql", "root", query={"unix_socket": str(socket_path)}))
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {DATABASE} CHARACTER SET utf8mb4"))
        conn.execute(sa.text(f"CREATE USER '{USER}'@'%' IDENTIFIED BY '{PASSWORD}'"))
        conn.execute(sa.text(f"GRANT ALL ON {DATABASE}.* TO '{USER}'@'%'"))
    admin.dispose()
    return server


def start_postgres(directory: Path) -> DatabaseServer:
    """A PostgreSQL server with its data in ``directory``, started (as ``nobody`` under root), with the tests' role."""
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda path: int(Path(path).parent.name))
    if not bins:
        pytest.fail("PostgreSQL is not installed: run scripts/bootstrap (Debian package postgresql)")
    bin_dir = Path(bins[-1])
    user = UNPRIVILEGED if os.geteuid() == 0 else None
    if user is not None:
        account = pwd.getpwnam(user)
        directory.chmod(0o755)
        os.chown(directory, account.pw_uid, account.pw_gid)
    data = directory / "data"
    _run([str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth-local=trust",
          "--auth-host=scram-sha-256", "-E", "UTF8", "--no-sync", "--no-instructions"], user=user)  # fmt: skip
    port = free_port()
    argv = [str(bin_dir / "postgres"), "-D", str(data), "-p", str(port), "-k", str(directory),
            "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
            "-c", "full_page_writes=off"]  # fmt: skip
    admin = sa.create_engine(
        sa.URL.create("postgresql+psycopg", "postgres", host=str(directory), port=port, database="postgres"),
        isolation_level="AUTOCOMMIT",
        poolclass=sa.NullPool,
    )

    def ready() -> bool:  # PostgreSQL listens before it takes logins ("the database system is starting up")
        with contextlib.suppress(sa.exc.OperationalError), admin.connect():
            return True
        return False

    log = directory / "postgres.log"
    server = DatabaseServer("postgresql", argv, directory, port, log, user=user, ready=ready)
    if user is not None:
        log.touch()
        os.chown(log, pwd.getpwnam(user).pw_uid, -1)
    server.start()
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE ROLE {USER} LOGIN PASSWORD '{PASSWORD}'")
        conn.exec_driver_sql(f"CREATE DATABASE {DATABASE} OWNER {USER} ENCODING 'UTF8'")
    admin.dispose()
    return server


@contextlib.contextmanager
def _server(start: Callable[[Path], DatabaseServer], prefix: str) -> Iterator[DatabaseServer]:
    # A directory of its own (not pytest's tmp_path, which only root can enter): PostgreSQL may run as nobody.
    directory = Path(tempfile.mkdtemp(prefix=prefix))
    server: DatabaseServer | None = None
    try:
        server = start(directory)
        yield server
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session", name="mariadb_server")
def mariadb_server_fixture() -> Iterator[DatabaseServer]:
    """A real MariaDB for the session (started once, stopped at the end)."""
    with _server(start_mariadb, "wallboard-mariadb-") as server:
        yield server


@pytest.fixture(scope="session", name="postgres_server")
def postgres_server_fixture() -> Iterator[DatabaseServer]:
    """A real PostgreSQL for the session (started once, stopped at the end)."""
    with _server(start_postgres, "wallboard-postgres-") as server:
        yield server


def ensure_running(server: DatabaseServer) -> DatabaseServer:
    """The server, started again if a test left it stopped."""
    if server.process is None:
        server.start()
    return server


TimeForm = Literal["datetime", "epoch", "text"]
DataForm = Literal["adaptive", "single"]


def queue_log_table(engine: sa.Engine, name: str, *, data: DataForm, time_form: TimeForm) -> sa.Table:
    """Create the Asterisk realtime queue_log table ``name`` (dropped first if there) and return it.

    ``data``: ``adaptive`` (data1..data5) or ``single`` (one ``data`` column); ``time_form``: a DATETIME
    with microseconds (``datetime``), an integer epoch (``epoch``) or Asterisk's own ``varchar(26)`` (``text``).
    """
    time_type: Any = {
        "datetime": sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb"),
        "epoch": sa.BigInteger(),
        "text": sa.String(26),
    }[time_form]
    columns = [
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("time", time_type),
        sa.Column("callid", sa.String(80), nullable=False, server_default=""),
        sa.Column("queuename", sa.String(80), nullable=False, server_default=""),
        sa.Column("agent", sa.String(80), nullable=False, server_default=""),
        sa.Column("event", sa.String(32), nullable=False, server_default=""),
    ]
    names = ["data1", "data2", "data3", "data4", "data5"] if data == "adaptive" else ["data"]
    columns += [sa.Column(column, sa.String(200), nullable=False, server_default="") for column in names]
    table = sa.Table(name, sa.MetaData(), *columns)
    table.drop(engine, checkfirst=True)
    table.create(engine)
    return table


def queue_log_rows(lines: Sequence[str], *, data: DataForm, time_form: TimeForm, tz: tzinfo) -> list[dict[str, Any]]:
    """The rows Asterisk inserts for these queue_log lines (no id: the table numbers them).

    The time is the line's epoch as ``time_form`` says: a naive DATETIME in ``tz`` with a fraction of a
    second (as ``%F %T.%6q``), the epoch itself, or the text Asterisk writes into a varchar column.
    """
    rows = []
    for line in lines:
        stamp, callid, queue, agent, event, *fields = line.split("|")
        local = datetime.fromtimestamp(int(stamp), tz).replace(tzinfo=None, microsecond=123456)
        when: Any = {"datetime": local, "epoch": int(stamp), "text": local.strftime("%Y-%m-%d %H:%M:%S.%f")}[time_form]
        row: dict[str, Any] = {"time": when, "callid": callid, "queuename": queue, "agent": agent, "event": event}
        if data == "adaptive":
            parts = "|".join(fields).split("|", 4) if fields else []
            row |= {f"data{i + 1}": parts[i] if i < len(parts) else "" for i in range(5)}
        else:
            row["data"] = "|".join(fields)
        rows.append(row)
    return rows
