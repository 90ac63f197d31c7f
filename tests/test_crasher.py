"""The crasher soak, short: several writer processes (vectors and GloVe text with a
worker pool) killed with SIGKILL at random moments and restarted; after every
round the invariants of bench/crasher.py must hold (acknowledged writes present,
no phantom or duplicate, every chunk in the index and found by its own vector,
no orphan process, no stray temp file, ``vecdex check`` clean)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import REPO


@pytest.mark.slow
def test_short_crasher_soak(tmp_path):
    result = subprocess.run(
        [sys.executable, str(REPO / "bench" / "crasher.py"), "--seconds", "40", "--min-kills", "20",
         "--folder", str(tmp_path / "soak"), "--json", "--seed", "7"],
        capture_output=True, timeout=600)
    summary = json.loads(result.stdout.decode().strip().splitlines()[-1])
    assert summary["kills"] >= 20
    assert summary["acknowledged_writes"] > 0
    assert summary["violations"] == {}, result.stderr.decode()[-3000:]
    assert result.returncode == 0


def test_the_crasher_model_accepts_both_outcomes_of_an_unacknowledged_write(tmp_path):
    sys.path.insert(0, str(REPO / "bench"))
    try:
        import crasher
    finally:
        sys.path.remove(str(REPO / "bench"))
    log = tmp_path / "vector-0.log"
    log.write_text("\n".join(json.dumps(e) for e in [
        {"ev": "intent", "op": "upsert", "ids": {"a": 1, "b": 1}}, {"ev": "done"},
        {"ev": "intent", "op": "delete", "ids": {"a": -1}}, {"ev": "done"},
        {"ev": "intent", "op": "upsert", "ids": {"b": 2, "c": 1}},  # killed before its done line
    ]) + "\n" + '{"ev": "do')  # and a line cut in half
    state, maybe = crasher.expected([log])
    assert state == {"a": -1, "b": 1}
    assert maybe == {"b": {1, 2}, "c": {0, 1}}
