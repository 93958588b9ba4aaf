"""Shared test set-up: deterministic, CPU-only, 4 host devices, strict rank promotion, one
compilation cache per test run.

Set before JAX starts: 4 forced CPU devices let tests/test_parallel.py build a 4-device mesh
in the test process; every other test uses the first device, as a plain run does.

The compilation cache is a fresh, empty folder made by the process that starts the run and
removed when the run ends. The xdist workers and the scripts the tests start inherit it, so
a program compiled in one of them (same computation, shapes and flags) is loaded, not
compiled again, by the others; a loaded program is the same executable, so results do not
change. Every program is cached (no minimum compile time), so what is cached does not
depend on how busy the machine is. A JAX_COMPILATION_CACHE_DIR set by the user is kept.

Test modules marked ``pytestmark = pytest.mark.quick_compile`` spend their time compiling
small programs that then run a few steps: they compile with most of XLA's optimisations off
(``jax_disable_most_optimizations``), which cuts their user CPU time by 20-40 %. Both sides
of every comparison in such a module compile the same way; modules whose programs run long
(training loops of many steps) keep the optimising compiler, which runs them faster.
"""

import importlib
import os
import shutil
import sys
import tempfile

import pytest

if "xla_force_host_platform_device_count" not in os.environ.get("XLA_FLAGS", ""):
    _flags = os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=4"
    os.environ["XLA_FLAGS"] = _flags.strip()

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("JAX_NUMPY_RANK_PROMOTION", "raise")
os.environ.setdefault("NUMBA_CACHE_DIR", os.path.join(os.path.expanduser("~"), ".cache", "numba"))

_CACHE_OWNER = "DRILL_JAX_TEST_CACHE_OWNER"  # pid of the process that made the cache folder
if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
    os.environ["JAX_COMPILATION_CACHE_DIR"] = tempfile.mkdtemp(prefix="drill_jax_jit_")
    os.environ[_CACHE_OWNER] = str(os.getpid())
    os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
    os.environ["JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES"] = "0"


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "quick_compile: compile this module's programs with most XLA optimisations off"
    )


@pytest.fixture(scope="module", autouse=True)
def _quick_compile(request):
    """Most XLA optimisations off while a ``quick_compile`` module runs (its module-scoped
    fixtures included); the previous setting is restored after it."""
    if request.node.get_closest_marker("quick_compile") is None:
        yield
        return
    import jax

    name = "jax_disable_most_optimizations"
    previous = jax.config.read(name)
    jax.config.update(name, True)
    try:
        yield
    finally:
        jax.config.update(name, previous)


def pytest_sessionfinish(session, exitstatus):
    """The process that made the compilation cache removes it when the run ends."""
    del session, exitstatus
    if os.environ.get(_CACHE_OWNER) == str(os.getpid()):
        shutil.rmtree(os.environ["JAX_COMPILATION_CACHE_DIR"], ignore_errors=True)


def _script_flags(flag_values) -> tuple[dict, set]:
    """({name: Flag} of every flag that absl itself did not define, {id of absl's flags})."""
    absl_ids = {
        id(f)
        for module, defined in flag_values.flags_by_module_dict().items()
        if module.split(".")[0] == "absl"
        for f in defined
    }
    names = {n: flag_values[n] for n in list(flag_values) if id(flag_values[n]) not in absl_ids}
    return names, absl_ids


def _set_aside_scripts(flag_values) -> tuple[dict, dict]:
    """Removes the experiments modules and every non-absl flag; returns what it removed."""
    modules = {
        k: sys.modules.pop(k) for k in list(sys.modules) if k.split(".")[0] == "experiments"
    }
    names, absl_ids = _script_flags(flag_values)
    registry = {
        "module": flag_values.flags_by_module_dict(),
        "module_id": flag_values.flags_by_module_id_dict(),
        "key": flag_values.key_flags_by_module_dict(),
    }
    registry = {
        kind: {m: [f for f in fs if id(f) not in absl_ids] for m, fs in table.items()}
        for kind, table in registry.items()
    }
    for name in names:
        delattr(flag_values, name)
    return modules, {"names": names, **registry}


def _bring_back(flag_values, modules: dict, saved: dict) -> None:
    """Undoes ``_set_aside_scripts`` after dropping what the script loaded and defined."""
    for k in [k for k in sys.modules if k.split(".")[0] == "experiments"]:
        del sys.modules[k]
    sys.modules.update(modules)
    for name in _script_flags(flag_values)[0]:
        delattr(flag_values, name)
    for name, flag in saved["names"].items():
        flag_values[name] = flag
    registers = {
        "module": flag_values.register_flag_by_module,
        "module_id": flag_values.register_flag_by_module_id,
        "key": flag_values.register_key_flag_for_module,
    }
    for kind, register in registers.items():
        for module, defined in saved[kind].items():
            for flag in defined:
                register(module, flag)


def _exit_status(code) -> int:
    """The status ``sys.exit(code)`` gives a process: None 0, an int itself, anything else
    (a message, printed to stderr) 1."""
    if code is None or isinstance(code, int):
        return code or 0
    print(code, file=sys.stderr)
    return 1


@pytest.fixture
def run_script(monkeypatch, capsys):
    """run_script(module, *args) -> (exit code, stdout, stderr) of ``python -m
    experiments.<module> *args``, run in this process (no interpreter and JAX start-up).

    The script, its ``experiments`` modules and its flags are loaded afresh and dropped
    afterwards, so flags that other scripts loaded by earlier tests defined neither clash
    nor leak; those flags and modules are back after the call. The exit code is the one
    ``python -m`` would give (``common.run_main``: 0, 1 or 2 with a one-line error)."""
    from absl import flags

    monkeypatch.syspath_prepend(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

    def run(module: str, *args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = 0
        modules, saved = _set_aside_scripts(flags.FLAGS)
        try:
            monkeypatch.setattr(sys, "argv", [f"experiments/{module}.py", *args])
            script = importlib.import_module(f"experiments.{module}")
            common = importlib.import_module("experiments.common")
            try:
                common.run_main(script.main)
            except SystemExit as done:
                code = _exit_status(done.code)
        finally:
            _bring_back(flags.FLAGS, modules, saved)
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


# The test files that take longest (compiles, subprocesses, Ray): handed to the xdist workers
# first, so that neither worker is left running one of them while the other waits
# (longest-processing-time-first; `--dist loadfile` keeps each file on one worker).
_LONG_FILES = (
    "tests/grid/test_ray.py",
    "tests/dcase/test_job.py",
    "tests/vae/test_registry.py",
    "tests/test_parallel_multihost.py",
    "tests/vae/test_onset_decoder.py",
    "tests/dcase/test_asd.py",
    "tests/detection/test_registry.py",
    "tests/detection/test_unsupervised.py",
    "tests/vae/test_networks.py",
    "tests/evaluation/test_protocols.py",
    "tests/evaluation/test_pipeline.py",
)


def pytest_collection_modifyitems(config, items):
    """Runs the long test files first (stable order otherwise)."""
    del config
    rank = {path: i for i, path in enumerate(_LONG_FILES)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))
