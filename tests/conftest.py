"""Shared test set-up: deterministic, CPU-only, 4 host devices, strict rank promotion.

Set before JAX starts: 4 forced CPU devices let tests/test_parallel.py build a 4-device mesh
in the test process; every other test uses the first device, as a plain run does.
"""

import os

if "xla_force_host_platform_device_count" not in os.environ.get("XLA_FLAGS", ""):
    _flags = os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=4"
    os.environ["XLA_FLAGS"] = _flags.strip()

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("JAX_NUMPY_RANK_PROMOTION", "raise")
os.environ.setdefault("NUMBA_CACHE_DIR", os.path.join(os.path.expanduser("~"), ".cache", "numba"))
