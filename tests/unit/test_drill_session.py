"""grader.drill.session: task choice, time math, the state file and the history.  No hosts."""
from __future__ import annotations

import json
import os
from collections import Counter
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from grader.drill import session as S
from grader.errors import DrillError, UsageError

T0 = datetime(2024, 5, 1, 10, 0, 0, tzinfo=timezone.utc)


def specs(layout: dict[str, int]):
    """{domain: n} -> fake specs (choose() only reads .id and .domain)."""
    out = []
    for domain, n in layout.items():
        out += [SimpleNamespace(id=f"{domain.lower()}-{k}", domain=domain, minutes=5) for k in range(n)]
    return out


def make(**kw) -> S.Session:
    base = dict(id="x", pack="mini", pack_name="mini", pack_title="Mini", pack_version="1", tasks=["a", "b", "c"],
                seed=1, mode="exam", started=S.iso(T0))
    base.update(kw)
    s = S.Session(**base)
    s.deadline = s.deadline or S.deadline_for(s.started, s.minutes)
    return s


# --- choosing ----------------------------------------------------------------------

def test_same_seed_same_tasks_other_seeds_vary():
    pool = specs({"A": 4, "B": 4, "C": 4})
    picks = {tuple(s.id for s in S.choose(pool, seed=seed, count=3)) for seed in range(40)}
    assert tuple(s.id for s in S.choose(pool, seed=7, count=3)) == tuple(s.id for s in S.choose(pool, seed=7, count=3))
    assert len(picks) > 10


@pytest.mark.parametrize("seed", range(25))
def test_count_spreads_over_domains(seed):
    pool = specs({"A": 5, "B": 1, "C": 3})
    chosen = S.choose(pool, seed=seed, count=3)
    assert Counter(s.domain for s in chosen) == {"A": 1, "B": 1, "C": 1}
    five = Counter(s.domain for s in S.choose(pool, seed=seed, count=5))
    assert five["B"] == 1 and max(five.values()) - min(five["A"], five["C"]) <= 1


def test_chosen_tasks_keep_pack_order_and_default_to_all():
    pool = specs({"A": 3, "B": 3})
    order = [s.id for s in pool]
    chosen = [s.id for s in S.choose(pool, seed=3, count=4)]
    assert chosen == sorted(chosen, key=order.index)
    assert [s.id for s in S.choose(pool, seed=3)] == order


def test_explicit_tasks_and_bad_requests():
    pool = specs({"A": 3})
    assert [s.id for s in S.choose(pool, seed=0, ids=["a-2", "a-0", "a-2"])] == ["a-0", "a-2"]
    with pytest.raises(UsageError, match="no task 'nope'"):
        S.choose(pool, seed=0, ids=["nope"])
    for bad in (0, 4):
        with pytest.raises(UsageError, match="give 1 to 3"):
            S.choose(pool, seed=0, count=bad)


# --- time ------------------------------------------------------------------------------

def test_deadline_comes_from_the_stored_start():
    s = make(minutes=30)
    assert s.deadline == "2024-05-01T10:30:00+00:00"
    assert s.remaining(T0 + timedelta(minutes=10)) == 20 * 60
    assert s.remaining(T0 + timedelta(minutes=31)) == -60
    assert make(minutes=None).remaining(T0) is None and make(minutes=None).deadline is None


def test_elapsed_and_late_use_the_hand_in_time():
    s = make(minutes=30, submitted=S.iso(T0 + timedelta(minutes=29)))
    assert s.elapsed(T0 + timedelta(hours=5)) == 29 * 60       # a later re-grade changes nothing
    assert not s.late()
    assert make(minutes=30, submitted=S.iso(T0 + timedelta(minutes=31))).late()
    assert not make(minutes=None, submitted=S.iso(T0 + timedelta(hours=9))).late()


def test_time_spent_runs_from_the_previous_first_pass():
    s = make(mode="training")
    s.record_check("b", False, T0 + timedelta(minutes=1))
    s.record_check("b", True, T0 + timedelta(minutes=4))
    s.record_check("a", True, T0 + timedelta(minutes=10))
    s.record_check("b", True, T0 + timedelta(minutes=12))     # later passes do not move the first
    assert s.time_spent("b") == 4 * 60
    assert s.time_spent("a") == 6 * 60
    assert s.time_spent("c") is None
    assert s.checked["b"]["count"] == 3


def test_tasks_by_id_or_number():
    s = make()
    assert s.task_id("b") == "b" and s.task_id("3") == "c"
    with pytest.raises(DrillError, match="not in this drill"):
        s.task_id("4")


# --- files -------------------------------------------------------------------------------

def test_round_trip_and_damaged_state(tmp_path):
    store = S.Store(tmp_path)
    assert store.load() is None
    with pytest.raises(DrillError, match="no drill"):
        store.current()
    s = make(minutes=20, flags=["a"], hints={"b": 1})
    store.save(s)
    assert store.load() == s
    store.state_path.write_text('{"schema": "grader-drill/1", "id": 1')
    with pytest.raises(DrillError, match="damaged"):
        store.load()
    store.state_path.write_text(json.dumps({**json.loads(s.to_json()), "phase": "exploded"}))
    with pytest.raises(DrillError, match="damaged"):
        store.load()


