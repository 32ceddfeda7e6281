"""apply_torch_env_defaults sets unset variables only, and only before torch is imported."""

from __future__ import annotations

import json
import os
import subprocess
import sys

SCRIPT = """
import json, os, sys
if sys.argv[1] == "torch-loaded":
    sys.modules["torch"] = type(sys)("torch")  # stands in for an imported torch
from ft_core import apply_torch_env_defaults
applied = apply_torch_env_defaults(sys.argv[2] if len(sys.argv) > 2 else "train")
print(json.dumps({"applied": applied, "omp": os.environ.get("OMP_WAIT_POLICY"),
                  "thp": os.environ.get("THP_MEM_ALLOC_ENABLE")}))
"""


def _run(mode: str, workload: str = "train", **env: str) -> dict:
    clean = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "THP_MEM_ALLOC_ENABLE")}
    out = subprocess.run([sys.executable, "-c", SCRIPT, mode, workload], env={**clean, **env}, check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout)


def test_sets_unset_defaults_before_torch():
    assert _run("fresh") == {"applied": ["OMP_WAIT_POLICY", "THP_MEM_ALLOC_ENABLE"], "omp": "PASSIVE", "thp": "1"}


def test_user_values_win():
    assert _run("fresh", THP_MEM_ALLOC_ENABLE="0") == {"applied": ["OMP_WAIT_POLICY"], "omp": "PASSIVE", "thp": "0"}


def test_no_effect_once_torch_is_loaded():
    assert _run("torch-loaded") == {"applied": [], "omp": None, "thp": None}


def test_serving_keeps_openmp_spin_then_sleep():
    assert _run("fresh", "serve") == {"applied": ["THP_MEM_ALLOC_ENABLE"], "omp": None, "thp": "1"}
