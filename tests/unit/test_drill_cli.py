"""`grader drill ...` and `grader history` through the CLI, on this machine (local
transport) with the drill test pack (tests/data/packs/drill): no lab needed."""
from __future__ import annotations

import json
import random
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from grader.cli import main

DRILL_PACK = str(Path(__file__).resolve().parents[1] / "data" / "packs" / "drill")


@pytest.fixture
def drill(tmp_path, monkeypatch, capsys):
    """Runs grader in-process with its own GRADER_HOME and a local inventory."""
    inv = tmp_path / "inventory.yaml"
    inv.write_text("hosts:\n  controlplane: {transport: local}\n")
    monkeypatch.setenv("GRADER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("NO_COLOR", "1")
    seed = random.randrange(10**6, 10**7)

    def grader(*args):
        capsys.readouterr()
        rc = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return SimpleNamespace(rc=rc, out=out, err=err)

    def state():
        return json.loads((tmp_path / "home" / "drill.json").read_text())

    h = SimpleNamespace(run=grader, inv=str(inv), seed=seed, home=tmp_path / "home", state=state,
                        dir=Path(f"/tmp/grader-drill-{seed}"), ctl=Path(f"/tmp/grader-drill-ctl-{seed}"))
    yield h
    if (tmp_path / "home" / "drill.json").exists():
        main(["drill", "abort"])
    for p in (h.dir, h.ctl):
        shutil.rmtree(p, ignore_errors=True)


def start(d, *extra):
    r = d.run("drill", "start", DRILL_PACK, "-i", d.inv, "--seed", d.seed, *extra)
    assert r.rc == 0, r.err
    return r


def test_training_drill_from_start_to_history(drill):
    r = start(drill, "--mode", "training")
    for title in ("Leave a marker file", "Write a note", "Store a strong password", "Training drill"):
        assert title in r.out
    assert f"/tmp/grader-drill-{drill.seed}/note" in r.out
    assert "[3/3] password: setting up" in r.err
    assert drill.run("drill", "sheet").out == r.out

    st = json.loads(drill.run("drill", "status", "--json").out)
    assert st["phase"] == "running" and st["mode"] == "training" and st["remaining"] is None
    assert [t["id"] for t in st["tasks"]] == ["marker", "note", "password"]
    assert {t["setup"] for t in st["tasks"]} == {"done"}

    assert "Hint 1 of 2" in drill.run("drill", "hint", "note").out
    assert "Hint 2 of 2 (the last one)" in drill.run("drill", "hint", "2").out
    r = drill.run("drill", "hint", "password")
    assert r.rc == 2 and "no hints" in r.err
    r = drill.run("drill", "hint", "nots")
    assert r.rc == 2 and "did you mean 'note'" in r.err
    assert drill.run("drill", "flag", "note").out.strip() == "flagged: note"
    assert drill.run("drill", "flag", "1").out.strip() == "flagged: marker, note"
    assert drill.run("drill", "flag", "--clear", "marker").out.strip() == "flagged: note"

    r = drill.run("drill", "check", "note")
    assert r.rc == 1 and "FAIL  1. Write a note" in r.out
    (drill.dir / "note").write_text("done\n")
    r = drill.run("drill", "check", "note")
    assert r.rc == 0 and "PASS  1. Write a note" in r.out
    assert drill.state()["checked"]["note"]["count"] == 2

    r = drill.run("drill", "grade")
    assert r.rc == 1                                    # 1 of 4 points, pass mark 50%
    assert "score 25% (1/4 points)" in r.out
    out = Path(r.out.split("results: ")[1].split("\n")[0])
    assert f"report: {out / 'report.html'}" in r.out
    assert {p.name for p in out.iterdir()} == {"results.json", "report.html", "junit.xml"}
    res = json.loads((out / "results.json").read_text())
    assert res["mode"] == "training" and res["seed"] == drill.seed and res["deadline"] is None
    tasks = {t["id"]: t for t in res["tasks"]}
    assert tasks["note"]["flagged"] and not tasks["marker"]["flagged"]
    assert tasks["note"]["time_spent"] is not None and tasks["marker"]["time_spent"] is None
    assert [c["status"] for t in res["tasks"] for c in t["checks"]] == ["FAIL", "PASS", "FAIL"]

    r = drill.run("drill", "grade")
    assert r.rc == 2 and "already graded" in r.err
    assert "graded" in drill.run("drill", "status").out
    hist = json.loads(drill.run("history", "--json").out)
    assert len(hist) == 1 and hist[0]["percent"] == 25 and hist[0]["passed"] is False
    assert hist[0]["results"] == str(out)
    assert "mini" not in drill.run("history").out and "drill" in drill.run("history").out

    assert drill.run("drill", "abort").rc == 0
    assert not (drill.dir / "note").exists()
    assert drill.run("drill", "status").rc == 2


def test_exam_rules_and_one_drill_at_a_time(drill):
    r = start(drill, "--count", "2")
    assert "Exam drill" in r.out and "time limit 5 minutes" in r.out
    st = json.loads(drill.run("drill", "status", "--json").out)
    assert len(st["tasks"]) == 2 and st["minutes"] == 5 and 280 < st["remaining"] <= 300

    r = drill.run("drill", "hint", "1")
    assert r.rc == 2 and "no hints in an exam drill: exam rules" in r.err
    r = drill.run("drill", "check", "1")
    assert r.rc == 2 and "no checks during an exam drill" in r.err
    assert "left of 5 min" in drill.run("drill", "timer", "--once").out
    r = drill.run("drill", "start", DRILL_PACK, "-i", drill.inv)
    assert r.rc == 2 and "hand it in with `grader drill grade` or drop it with `grader drill abort`" in r.err


def test_late_when_handed_in_after_the_stored_deadline(drill):
    from datetime import datetime, timedelta, timezone

    start(drill, "--tasks", "marker", "--minutes", "1")
    state_file = drill.home / "drill.json"
    data = drill.state()
    began = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=3)
    data["started"], data["deadline"] = began.isoformat(), (began + timedelta(minutes=1)).isoformat()
    state_file.write_text(json.dumps(data))
    assert "time is up" in drill.run("drill", "timer", "--once").out
    (drill.dir / "ready").touch()
    r = drill.run("drill", "grade")
    assert r.rc == 0 and "(late)" in r.out
    res = json.loads((Path(drill.state()["results"]) / "results.json").read_text())
    assert res["late"] is True and res["time_used"] >= 180 and res["deadline"] == data["deadline"]
    assert res["started"] == data["started"]


