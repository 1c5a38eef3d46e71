"""``wallboard serve``: a real site on one machine, as one supervised process group.

The parts are the production commands, each its own process so that one crashing (or leaking) never
takes the others down: an AMI collector per ``--ami``, a queue_log collector per ``--queue-log`` (and
per ``--queue-log-db`` table), the
engine and the API. They share the data directory's embedded Redis (``wallboard.store.datadir``), which
``serve`` starts (or joins) and holds for its whole life, so the users, tokens, boards, thresholds,
schedules, the event stream, the checkpoints and the day's figures outlive a restart.

Supervision: a part that exits is started again after a backoff delay (1 s doubling to 30 s, reset once
it has run a minute); a part that exits with status 2 refused its configuration, which a restart
cannot fix, so ``serve`` stops everything and exits 2 with that part's message (already on stderr). The
embedded Redis is watched too: if it dies, it is started again on the same files and the parts
reconnect by themselves (they retry Redis with backoff). SIGTERM or SIGINT stop every part at once
(SIGTERM, then SIGKILL after ``STOP_TIMEOUT_S``) and then the Redis, all within 10 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import signal
import socket
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from wallboard.core.backoff import Backoff
from wallboard.errors import WallboardError
from wallboard.store.datadir import SharedRedis, open_shared_redis
from wallboard.store.embedded import EmbeddedRedisError

log = logging.getLogger(__name__)

EXIT_USAGE = 2
STOP_TIMEOUT_S = 7.0  # each part's own graceful stop is bounded by 5 s (the engine's final checkpoint)
HEALTHY_RUN_S = 60.0  # a part that ran this long starts its backoff again from the first delay
REDIS_WATCH_S = 1.0
REDIS_MISSES = 3  # consecutive failed pings before the Redis is started again
SERVE_LOCK = "serve.lock"


class ServeError(WallboardError):
    """``serve`` cannot start or a part refused its configuration; ``exit_code`` says how to exit."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class Part:
    """One supervised process: a name for the logs and the ``wallboard`` arguments that run it."""

    name: str
    args: tuple[str, ...]


@dataclass(frozen=True)
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = 8000
    amis: tuple[tuple[str, int], ...] = ()
    ami_username: str = "wallboard"
    esls: tuple[tuple[str, int], ...] = ()  # FreeSWITCH event sockets (password: WALLBOARD_ESL_PASSWORD)
    queue_logs: tuple[Path, ...] = ()
    queue_log_dbs: tuple[str, ...] = ()  # database URLs (no password: WALLBOARD_QUEUE_LOG_DB_PASSWORD)
    queue_log_table: str = "queue_log"
    verbose: int = 0
    env: Mapping[str, str] = field(default_factory=dict)  # the environment the parts start from


def parse_endpoint(text: str, default_port: int = 5038) -> tuple[str, int]:
    """``HOST[:PORT]`` (``[v6]:PORT`` for IPv6) as (host, port); ValueError naming what is wrong."""
    host, sep, port = text.strip().rpartition(":")
    if not sep or (host.count(":") and not host.startswith("[")):
        host, port = text.strip(), str(default_port)
    host = host.strip("[]")
    if not host:
        raise ValueError(f"expected HOST:PORT, read {text!r}")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"expected a port number 1-65535 after ':', read {port!r}")
    return host, int(port)


def _name(sources: Sequence[object], name: str) -> tuple[str, ...]:
    """``--name`` for one of several collectors of a kind (each its own health hash); nothing for a lone one."""
    return ("--name", name) if len(sources) > 1 else ()


def plan(options: ServeOptions) -> list[Part]:
    """The parts to run, collectors first; each is a ``wallboard`` command line."""
    verbose = ("-" + "v" * options.verbose,) if options.verbose else ()
    parts = [
        Part(f"AMI collector {host}:{port}", ("collect", "ami", "--host", host, "--port", str(port),
                                                "--username", options.ami_username,
                                                *_name(options.amis, f"{host}:{port}"), *verbose))
        for host, port in options.amis
    ]  # fmt: skip
    parts += [
        Part(f"ESL collector {host}:{port}", ("collect", "esl", "--host", host, "--port", str(port),
                                                *_name(options.esls, f"{host}:{port}"), *verbose))
        for host, port in options.esls
    ]  # fmt: skip
    parts += [
        Part(f"queue_log collector {path}", ("collect", "queue-log", str(path),
                                             *_name(options.queue_logs, str(path)), *verbose))
        for path in options.queue_logs
    ]  # fmt: skip
    parts += [
        Part(f"queue_log table collector {url}", ("collect", "queue-log-db", url, "--table", options.queue_log_table,
                                                   *_name(options.queue_log_dbs, url), *verbose))
        for url in options.queue_log_dbs
    ]  # fmt: skip
    parts.append(Part("engine", ("engine", *verbose)))
    parts.append(Part("API", ("api", "--host", options.host, "--port", str(options.port), *verbose)))
    return parts


