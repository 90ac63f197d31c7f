"""vecdex installs as one package, ``vecdex``: nothing generic lands in site-packages,
every source module of the tree is in the wheel, and the tests run against the
installed package (not the source tree)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile

import pytest
from conftest import REPO

import vecdex

SOURCE_FOLDERS = ("search", "indexer", "storage")
ROOT_MODULES = ("__init__.py", "__main__.py", "cli.py", "errors.py")


def _tree_packages() -> set[str]:
    return {"vecdex"} | {
        "vecdex." + init.parent.relative_to(REPO).as_posix().replace("/", ".")
        for top in SOURCE_FOLDERS for init in (REPO / top).rglob("__init__.py")
    }


def test_package_list_in_pyproject_matches_the_tree():
    config = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))["tool"]["setuptools"]
    assert config["package-dir"] == {"vecdex": "."}
    assert set(config["packages"]) == _tree_packages()


def test_tests_import_the_installed_package_not_a_source_folder():
    # The source folders are not importable as top-level names (no pythonpath hack),
    # and vecdex resolves to an installed distribution (a wheel or an editable install).
    from importlib.metadata import distribution

    assert distribution("vecdex").version == vecdex.__version__
    for name in ("search", "storage", "indexer", "cli"):
        assert name not in sys.modules or not getattr(sys.modules[name], "__file__", "").startswith(str(REPO))


@pytest.mark.slow
def test_wheel_holds_only_the_vecdex_package_and_every_source_module(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp_path), str(REPO)], check=True, capture_output=True)
    [wheel] = list(tmp_path.glob("vecdex-*.whl"))
    names = [n for n in zipfile.ZipFile(wheel).namelist() if ".dist-info/" not in n]
    assert {n.split("/")[0] for n in names} == {"vecdex"}, sorted(names)[:20]
    expected = {
        "vecdex/" + path.relative_to(REPO).as_posix()
        for top in SOURCE_FOLDERS for path in (REPO / top).rglob("*.py")
    } | {f"vecdex/{name}" for name in ROOT_MODULES}
    assert expected <= set(names), sorted(expected - set(names))
    assert not [n for n in names if n.startswith(("vecdex/tests/", "vecdex/bench/"))]


@pytest.mark.slow
def test_installed_wheel_imports_as_vecdex_only(tmp_path):
    """A wheel installed into a fresh target folder: ``import vecdex`` and ``python -m
    vecdex`` work, the generic names do not exist."""
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp_path / "dist"), str(REPO)], check=True, capture_output=True)
    [wheel] = list((tmp_path / "dist").glob("vecdex-*.whl"))
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                   check=True, capture_output=True)
    assert sorted(p.name for p in target.iterdir() if not p.name.endswith(".dist-info")) == ["bin", "vecdex"] \
        or sorted(p.name for p in target.iterdir() if not p.name.endswith(".dist-info")) == ["vecdex"]
    code = ("import importlib.util, vecdex; print(vecdex.__file__); "
            "print([n for n in ('search', 'storage', 'indexer', 'cli') if importlib.util.find_spec(n)])")
    out = subprocess.run([sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(target)!r}); {code}"],
                         capture_output=True, text=True, cwd=tmp_path, check=True)
    first, second = out.stdout.splitlines()
    assert first.startswith(str(target / "vecdex"))
    assert second == "[]"
    help_out = subprocess.run([sys.executable, "-c", f"import sys, runpy; sys.path.insert(0, {str(target)!r}); "
                               "sys.argv = ['vecdex', '--help']; runpy.run_module('vecdex', run_name='__main__')"],
                              capture_output=True, text=True, cwd=tmp_path)
    assert help_out.returncode == 0 and "index your documents" in help_out.stdout


@pytest.mark.slow
def test_editable_install_maps_the_same_package(tmp_path):
    """An editable install (how developers work) resolves vecdex.* to this tree."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--no-deps", "--no-build-isolation", "-q", "-e", str(REPO)],
                   check=True, capture_output=True)
    # The venv sees the base interpreter's packages (for build tools); a regular vecdex
    # installed there (as CI's `pip install .` leaves one) would shadow the editable
    # finder, so the check looks past the base site-packages. find_spec loads only the
    # packages' light __init__ modules (no numpy), which the venv alone can import.
    code = ("import importlib.util, sys; "
            "sys.path[:] = [p for p in sys.path if not (p.startswith(sys.base_prefix) and 'site-packages' in p)]; "
            "print(importlib.util.find_spec('vecdex.search.engine').origin); "
            "print(importlib.util.find_spec('vecdex.cli').origin)")
    out = subprocess.run([str(python), "-c", code], capture_output=True, text=True, cwd=tmp_path, check=True)
    assert out.stdout.split() == [str(REPO / "search" / "engine.py"), str(REPO / "cli.py")]


def test_public_api_and_one_error_root():
    assert {"Vecdex", "Collection", "Hit", "VecdexError"} <= set(vecdex.__all__)
    from vecdex.search.engine import Collection, Hit, Vecdex

    assert (vecdex.Vecdex, vecdex.Collection, vecdex.Hit) == (Vecdex, Collection, Hit)
    for name in ("StoreError", "QueryError", "ModelMismatchError", "EmbedderError", "EvaluationError",
                 "InputError", "ConfigError"):
        assert issubclass(getattr(vecdex, name), vecdex.VecdexError), name
    from vecdex.search.workbench.evaluate import EvalError
    from vecdex.search.workbench.model_eval import EvaluationError

    assert EvalError is EvaluationError is vecdex.EvaluationError


def test_repository_top_level_is_the_design_cards():
    """The design card fixes the top level; new code goes into search/, indexer/ or storage/
    (CLI command modules: search/commands/). The package root adds only its own modules."""
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True)
    if tracked.returncode != 0:
        pytest.skip("not a git checkout")
    top = {line.split("/")[0] for line in tracked.stdout.splitlines()}
    allowed = {"search", "indexer", "storage", "tests", "cli.py", "pyproject.toml", "README.md",
               *ROOT_MODULES, "bench", ".ci", ".gitignore"}
    assert top <= allowed, sorted(top - allowed)


def test_the_checkouts_init_imports_outside_a_package():
    """pytest imports the checkout's own __init__.py (the repository root is the
    package) for package-level setup, under the folder's name: in a folder whose name
    is not a package name ("vecdex-main") a module-level relative import failed
    every test. It must import on its own and answer pytest's look-ups."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("__init__", REPO / "__init__.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert getattr(module, "setup_module", None) is None and getattr(module, "setUpModule", None) is None
