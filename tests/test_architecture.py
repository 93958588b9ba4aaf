"""The architecture as tests: the import-linter contracts in setup.cfg hold (and can break),
no import cycles (function-level imports included), no module over 450 lines, no script over
150 lines, no function over 80 lines or 8 parameters, no module-level mutable state changed by
functions (caches included) and no unbounded cache."""

import ast
import functools
import os
import shutil
import subprocess
import sys

import grimp
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAX_LINES = 450
MAX_SCRIPT_LINES = 150
MAX_FUNCTION_LINES = 80
MAX_PARAMETERS = 8
CHECKED = ("drill_jax", "experiments")


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


def _longer_than(limit: int, under: str) -> dict:
    """{path: lines} for the files under ``under`` with more than ``limit`` lines."""
    lines = {p: len(s.splitlines()) for p, s in _sources().items() if p.startswith(under)}
    return {p: n for p, n in lines.items() if n > limit}


def test_no_module_over_the_line_limit():
    long = _longer_than(MAX_LINES, "")
    assert long == {}, f"modules over {MAX_LINES} lines: {long}"


def test_no_script_over_the_line_limit():
    long = _longer_than(MAX_SCRIPT_LINES, "experiments" + os.sep)
    assert long == {}, f"experiments/*.py over {MAX_SCRIPT_LINES} lines: {long}"


# ---- The AST checks: each is a pure function of (path, source), run on the repository and
# on hand-written sources that must (and must not) be flagged.

_MUTABLE_CALLS = {
    "dict", "list", "set", "bytearray", "defaultdict", "OrderedDict", "Counter", "deque",
    "WeakKeyDictionary", "WeakValueDictionary",
}  # fmt: skip
_MUTABLE_NODES = (ast.Dict, ast.List, ast.Set, ast.DictComp, ast.ListComp, ast.SetComp)
_MUTATING_METHODS = {
    "append", "extend", "insert", "add", "update", "setdefault", "pop", "popitem", "clear",
    "remove", "discard", "appendleft", "extendleft", "popleft",
}  # fmt: skip


@functools.lru_cache(maxsize=1)
def _sources() -> dict:
    """{repo-relative path: source} for every .py file under drill_jax/ and experiments/."""
    out = {}
    for top in CHECKED:
        for dirpath, _, names in os.walk(os.path.join(REPO, top)):
            for name in sorted(names):
                if name.endswith(".py"):
                    path = os.path.join(dirpath, name)
                    with open(path, encoding="utf-8") as f:
                        out[os.path.relpath(path, REPO)] = f.read()
    return out