def test_a_crash_while_writing_keeps_the_old_state(tmp_path, monkeypatch):
    store = S.Store(tmp_path)
    store.save(make(flags=[]))
    real = os.replace

    def crash(src, dst):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        store.update(lambda s: s.flags.append("a"))
    monkeypatch.setattr(os, "replace", real)
    assert store.load().flags == []
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_update_and_history(tmp_path):
    store = S.Store(tmp_path)
    store.save(make())
    store.update(lambda s: s.flags.append("c"))
    assert store.load().flags == ["c"]
    store.append_history({"id": "one", "percent": 50})
    store.append_history({"id": "one", "percent": 50})          # a re-grade after a crash
    store.append_history({"id": "two", "percent": 70})
    store.history_path.write_text(store.history_path.read_text() + "not json\n")
    assert [e["id"] for e in store.history()] == ["one", "two"]
    store.clear()
    store.clear()
    assert store.load() is None


def test_results_folder_is_named_for_the_hand_in(tmp_path):
    s = make(submitted="2024-05-01T10:12:13+00:00")
    assert S.Store(tmp_path).results_dir(s) == tmp_path / "results" / "20240501T101213Z-mini"


def test_home_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("GRADER_HOME", str(tmp_path / "h"))
    assert S.Store().home == tmp_path / "h"
    monkeypatch.delenv("GRADER_HOME")
    assert S.grader_home().name == ".grader"


def test_timer_line_warnings():
    from grader.cli.drill import timer_line

    s = make(minutes=30)
    line, level = timer_line(s, T0 + timedelta(minutes=10))
    assert "20:00 left of 30 min" in line and level is None
    assert timer_line(s, T0 + timedelta(minutes=16))[1] == 15
    assert timer_line(s, T0 + timedelta(minutes=25, seconds=1))[1] == 5
    line, level = timer_line(s, T0 + timedelta(minutes=29, seconds=30))
    assert level == 1 and "less than 1 minute left" in line
    assert "time is up" in timer_line(s, T0 + timedelta(minutes=31))[0]
    assert "elapsed (untimed)" in timer_line(make(minutes=None), T0 + timedelta(minutes=3))[0]


@pytest.mark.parametrize("field, value", [("started", 5), ("deadline", 5), ("submitted", 5), ("started", None)])
def test_times_that_are_not_times_are_a_damaged_file(tmp_path, field, value):
    store = S.Store(tmp_path)
    store.state_path.write_text(json.dumps({**json.loads(make(minutes=20).to_json()), field: value}))
    with pytest.raises(DrillError, match=f"{store.state_path} is damaged .*{field}.*remove it to forget the drill"):
        store.load()


def test_a_state_file_that_is_not_utf8_is_damaged(tmp_path):
    store = S.Store(tmp_path)
    store.state_path.write_bytes(make().to_json().encode("utf-8").replace(b'"mini"', b'"mini\xff"', 1))
    with pytest.raises(DrillError, match=f"{store.state_path} is damaged .*not UTF-8.*remove it"):
        store.load()


def test_clear_waits_for_an_update_in_progress(tmp_path):
    """An abort while `drill flag` is between its load and its save must not be undone by that save."""
    import threading

    store = S.Store(tmp_path)
    store.save(make())
    cleared = threading.Event()
    other = threading.Thread(target=lambda: (store.clear(), cleared.set()))

    def change(s):
        other.start()
        blocked = not cleared.wait(0.5)
        s.flags.append("a")
        assert blocked, "clear() ran while an update held the lock"
    store.update(change)
    other.join(10)
    assert cleared.is_set() and store.load() is None


def test_history_append_after_a_torn_line(tmp_path):
    store = S.Store(tmp_path)
    store.append_history({"id": "one", "percent": 50})
    with open(store.history_path, "a") as f:
        f.write('{"id": "two", "perc')               # a crash mid-append: no newline
    store.append_history({"id": "two", "percent": 70})  # the re-grade
    store.append_history({"id": "three", "percent": 90})
    assert [e["id"] for e in store.history()] == ["one", "two", "three"]
    assert store.history_path.read_text().endswith('"percent": 90}\n')


CURRICULUM = {"T": 30, "C": 25, "S": 20, "W": 15, "St": 10}


def test_weighted_draw_keeps_the_domain_mix():
    pool = specs({"T": 6, "C": 5, "S": 4, "W": 3, "St": 2})
    for seed in range(20):
        for count in range(1, 21):
            got = Counter(s.domain for s in S.choose(pool, seed=seed, count=count, weights=CURRICULUM))
            assert sum(got.values()) == count
            for d, w in CURRICULUM.items():
                share = count * w / 100
                # within one task of its exact share, unless its pool ran dry
                assert got[d] <= {"T": 6, "C": 5, "S": 4, "W": 3, "St": 2}[d]
                if count <= 10:
                    assert abs(got[d] - share) < 1, (seed, count, got)
    ten = Counter(s.domain for s in S.choose(pool, seed=1, count=10, weights=CURRICULUM))
    assert ten == {"T": 3, "C": 3, "S": 2, "W": 1, "St": 1} or ten == {"T": 3, "C": 2, "S": 2, "W": 2, "St": 1}


def test_quota_by_largest_remainder_and_caps():
    sizes = {"T": 6, "C": 5, "S": 4, "W": 3, "St": 2}
    assert S.domain_quota(sizes, 5, CURRICULUM) == {"T": 2, "C": 1, "S": 1, "W": 1, "St": 0}
    assert S.domain_quota(sizes, 20, CURRICULUM) == sizes
    # a domain the weights do not name is drawn from only when the weighted ones run dry
    assert S.domain_quota({"T": 1, "X": 3}, 2, {"T": 1}) == {"T": 1, "X": 1}
    assert S.domain_quota({"A": 2, "B": 2}, 3, {}) == {"A": 2, "B": 1}
