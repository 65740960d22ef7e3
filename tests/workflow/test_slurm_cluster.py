"""The workflow through a real single-node SLURM cluster (slurmctld + slurmd + munge on localhost).

On demand only (PGX_SLURM_TEST=1, as root, with Debian's slurm-wlm and munge installed): it starts daemons and
writes outside the repo, which a default test run must not do. `benchmarks/slurm_local.sh` does the work: the
bundled samples through `--profile profiles/slurm` and through a local run, then compares every stage table
and every patient report JSON.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.skipif(
    os.environ.get("PGX_SLURM_TEST") != "1" or os.geteuid() != 0 or not shutil.which("slurmctld"),
    reason="starts a SLURM cluster: set PGX_SLURM_TEST=1 and run as root with slurm-wlm and munge installed",
)


def test_slurm_run_equals_local_run(tmp_path):
    env = dict(os.environ, UNTIL=os.environ.get("UNTIL", "all"))
    proc = subprocess.run(["bash", str(REPO / "benchmarks" / "slurm_local.sh"), str(tmp_path)], env=env,
                          capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "tables and report JSON files identical between the local and the SLURM run" in proc.stdout
    assert "DIFFERENT" not in proc.stdout