def _functions(tree: ast.AST, prefix: str = ""):
    """Yields (qualified name, node) for every function, method and nested function."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield prefix + node.name, node
            yield from _functions(node, prefix + node.name + ".")
        elif isinstance(node, ast.ClassDef):
            yield from _functions(node, prefix + node.name + ".")
        else:
            yield from _functions(node, prefix)


def _n_parameters(fn: ast.FunctionDef) -> int:
    """Parameters of ``fn`` with self/cls not counted; *args and **kwargs count one each."""
    a = fn.args
    names = [p.arg for p in a.posonlyargs + a.args + a.kwonlyargs]
    return sum(n not in ("self", "cls") for n in names) + (a.vararg is not None) + (
        a.kwarg is not None
    )


def long_functions(path: str, source: str) -> list:
    """['path:function:N lines/K params', ...] for functions over either limit. A function's
    lines run from its ``def`` (decorators not counted) to its last line."""
    out = []
    for name, fn in _functions(ast.parse(source, path)):
        n_lines = fn.end_lineno - fn.lineno + 1
        n_params = _n_parameters(fn)
        if n_lines > MAX_FUNCTION_LINES or n_params > MAX_PARAMETERS:
            out.append(f"{path}:{name}:{n_lines} lines/{n_params} params")
    return out


def _mutable_globals(tree: ast.Module) -> set:
    """Names bound at module level to a mutable container (literal, comprehension or call)."""
    names = set()
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        call = value.func if isinstance(value, ast.Call) else None
        called = getattr(call, "attr", getattr(call, "id", None))
        if isinstance(value, _MUTABLE_NODES) or called in _MUTABLE_CALLS:
            names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


def _own_nodes(fn: ast.AST):
    """The nodes of ``fn``'s signature and body, nested functions and classes left out (they
    are checked on their own)."""
    for child in ast.iter_child_nodes(fn):
        if not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            yield child
            yield from _own_nodes(child)


def _declared_global(fn: ast.AST) -> set:
    """Names that ``fn`` declares ``global``."""
    return {n for node in _own_nodes(fn) if isinstance(node, ast.Global) for n in node.names}


def _mutated_names(fn: ast.AST) -> set:
    """Module-level names that the body of ``fn`` mutates in place (item store/delete, a
    mutating method) or rebinds through ``global``; its arguments and the names it assigns
    are local and not counted."""
    nodes = list(_own_nodes(fn))
    declared = _declared_global(fn)
    local = {node.arg for node in nodes if isinstance(node, ast.arg)}
    local |= {n.id for n in nodes if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    out = set(declared)
    for node in nodes:
        if isinstance(node, ast.Subscript) and isinstance(node.ctx, (ast.Store, ast.Del)):
            target = node.value
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            target = node.func.value if node.func.attr in _MUTATING_METHODS else None
        else:
            continue
        if isinstance(target, ast.Name) and target.id not in local - declared:
            out.add(target.id)
    return out


def mutable_module_state(path: str, source: str) -> list:
    """['path:function:NAME', ...]: module-level mutable containers (caches, registries filled
    at run time) that a function changes, and names a function rebinds with ``global``.
    Constant tables (built at import, only read afterwards) are not flagged."""
    tree = ast.parse(source, path)
    state = _mutable_globals(tree)
    out = []
    for name, fn in _functions(tree):
        hits = _mutated_names(fn) & (state | _declared_global(fn))
        out += [f"{path}:{name}:{v}" for v in sorted(hits)]
    return out


def unbounded_caches(path: str, source: str) -> list:
    """['path:function', ...] for ``functools.cache`` and ``lru_cache(maxsize=None)``."""
    out = []
    for name, fn in _functions(ast.parse(source, path)):
        for dec in fn.decorator_list:
            target = dec.func if isinstance(dec, ast.Call) else dec
            called = getattr(target, "attr", getattr(target, "id", None))
            unbounded = called == "cache" or (
                called == "lru_cache"
                and isinstance(dec, ast.Call)
                and any(
                    k.arg == "maxsize" and isinstance(k.value, ast.Constant)
                    and k.value.value is None
                    for k in dec.keywords
                )
            )
            if unbounded:
                out.append(f"{path}:{name}")
    return out


def _offenders(check) -> list:
    return [hit for path, source in sorted(_sources().items()) for hit in check(path, source)]


def test_no_function_over_80_lines_or_8_parameters():
    found = _offenders(long_functions)
    assert found == [], "functions over the limits:\n" + "\n".join(found)


def test_no_module_level_mutable_state_changed_by_functions():
    found = _offenders(mutable_module_state)
    assert found == [], (
        "module-level mutable state changed by a function (pass it explicitly, or use a "
        "bounded functools.lru_cache keyed by content):\n" + "\n".join(found)
    )


def test_no_unbounded_cache():
    found = _offenders(unbounded_caches)
    assert found == [], "unbounded caches (give lru_cache a maxsize):\n" + "\n".join(found)


_BAD = '''
_CACHE = {}
_SEEN: list = []
_COUNT = 0


def f(a, b, c, d, e, f, g, h, i):
    return a


class C:
    def m(self, a, b, c, d, e, f, g, h):
        def inner(*args, **kwargs):
            _CACHE[id(args)] = kwargs
        return inner


def g():
    global _COUNT
    _COUNT += 1
    _SEEN.append(1)


@functools.lru_cache(maxsize=None)
def h(x):
    return x


@functools.cache
def k(x):
    return x
'''

_GOOD = '''
TABLE = {"a": 1}
NAMES = ["x", "y"]
NAMES.append("z")  # filled at import: a constant table


def f(self, a, b, c, d, e, f, g, h):
    local = {}
    local["k"] = TABLE["a"]
    NAMES = []
    return local


def g(TABLE):
    TABLE["b"] = 2  # an argument that shadows the table


@functools.lru_cache(maxsize=32)
def h(x):
    return x
'''


def test_the_checks_flag_what_they_should_and_nothing_else():
    def body(n_lines):
        return "def long():\n" + "    x = 1\n" * (n_lines - 1)

    limit = MAX_FUNCTION_LINES
    assert long_functions("m.py", body(limit + 1)) == [f"m.py:long:{limit + 1} lines/0 params"]
    assert long_functions("m.py", body(limit)) == []
    # 9 parameters is one too many; self is not counted, *args and **kwargs count one each.
    assert long_functions("m.py", _BAD) == ["m.py:f:2 lines/9 params"]
    assert mutable_module_state("m.py", _BAD) == [
        "m.py:C.m.inner:_CACHE", "m.py:g:_COUNT", "m.py:g:_SEEN"
    ]  # fmt: skip
    assert unbounded_caches("m.py", _BAD) == ["m.py:h", "m.py:k"]
    assert long_functions("m.py", _GOOD) == []
    assert mutable_module_state("m.py", _GOOD) == []
    assert unbounded_caches("m.py", _GOOD) == []
