"""Many-devices benchmark: data-parallel VAE examples/s against the device count.

Each count runs ``suite_vae.parallel_vae_timing`` in its own Python subprocess (JAX fixes
the device count at start), with forced CPU host devices.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from drill_jax.bench.suite_config import SuiteConfig
from drill_jax.bench.timing import _ms


def devices_suite(suite: SuiteConfig, repo_dir: str) -> dict:
    """Data-parallel VAE examples/s against device count (forced CPU host devices).

    Each count runs in its own subprocess with
    ``XLA_FLAGS=--xla_force_host_platform_device_count=k`` (JAX fixes the count at start).
    On a CPU the devices share the same cores, so this measures overhead, not speed-up.
    """
    rows, figures = [], {}
    for k in suite.device_counts:
        env = dict(os.environ)
        env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={k}"
        env.setdefault("JAX_PLATFORMS", "cpu")
        code = (
            "import json; from drill_jax.bench import suite_vae; "
            f"print('RESULT ' + json.dumps(suite_vae.parallel_vae_timing("
            f"{suite.devices_batch}, {suite.devices_repeats}, seed={suite.seed})))"
        )
        proc = subprocess.run(
            [sys.executable, "-c", code],
            cwd=repo_dir,
            env=env,
            capture_output=True,
            text=True,
            timeout=1800,
        )
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
        if proc.returncode != 0 or not lines:
            rows.append(
                {
                    "figure": f"data-parallel VAE step, {k} device(s)",
                    "status": f"failed: {proc.stderr.strip().splitlines()[-1:]}",
                }
            )
            continue
        r = json.loads(lines[-1][len("RESULT ") :])
        figures[str(k)] = r
        rows.append(
            {
                "figure": f"data-parallel VAE step, {k} device(s), batch {suite.devices_batch}",
                "ex/s": r["items_per_s"],
                "ms/step (median)": _ms(r["median"]),
                "compile s": r["compile_s"],
                "devices seen": r["devices"],
            }
        )
    return {"rows": rows, "targets": [], "figures": figures}
