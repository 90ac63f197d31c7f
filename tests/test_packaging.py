"""The wheel carries every package of the source tree (a missed subpackage breaks
`pip install .` users while tests on the source tree still pass)."""

from __future__ import annotations

import subprocess
import sys
import zipfile

import pytest
from conftest import REPO


@pytest.mark.slow
def test_wheel_contains_every_source_package(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp_path), str(REPO)], check=True, capture_output=True)
    [wheel] = list(tmp_path.glob("vecdex-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        path.relative_to(REPO).as_posix()
        for top in ("search", "indexer", "storage")
        for path in (REPO / top).rglob("*.py")
    } | {"cli.py"}
    assert expected <= names, sorted(expected - names)
