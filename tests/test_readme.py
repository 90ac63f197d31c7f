"""The README tells the truth: its Python example runs, and CI runs its test command."""

from __future__ import annotations

import re

from conftest import REPO

README = (REPO / "README.md").read_text("utf-8")


def code_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, re.S)


def test_python_api_examples_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    examples = code_blocks("python")
    assert examples
    for example in examples:
        exec(compile(example, "README.md", "exec"), {})


def test_quickstart_has_two_commands_and_ci_runs_the_test_one():
    quickstart = README.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    commands = [block.strip() for block in re.findall(r"```bash\n(.*?)```", quickstart, re.S)]
    assert len(commands) == 2 and all("\n" not in c for c in commands)
    assert commands[1] in (REPO / ".ci" / "run").read_text("utf-8")


def test_server_client_example_runs_against_a_real_server(tmp_path, capsys):
    from serving import Server

    section = README.split("## HTTP server", 1)[1].split("\n## ", 1)[0]
    [example] = re.findall(r"```py\n(.*?)```", section, re.S)
    assert 'vecdex.Client("http://127.0.0.1:8000")' in example
    with Server(tmp_path / "readme.db") as server:
        exec(compile(example.replace("http://127.0.0.1:8000", server.url), "README.md", "exec"), {})
    assert capsys.readouterr().out.splitlines()[0] == "2 1"
