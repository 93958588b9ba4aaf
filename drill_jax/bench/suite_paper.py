"""Paper benchmark: wall time of the paper-figures script's quick run, timed by the caller.

The library never imports or runs the repository's ``experiments/`` scripts. The entry
point (``experiments/benchmark.py``) runs and times the script and hands the measurement
in as a ``PaperTiming`` (through ``suites.run_suites(time_paper=...)``); ``paper_suite``
only turns it into the report's row and figures.
"""

from __future__ import annotations

import dataclasses
from typing import Optional

from drill_jax.bench.report import at_most

DEFAULT_LABEL = "paper: quick run wall time"


@dataclasses.dataclass(frozen=True)
class PaperTiming:
    """One timed run of the paper-figures script, measured outside the library.

    Attributes:
      label: the table row's ``figure`` cell (names the script and its flags).
      wall_s: wall-clock seconds from start to exit (or to the timeout); None when the
        script was not run.
      returncode: the run's exit status; None when it timed out or was not run.
      command: the command line run, without the interpreter path.
      stderr_tail: the end of the run's stderr, or a timeout message ("" when none).
      unavailable: why the script was not run (e.g. it is missing), or None when it ran.
    """

    label: str = DEFAULT_LABEL
    wall_s: Optional[float] = None
    returncode: Optional[int] = None
    command: Optional[str] = None
    stderr_tail: str = ""
    unavailable: Optional[str] = None

    def __post_init__(self):
        if self.unavailable is None and (self.wall_s is None or self.command is None):
            raise ValueError("a PaperTiming of a run needs wall_s and command")

    @property
    def ok(self) -> bool:
        """The run finished with exit status 0."""
        return self.unavailable is None and self.returncode == 0


def paper_suite(paper: Optional[PaperTiming]) -> dict:
    """Row, targets and figures of one timed paper quick run (None: not supplied).

    Figures: {"available": False} when the script did not run; otherwise available, ok,
    wall_s (seconds), returncode, command and stderr_tail (None when the run was ok).
    """
    if paper is None:
        paper = PaperTiming(unavailable="no paper run supplied")
    row = {"figure": paper.label}
    if paper.unavailable is not None:
        row["status"] = f"not available ({paper.unavailable})"
        return {"rows": [row], "targets": [], "figures": {"available": False}}
    ok, rc, tail, wall = paper.ok, paper.returncode, paper.stderr_tail, paper.wall_s
    row["wall s"] = wall
    row["status"] = "ok" if ok else f"failed (rc={rc}): {tail.strip().splitlines()[-1:]}"
    measured = wall if ok else None
    return {
        "rows": [row],
        "targets": [at_most("paper --quick wall time (2 CPU cores)", measured, 30.0, " s")],
        "figures": {
            "available": True,
            "ok": ok,
            "wall_s": wall,
            "returncode": rc,
            "command": paper.command,
            "stderr_tail": None if ok else tail,
        },
    }