def part_environment(base: Mapping[str, str], redis_url: str, site: str, site_file: Path | None) -> dict[str, str]:
    """The parts' environment: ``base`` with the shared Redis, the site and its file (absolute) set."""
    env = {name: value for name, value in base.items() if name.upper() not in ("REDIS_URL", "WALLBOARD_DATA_DIR")}
    env["WALLBOARD_REDIS_URL"] = redis_url
    env["WALLBOARD_SITE"] = site
    if site_file is not None:
        env["WALLBOARD_SITE_FILE"] = str(site_file.resolve())
    else:
        env.pop("WALLBOARD_SITE_FILE", None)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def check_port_free(host: str, port: int) -> None:
    """ServeError (exit 1) when the API's address is taken, before anything starts."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ServeError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc


@contextlib.contextmanager
def serve_lock(data_dir: Path) -> Iterator[Path]:
    """Hold ``DIR/serve.lock`` for the life of ``serve``: one ``serve`` per data directory."""
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = data_dir / SERVE_LOCK
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(descriptor, 32, 0).decode(errors="replace").strip() or "another process"
            raise ServeError(f"wallboard serve already runs on {data_dir} (pid {holder})") from None
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)
        yield path
    finally:
        os.close(descriptor)


class Supervisor:
    """Runs the parts and the Redis watch until cancelled; then stops every part, then the Redis."""

    def __init__(
        self,
        parts: Sequence[Part],
        env: Mapping[str, str],
        redis: SharedRedis,
        *,
        reopen: Callable[[], SharedRedis],
        executable: Sequence[str] = (sys.executable, "-m", "wallboard.cli"),
    ) -> None:
        self.parts = list(parts)
        self.env = dict(env)
        self.redis = redis
        self._reopen = reopen
        self._executable = list(executable)
        self.starts: dict[str, int] = {part.name: 0 for part in parts}

    async def run(self) -> None:
        tasks = [asyncio.create_task(self._keep(part), name=part.name) for part in self.parts]
        tasks.append(asyncio.create_task(self._watch_redis(), name="redis watch"))
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                if not task.cancelled() and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _keep(self, part: Part) -> None:
        backoff = Backoff(initial=1.0, cap=30.0)
        loop = asyncio.get_running_loop()
        while True:
            process = await asyncio.create_subprocess_exec(
                *self._executable, *part.args, env=self.env, stdin=asyncio.subprocess.DEVNULL
            )
            self.starts[part.name] += 1
            log.info("%s started (pid %d)", part.name, process.pid)
            began = loop.time()
            try:
                code = await process.wait()
            except asyncio.CancelledError:
                await _stop(part, process)
                raise
            if code == EXIT_USAGE:
                raise ServeError(f"{part.name} refused its configuration (exit status 2): see its message above", 2)
            if loop.time() - began >= HEALTHY_RUN_S:
                backoff.reset()
            delay = next(backoff)
            log.warning("%s exited with status %s; starting it again in %.1f s", part.name, code, delay)
            await asyncio.sleep(delay)

    async def _watch_redis(self) -> None:
        misses = 0
        while True:
            await asyncio.sleep(REDIS_WATCH_S)
            alive = await asyncio.to_thread(self.redis.answers)
            misses = 0 if alive else misses + 1
            if misses >= REDIS_MISSES:
                log.warning("the embedded Redis does not answer: starting it again on the same files")
                try:
                    replacement = await asyncio.to_thread(self._reopen)
                except (OSError, EmbeddedRedisError) as exc:  # logged, tried again at the next miss
                    log.error("cannot start the embedded Redis again: %s", exc)
                    continue
                self.redis.release()
                self.redis, misses = replacement, 0


async def _stop(part: Part, process: asyncio.subprocess.Process) -> None:
    """SIGTERM, then SIGKILL after STOP_TIMEOUT_S; shielded so a second cancellation cannot orphan it."""

    async def stop() -> None:
        if process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(STOP_TIMEOUT_S):
                await process.wait()
        except TimeoutError:
            log.warning("%s did not stop within %.0f s: killing it", part.name, STOP_TIMEOUT_S)
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
        log.info("%s stopped (status %s)", part.name, process.returncode)

    await asyncio.shield(stop())


async def serve(
    data_dir: Path,
    options: ServeOptions,
    *,
    site: str,
    site_file: Path | None,
    inform: Callable[[str], None],
) -> None:
    """Start (or join) the data directory's Redis, run the parts until cancelled, then stop it all."""
    check_port_free(options.host, options.port)
    with serve_lock(data_dir):
        redis = await asyncio.to_thread(open_shared_redis, data_dir)
        supervisor = Supervisor(
            plan(options),
            part_environment(options.env, redis.url, site, site_file),
            redis,
            reopen=lambda: open_shared_redis(data_dir),
        )
        base = f"http://{options.host if ':' not in options.host else f'[{options.host}]'}:{options.port}"
        inform(f"wallboard serve: site {site}, data in {data_dir} (Redis {redis.url})")
        inform(f"API and pages on {base}/ ; sources: " + (", ".join(p.name for p in supervisor.parts[:-2]) or "none"))
        if len(supervisor.parts) == 2:
            inform(
                "no collector: give --ami HOST:PORT, --esl HOST:PORT or --queue-log PATH, or run `wallboard collect`"
                " beside it"
            )
        try:
            await supervisor.run()
        finally:
            await asyncio.shield(asyncio.to_thread(supervisor.redis.close))
