"""A throwaway PostgreSQL cluster for the HQ store tests, and the two-backend fixture.

Debian's `postgresql` package puts initdb and pg_ctl under /usr/lib/postgresql/N/bin.
One cluster per test session (initdb costs a second or two), one fresh database per test.
It listens on a unix socket only (``listen_addresses=''``) in a private directory, so it
never clashes with another cluster or the system's; ``pg_ctl -w`` returns once it accepts
connections (no sleeping). PostgreSQL refuses to run as root, and CI runs as root: then
initdb and pg_ctl run as an unprivileged user (``kiosk-pgtest``, created if missing) that
owns the data and socket directory; the tests, as root, connect through the socket.
"""

from __future__ import annotations

import itertools
import os
import pwd
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

PG_USER = "kiosk-pgtest"
# The socket is <dir>/.s.PGSQL.<port>; the directory is private, so any port will do.
PORT = 5432


def pg_bindir() -> Path | None:
    """The newest installed server's bin directory, or None."""
    found = [p for p in Path("/usr/lib/postgresql").glob("*/bin") if (p / "pg_ctl").exists()]

    def version(p: Path) -> tuple[int, ...]:
        return tuple(int(x) for x in re.findall(r"\d+", p.parent.name)) or (0,)

    return max(found, key=version) if found else None


def _server_user() -> pwd.struct_passwd | None:
    """The user the server runs as: None for "as myself"; as root a dedicated user."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(PG_USER)
    except KeyError:
        pass
    made = subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir", "/",
                           "--shell", "/usr/sbin/nologin", PG_USER],
                          capture_output=True, text=True)
    try:
        return pwd.getpwnam(PG_USER)
    except KeyError:
        raise RuntimeError(f"cannot create the user {PG_USER} to run PostgreSQL as "
                           f"(PostgreSQL refuses root): {made.stderr.strip()}") from None


class PgCluster:
    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.user = _server_user()
        # Under /tmp, not pytest's tmp_path: root's tmp_path is 0700 (the server user could
        # not reach it) and deep paths overflow the 107-byte unix socket path limit.
        self.base = Path(tempfile.mkdtemp(prefix="kiosk-pg-"))
        self.data = self.base / "data"
        self.log = self.base / "server.log"
        if self.user is not None:
            os.chown(self.base, self.user.pw_uid, self.user.pw_gid)
        self.started = False

    def _run(self, *args: str) -> None:
        u = self.user
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C.UTF-8",
               "HOME": str(self.base)}
        done = subprocess.run([str(self.bindir / args[0]), *args[1:]], cwd=self.base, env=env,
                              capture_output=True, text=True, timeout=60,
                              user=u and u.pw_uid, group=u and u.pw_gid,
                              extra_groups=[] if u else None)
        if done.returncode != 0:
            log = self.log.read_text(errors="replace") if self.log.exists() else ""
            raise RuntimeError(f"{args[0]} failed ({done.returncode}): {done.stderr}{log}")

    def start(self, durable: bool = False) -> None:
        """``durable``: fsync and synchronous commit as in production (for benchmarks);
        the tests need neither (the cluster is thrown away)."""
        # C.UTF-8: Chinese text, and text ordered by code point as in SQLite.
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres",
                  "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")
        opts = f"-k {self.base} -c listen_addresses='' -p {PORT}"
        if not durable:
            opts += " -c fsync=off -c full_page_writes=off -c synchronous_commit=off"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", opts,
                  "-w", "-t", "60", "start")
        self.started = True

    def stop(self) -> None:
        if self.started:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
            self.started = False
        shutil.rmtree(self.base, ignore_errors=True)

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@/{dbname}?host={self.base}&port={PORT}"

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    pytest.importorskip("psycopg", reason="psycopg is not installed "
                        "(pip install -r requirements-dev.lock)")
    bindir = pg_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin "
                    "(apt-get install postgresql, or ./setup.sh deps)")
    cluster = PgCluster(bindir)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


_numbers = itertools.count(1)


@pytest.fixture
def pg_url(pg_cluster: PgCluster) -> str:
    """A postgresql:// URL of an empty database of its own."""
    return pg_cluster.create_database(f"hq_{os.getpid()}_{next(_numbers)}")


@pytest.fixture(params=["sqlite", "postgresql"])
def hq_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The HQ database on each backend: a SQLite file, then a PostgreSQL database."""
    if request.param == "sqlite":
        return str(tmp_path / "hq.db")
    return str(request.getfixturevalue("pg_url"))
