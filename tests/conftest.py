"""Shared fixtures: temp stores, the fake embedder, real corpora that ship with gensim."""

from __future__ import annotations

import os
import shutil
import sqlite3  # noqa: F401  (before any test imports TensorFlow, whose own SQLite lacks FTS5)
import subprocess
import sys
from pathlib import Path

import pytest
from vecdex.indexer.embedders import factory

REPO = Path(__file__).resolve().parent.parent
TESTS = REPO / "tests"



@pytest.fixture(autouse=True)
def fake_embedder():
    """The fake embedder, registered like a real backend for each test (so plumbing
    tests go through the same factory and spec round trip) and removed after it."""
    with factory.embedders.registered("fake", "fakes:FakeEmbedder"):
        yield


@pytest.fixture(autouse=True)
def fresh_worker_pool():
    """The indexing worker pool outlives one add() (indexer.pipeline.shared_pool):
    each test stops the one it made, so a later test's monkeypatching is seen by
    workers forked after it."""
    yield
    from vecdex.indexer import pipeline

    pipeline.shutdown_pool()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "store.db"


@pytest.fixture
def vx(db_path):
    from vecdex.search import Vecdex

    with Vecdex(db_path) as store:
        yield store


@pytest.fixture
def fake_collection(vx):
    return vx.collection("fake", create=True, embedder="fake")


@pytest.fixture(scope="session")
def lee_background() -> Path:
    from gensim.test.utils import datapath

    return Path(datapath("lee_background.cor"))


@pytest.fixture(scope="session")
def lee_lines(lee_background) -> list[str]:
    return lee_background.read_text("utf-8").splitlines()


#: Documents in :func:`lee_news_jsonl`.
LEE_NEWS_DOCS = 3000


@pytest.fixture(scope="session")
def lee_news_jsonl(tmp_path_factory, lee_lines) -> Path:
    """3,000 real news paragraphs (Lee corpus lines, recombined) as JSONL: what the
    kill and interrupt tests index."""
    import json

    path = tmp_path_factory.mktemp("lee-news") / "corpus.jsonl"
    with open(path, "w", encoding="utf-8") as handle:
        for i in range(LEE_NEWS_DOCS):
            text = " ".join(lee_lines[(i * 7 + j) % len(lee_lines)] for j in range(2))
            handle.write(json.dumps({"id": f"doc-{i}", "text": text, "n": i}) + "\n")
    return path


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory):
    """Model caches go to a per-session temp folder, never the user's home."""
    os.environ["VECDEX_CACHE_DIR"] = str(tmp_path_factory.mktemp("vecdex-cache"))
    yield


def run_vecdex(*args: str, db: Path | None = None, input: bytes | None = None, cwd: Path | None = None,
               env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run the installed console script (else ``python -m vecdex``); the tests folder is on
    the path only so that subprocesses can load the fake embedder."""
    full_env = {**os.environ, **(env or {})}
    full_env["PYTHONPATH"] = os.pathsep.join([str(TESTS), full_env.get("PYTHONPATH", "")])
    # The console script of the interpreter running the tests (a venv's, not whichever
    # vecdex is first on PATH), else the first on PATH, else python -m vecdex.
    beside = Path(sys.executable).parent / "vecdex"
    script = str(beside) if beside.is_file() else shutil.which("vecdex")
    command = [script] if script else [sys.executable, "-m", "vecdex"]
    if db is not None:
        command += ["--db", str(db)]
    return subprocess.run(command + list(args), input=input, cwd=cwd, env=full_env, capture_output=True,
                          timeout=timeout)


# -- PostgreSQL: a real server (.ci/run makes sure one is reachable) ---------------------------

PG_SERVER_URL = os.environ.get("VECDEX_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
PG_FIXTURES = {"pg_url", "store_target", "pg_server"}


def _pg_admin():
    """An autocommit connection to the server's maintenance database (None if unreachable)."""
    try:
        import psycopg
        from sqlalchemy.engine import make_url
    except ImportError:
        return None
    conninfo = make_url(PG_SERVER_URL).set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        return psycopg.connect(conninfo, autocommit=True, connect_timeout=5)
    except psycopg.Error:
        return None


@pytest.fixture(scope="session")
def pg_server():
    """The PostgreSQL server tests create their databases on (skipped if none: a
    failure under CI=true, see pytest_runtest_makereport)."""
    admin = _pg_admin()
    if admin is None:
        pytest.skip(f"no PostgreSQL server reachable at {PG_SERVER_URL} (set VECDEX_TEST_PG_URL)")
    yield admin
    admin.close()


def new_pg_database(admin) -> str:
    """A fresh database named vecdex_test_* (only such databases are ever dropped)."""
    import uuid

    from sqlalchemy.engine import make_url

    name = f"vecdex_test_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    return make_url(PG_SERVER_URL).set(drivername="postgresql+psycopg", database=name).render_as_string(
        hide_password=False)


def drop_pg_database(admin, url: str) -> None:
    from sqlalchemy.engine import make_url

    name = make_url(url).database
    assert name.startswith("vecdex_test_")
    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_url(pg_server):
    """A fresh, empty PostgreSQL database for this test, dropped after it."""
    url = new_pg_database(pg_server)
    yield url
    drop_pg_database(pg_server, url)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_target(request, tmp_path):
    """The same test against both stores: a SQLite file path, or a PostgreSQL URL."""
    if request.param == "sqlite":
        yield str(tmp_path / "store.db")
    else:
        yield request.getfixturevalue("pg_url")


@pytest.fixture
def any_vx(store_target):
    from vecdex.search import Vecdex

    with Vecdex(store_target) as store:
        yield store


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Under CI=true a skipped PostgreSQL test is a failure: CI must run them all."""
    outcome = yield
    report = outcome.get_result()
    if (report.skipped and os.environ.get("CI") == "true"
            and PG_FIXTURES & set(getattr(item, "fixturenames", ()))):
        report.outcome = "failed"
        report.longrepr = f"PostgreSQL test skipped under CI=true: {report.longrepr}"
