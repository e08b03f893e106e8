"""benchmarks/gpu_check: its CPU dry run goes through every part and reports consistent figures."""

from __future__ import annotations

import importlib
import json
import subprocess
from pathlib import Path

import pytest
from benchmarks._common import REPO_ROOT

BENCHMARKS = REPO_ROOT / "benchmarks"


@pytest.fixture
def gpu_check(monkeypatch: pytest.MonkeyPatch):
    """The script as a module, importing its neighbours as it does when run from benchmarks/."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    return importlib.import_module("gpu_check")


def test_the_cpu_dry_run_checks_attention_and_trains(gpu_check, tmp_path: Path) -> None:
    out = tmp_path / "gpu_check.json"
    assert gpu_check.main(["--device", "cpu", "--dry-run", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["failures"] == []
    assert {row["backend"] for row in result["attention"]} == {"sdpa"}
    assert all(row["equal"] and row["max_abs_error"] < 2e-2 for row in result["attention"])
    assert "CUDA" in result["unavailable"]["xformers"]  # reported, not faked
    peak = result["matmul_peak_bf16"]["flops_per_s"]
    assert [row["shape"]["name"] for row in result["training"]] == ["toy kling-tiny", "toy kling"]
    for row in result["training"]:
        assert row["finite"] and len(row["losses"]) == 2
        assert row["flops"] > 0
        assert row["mfu"] == pytest.approx(row["flops"] / row["best_s"] / peak)
        assert row["samples_per_s"] == pytest.approx(row["shape"]["batch"] / row["best_s"])


def test_cuda_without_a_gpu_is_refused_with_a_message(gpu_check, capsys: pytest.CaptureFixture) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    assert gpu_check.main(["--device", "cuda"]) == 2
    assert "CUDA is not available" in capsys.readouterr().out


def test_the_shell_script_explains_a_missing_gpu() -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present: the script would run the full check")
    done = subprocess.run(
        ["bash", str(BENCHMARKS / "gpu_check.sh")], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0
    assert "no CUDA device" in done.stdout
