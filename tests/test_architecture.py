"""The architecture as tests: the import-linter contracts in setup.cfg hold (and can break),
no import cycles (function-level imports included), no module over 450 lines."""

import os
import shutil
import subprocess
import sys

import grimp
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAX_LINES = 450


def _lint(cwd: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=cwd)
    cmd = [
        sys.executable,
        "-c",
        "from importlinter.cli import lint_imports_command; lint_imports_command()",
        "setup.cfg",
    ]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_import_contracts_are_kept():
    out = _lint(REPO)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "3 kept, 0 broken" in out.stdout


def test_a_backward_import_breaks_the_layers_contract(tmp_path):
    for name in ("drill_jax", "experiments"):
        shutil.copytree(
            os.path.join(REPO, name), tmp_path / name, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(os.path.join(REPO, "setup.cfg"), tmp_path / "setup.cfg")
    mel = tmp_path / "drill_jax" / "features" / "mel.py"
    mel.write_text(mel.read_text() + "\nfrom drill_jax.detection import scoring  # noqa\n")
    out = _lint(str(tmp_path))
    assert out.returncode != 0
    assert "BROKEN" in out.stdout and "drill_jax.features.mel -> drill_jax.detection" in out.stdout


def _cycles(graph, package: str) -> list:
    """Every import cycle among the modules of ``package`` (one representative per cycle)."""
    modules = sorted(m for m in graph.modules if m == package or m.startswith(package + "."))
    state, stack, found = {}, [], []

    def visit(m):
        state[m] = "open"
        stack.append(m)
        for n in sorted(graph.find_modules_directly_imported_by(m)):
            if not n.startswith(package):
                continue
            if state.get(n) == "open":
                found.append(stack[stack.index(n) :] + [n])
            elif n not in state:
                visit(n)
        stack.pop()
        state[m] = "done"

    for m in modules:
        if m not in state:
            visit(m)
    return found


def test_no_import_cycles_anywhere():
    graph = grimp.build_graph("drill_jax", "experiments", include_external_packages=False)
    # A package's __init__ importing its own modules is not a cycle between modules.
    for pkg in ("drill_jax.data", "drill_jax.features"):
        for m in list(graph.find_modules_directly_imported_by(pkg)):
            graph.remove_import(importer=pkg, imported=m)
    assert _cycles(graph, "drill_jax") == []
    assert _cycles(graph, "experiments") == []


def test_cycle_finder_finds_a_cycle():
    graph = grimp.ImportGraph()
    for a, b in (("p.a", "p.b"), ("p.b", "p.c"), ("p.c", "p.a"), ("p.c", "p.d")):
        graph.add_import(importer=a, imported=b)
    assert _cycles(graph, "p") == [["p.a", "p.b", "p.c", "p.a"]]


@pytest.mark.parametrize("top", ["drill_jax"])
def test_no_module_over_the_line_limit(top):
    long = {}
    for dirpath, _, names in os.walk(os.path.join(REPO, top)):
        for name in names:
            if name.endswith(".py"):
                path = os.path.join(dirpath, name)
                with open(path, encoding="utf-8") as f:
                    n = sum(1 for _ in f)
                if n > MAX_LINES:
                    long[os.path.relpath(path, REPO)] = n
    assert long == {}
