"""Real servers the tests start for themselves: on loopback, on a free port, in a temporary data directory.

PostgreSQL comes from Debian (`apt-get install postgresql`, done here as root when it is missing); it refuses to
run as root, so as root it runs as Debian's `postgres` user, which then owns its data directory.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
from helpers import free_port

SERVICE_USER = "postgres"  # created by Debian's postgresql-common


def _postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=lambda p: int(Path(p).parts[-3]))
    return Path(found[-1]).parent if found else None


def apt_install(package: str) -> None:
    """Install one of Debian's packages, as `make servers` does (root only; the caller checks)."""
    subprocess.run(["apt-get", "update", "-qq"], check=True, capture_output=True)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", package],
        check=True,
        capture_output=True,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
    )


def install_postgres() -> Path:
    """The directory of PostgreSQL's programs, installed from Debian first when missing (as root)."""
    bindir = _postgres_bin()
    if bindir is None and os.geteuid() == 0:
        apt_install("postgresql")
        bindir = _postgres_bin()
    if bindir is None:
        raise RuntimeError("PostgreSQL is not installed and this is not root: apt-get install postgresql")
    return bindir


class PostgresServer:
    """One postgres process (a postmaster) on 127.0.0.1: start, SIGKILL it, start it again on the same data."""

    def __init__(self):
        self.bindir = install_postgres()
        # Its own directory under /tmp, not under pytest's (which only root may enter): the service user owns it
        self.root = Path(tempfile.mkdtemp(prefix="mt-test-postgres-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.user = SERVICE_USER if os.geteuid() == 0 else None
        if self.user:
            shutil.chown(self.root, self.user, self.user)
        self._as_user(
            [str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8"]
        )

    def _as_user(self, argv: list[str]) -> None:
        done = subprocess.run(argv, capture_output=True, text=True, user=self.user, group=self.user, cwd=self.root)
        if done.returncode:
            raise RuntimeError(f"{argv[0]} failed: {done.stdout[-1000:]}{done.stderr[-1000:]}")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self, timeout: float = 60) -> None:
        log = open(self.root / "postgres.log", "ab")  # noqa: SIM115 - the child has its own copy once started
        self.process = subprocess.Popen(
            [
                str(self.bindir / "postgres"),
                *("-D", str(self.data), "-p", str(self.port), "-k", str(self.root)),
                *("-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "shared_buffers=32MB"),
                *("-c", "max_connections=60"),
            ],
            user=self.user,
            group=self.user,
            cwd=self.root,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"postgres exited: {(self.root / 'postgres.log').read_text()[-2000:]}")
            try:
                with psycopg.connect(self.url(), connect_timeout=2):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)  # polling with a deadline

    def kill(self) -> None:
        """SIGKILL the postmaster (its backends see it gone and exit); wait until it is gone."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(30)
        # Backends outlive a killed postmaster for a moment and hold the shared memory: a restart waits for them.
        pid_file = self.data / "postmaster.pid"
        deadline = time.monotonic() + 30
        while pid_file.exists() and _orphans(self.data) and time.monotonic() < deadline:
            time.sleep(0.05)

    def freeze(self) -> None:
        """SIGSTOP the postmaster, then its backends: the connections stay open, and nothing answers on them."""
        for pid in [self.process.pid, *_backends(self.data)]:
            os.kill(pid, signal.SIGSTOP)

    def thaw(self) -> None:
        for pid in [self.process.pid, *_backends(self.data)]:
            os.kill(pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # fast shutdown
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()
        shutil.rmtree(self.root, ignore_errors=True)

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def _orphans(data: Path) -> bool:
    """Whether a process of this data directory's server still runs (a backend of a killed postmaster)."""
    return any(_backends(data))


def _backends(data: Path) -> Iterator[int]:
    """The pids of this data directory's server processes other than the postmaster (its backends and helpers)."""
    for cmdline in glob.glob("/proc/[0-9]*/cmdline"):
        try:
            text = Path(cmdline).read_bytes()
        except OSError:
            continue
        if text.startswith(b"postgres:") and _same_server(cmdline, data):
            yield int(Path(cmdline).parent.name)


def _same_server(cmdline: str, data: Path) -> bool:
    try:
        return os.readlink(Path(cmdline).parent / "cwd") == str(data)
    except OSError:
        return False  # not ours to see


RABBITMQ_USER = "rabbitmq"  # created by Debian's rabbitmq-server
RABBITMQ_SERVER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")


def install_rabbitmq() -> Path:
    """RabbitMQ's server program, installed from Debian first when missing (as root)."""
    if not RABBITMQ_SERVER.exists() and os.geteuid() == 0:
        apt_install("rabbitmq-server")
    if not RABBITMQ_SERVER.exists():
        raise RuntimeError("RabbitMQ is not installed and this is not root: apt-get install rabbitmq-server")
    return RABBITMQ_SERVER


class RabbitMQServer:
    """One RabbitMQ node on 127.0.0.1 with its own mnesia, log and cookie: start, SIGKILL it, start it again.

    As root it runs as Debian's `rabbitmq` user (its Erlang cookie must not be readable by others)."""

    def __init__(self):
        self.program = install_rabbitmq()
        self.root = Path(tempfile.mkdtemp(prefix="mt-test-rabbitmq-"))
        self.port = free_port()
        self.dist_port = free_port()
        while self.dist_port == self.port:
            self.dist_port = free_port()
        self.node = f"rabbit-test-{self.port}@localhost"
        self.user = RABBITMQ_USER if os.geteuid() == 0 else None
        for name in ("mnesia", "log", "home"):
            (self.root / name).mkdir()
        if self.user:
            for path in (self.root, *self.root.iterdir()):
                shutil.chown(path, self.user, self.user)
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    def _env(self) -> dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
            "HOME": str(self.root / "home"),
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(self.root / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.root / "log"),
            "RABBITMQ_CONFIG_FILE": str(self.root / "rabbitmq"),  # none there: the defaults, not /etc's
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.root / "enabled_plugins"),
            "RABBITMQ_PID_FILE": str(self.root / "rabbit.pid"),
        }

    def start(self, timeout: float = 90) -> None:
        log = open(self.root / "server.log", "ab")  # noqa: SIM115 - the child has its own copy once started
        self.process = subprocess.Popen(
            [str(self.program)],
            user=self.user,
            group=self.user,
            cwd=self.root,
            env=self._env(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: kill() takes every Erlang process of the node
        )
        log.close()
        deadline = time.monotonic() + timeout
        while not self.answers():
            if self.process.poll() is not None:
                raise RuntimeError(f"rabbitmq-server exited: {(self.root / 'server.log').read_text()[-2000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"rabbitmq-server did not answer: {(self.root / 'server.log').read_text()[-2000:]}")
            time.sleep(0.1)  # polling with a deadline

    def answers(self) -> bool:
        """Whether the node accepts an AMQP connection (login included)."""
        import amqp

        try:
            connection = amqp.Connection(f"127.0.0.1:{self.port}", connect_timeout=1)
            connection.connect()
            connection.close()
            return True
        except Exception:
            return False

    def freeze(self) -> None:
        """SIGSTOP the node (its whole process group): connections stay open, and nothing answers on them."""
        os.killpg(self.process.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        os.killpg(self.process.pid, signal.SIGCONT)

    def kill(self) -> None:
        """SIGKILL the node (its whole process group); wait until it is gone."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)  # a clean shutdown
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()
        shutil.rmtree(self.root, ignore_errors=True)
