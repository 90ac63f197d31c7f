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
    script = shutil.which("vecdex")
    command = [script] if script else [sys.executable, "-m", "vecdex"]
    if db is not None:
        command += ["--db", str(db)]
    return subprocess.run(command + list(args), input=input, cwd=cwd, env=full_env, capture_output=True,
                          timeout=timeout)
