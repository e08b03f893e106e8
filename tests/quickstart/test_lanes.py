"""The quickstart's scheduling: the small stages in two lanes side by side, then the MM-DiT; failures and resumes."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from foleyzoo import quickstart
from foleyzoo.errors import FoleyzooError
from foleyzoo.quickstart import LANES, STAGES, Stage, expected_minutes, train_all


class FakeRunner:
    """Stands in for `foleyzoo fit`: records when each stage ran and where, writes its last.ckpt (or fails)."""

    def __init__(self, fail: set[str] = frozenset(), seconds: float = 0.2) -> None:
        self.fail, self.seconds = set(fail), seconds
        self.spans: dict[str, tuple[float, float]] = {}
        self.where: dict[str, str] = {}
        self.arguments: dict[str, list[str]] = {}
        self.lock = threading.Lock()

    def __call__(self, kind: str):
        def run(arguments: list[str], stage: Stage) -> int:
            start = time.monotonic()
            time.sleep(self.seconds)
            with self.lock:
                self.spans[stage.name] = (start, time.monotonic())
                self.where[stage.name] = kind
                self.arguments[stage.name] = arguments
            if stage.name in self.fail:
                return 1
            stage.checkpoint.parent.mkdir(parents=True, exist_ok=True)
            stage.checkpoint.write_bytes(b"weights")
            return 0

        return run


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(quickstart, "HEARTBEAT_SECONDS", 0.05)

    def install(**options) -> FakeRunner:
        runner = FakeRunner(**options)
        monkeypatch.setattr(quickstart, "_run_in_child", runner("child"))
        monkeypatch.setattr(quickstart, "_run_in_process", runner("process"))
        return runner

    return install


def overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def test_lanes_run_side_by_side_in_child_processes_then_the_mm_dit_in_the_foreground(fake) -> None:
    runner = fake()
    lines: list[str] = []
    train_all(smoke=False, jobs=2, say=lines.append)
    spans = runner.spans
    assert set(spans) == {stage.name for stage in STAGES}
    assert overlap(spans["codec"], spans["sync"])  # the two lanes at once
    assert spans["sync"][1] <= spans["contrastive"][0] and spans["contrastive"][1] <= spans["stereo"][0]
    assert all(spans[name][1] <= spans["v2a"][0] for lane in LANES for name in lane)
    assert {name: runner.where[name] for name in spans} == {
        "codec": "child",
        "sync": "child",
        "contrastive": "child",
        "stereo": "child",
        "v2a": "process",
    }
    for stage in STAGES:
        assert (quickstart.STATE_DIR / f"{stage.name}.json").is_file()
    assert f"--trainer.max_steps={quickstart.V2A_STEPS}" in runner.arguments["v2a"]
    assert "--model.init_args.cfg_scale=3.0" in runner.arguments["v2a"]  # the bundle's guidance
    assert any(line.startswith("  … training:") for line in lines)  # heartbeats while the lanes run


def test_one_job_runs_every_stage_in_turn_in_this_process(fake) -> None:
    runner = fake()
    train_all(smoke=False, jobs=1, say=lambda line: None)
    order = sorted(runner.spans, key=lambda name: runner.spans[name][0])
    assert order == [stage.name for stage in STAGES]
    assert set(runner.where.values()) == {"process"}
    assert expected_minutes(1) > expected_minutes(2)


def test_a_failed_stage_stops_its_lane_but_the_other_lane_finishes_and_keeps_its_work(fake) -> None:
    runner = fake(fail={"sync"})
    with pytest.raises(FoleyzooError, match=r"stage sync .* code 1 \(log: runs/quickstart/logs/sync.log\)"):
        train_all(smoke=False, jobs=2, say=lambda line: None)
    assert (quickstart.STATE_DIR / "codec.json").is_file()  # the codec lane ran to its end
    assert not (quickstart.STATE_DIR / "sync.json").exists()
    assert "contrastive" not in runner.spans and "v2a" not in runner.spans


def test_a_rerun_skips_finished_stages_and_resumes_an_interrupted_one(fake) -> None:
    fake()
    train_all(smoke=False, jobs=2, say=lambda line: None)
    (quickstart.STATE_DIR / "contrastive.json").unlink()  # interrupted after writing a checkpoint
    runner = fake()
    lines: list[str] = []
    train_all(smoke=False, jobs=2, say=lines.append)
    assert set(runner.spans) == {"contrastive"}
    assert runner.arguments["contrastive"][-2:] == [
        "--ckpt_path",
        "runs/av-contrastive-tiny/checkpoints/last.ckpt",
    ]
    assert sum("finished before: skipped" in line for line in lines) == len(STAGES) - 1


def test_jobs_below_one_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FoleyzooError, match="jobs must be at least 1"):
        quickstart.run_quickstart(jobs=0)