def test_a_failed_setup_resets_and_leaves_no_drill(drill, monkeypatch):
    from grader.errors import StepFailed
    from grader.engine.runner import Runner

    calls = []
    real = Runner.run_steps

    def flaky(self, task, section):
        calls.append((task.id, section))
        if (task.id, section) == ("note", "setup"):
            raise StepFailed("task note: setup[0] on controlplane exited 1: boom")
        return real(self, task, section)
    monkeypatch.setattr(Runner, "run_steps", flaky)
    r = drill.run("drill", "start", DRILL_PACK, "-i", drill.inv, "--seed", drill.seed)
    assert r.rc == 3 and "drill not started" in r.err and "boom" in r.err
    assert ("marker", "reset") in calls[calls.index(("note", "setup")):]     # reset after the failure
    assert not (drill.home / "drill.json").exists()
    assert drill.run("drill", "status").rc == 2


def test_usage_errors(drill):
    r = drill.run("drill", "start", DRILL_PACK, "-i", drill.inv, "--tasks", "note", "--count", "1")
    assert r.rc == 2 and "not both" in r.err
    r = drill.run("drill", "start", DRILL_PACK, "-i", drill.inv, "--count", "9")
    assert r.rc == 2 and "give 1 to 3" in r.err
    r = drill.run("drill", "start", DRILL_PACK, "-i", drill.inv, "--tasks", "nope")
    assert r.rc == 2 and "no task 'nope'" in r.err
    for args in (("drill", "grade"), ("drill", "flag", "1"), ("drill", "sheet"), ("drill", "abort")):
        r = drill.run(*args)
        assert r.rc == 2 and "no drill" in r.err
    assert drill.run("drill").rc == 2
    assert "no graded drills yet" in drill.run("history").out


def test_random_seed_is_recorded(drill):
    r = drill.run("drill", "start", DRILL_PACK, "-i", drill.inv, "--tasks", "marker", "--mode", "training")
    assert r.rc == 0
    seed = drill.state()["seed"]
    assert isinstance(seed, int) and f"seed {seed}" in r.out
    drill.dir = Path(f"/tmp/grader-drill-{seed}")       # for the fixture's clean-up


def test_a_damaged_state_file_is_a_usage_error_not_a_crash(drill):
    start(drill, "--tasks", "marker")
    good = drill.state()
    state_file = drill.home / "drill.json"
    for bad in ({**good, "deadline": 5}, {**good, "started": 5}):
        state_file.write_text(json.dumps(bad))
        r = drill.run("drill", "status")
        assert r.rc == 2 and f"{state_file} is damaged" in r.err and "remove it" in r.err, r.err
    state_file.write_bytes(b"\xff\xfe" + json.dumps(good).encode())
    r = drill.run("drill", "status")
    assert r.rc == 2 and "not UTF-8" in r.err and "internal error" not in r.err, r.err
    state_file.write_text(json.dumps(good))


def test_grade_waits_for_a_setup_that_is_still_running(drill, monkeypatch):
    """`drill grade` in a second terminal while `drill start` sets up: refused, the setup goes on."""
    from grader.drill import drill as D
    from grader.errors import DrillError
    from grader.engine.runner import Runner
    from grader.drill.session import Store

    seen = []
    real = Runner.run_steps

    def grade_meanwhile(self, task, section):
        if (task.id, section) == ("password", "setup"):
            with pytest.raises(DrillError, match="being set up") as exc:
                D.grade(Store())
            seen.append((str(exc.value), drill.state()["phase"], drill.state()["submitted"]))
        return real(self, task, section)
    monkeypatch.setattr(Runner, "run_steps", grade_meanwhile)
    start(drill)
    assert len(seen) == 1 and seen[0][1:] == ("setting-up", None)
    st = drill.state()
    assert st["phase"] == "running" and set(st["setup"].values()) == {"done"} and st["submitted"] is None


def test_start_does_not_reopen_a_drill_handed_in_during_setup(drill, monkeypatch):
    from grader.engine.runner import Runner
    from grader.drill.session import GRADED, Store

    real = Runner.run_steps

    def graded_meanwhile(self, task, section):
        if (task.id, section) == ("password", "setup"):
            Store().update(lambda s: setattr(s, "phase", GRADED))
        return real(self, task, section)
    monkeypatch.setattr(Runner, "run_steps", graded_meanwhile)
    r = drill.run("drill", "start", DRILL_PACK, "-i", drill.inv, "--seed", drill.seed)
    assert r.rc == 2 and "meanwhile it became graded" in r.err, r.err
    assert drill.state()["phase"] == "graded"
