"""Output is capped: a transport keeps the head and the tail of each stream and counts the
rest, the batch keeps each check's own head and tail, and grading 500 MB of output on the
local transport stays small in memory.  The Capture and Frames tests are pure logic; the
others run real processes."""
from __future__ import annotations

import random

import pytest

from grader.engine import batch
from grader.transport.base import Capture, cut_note
from grader.transport.local import LocalTransport
from measured import HALF_GB, assert_big_output_graded, assert_big_step_ran, big_pack, run_measured


def test_capture_keeps_everything_up_to_its_limits():
    c = Capture(head=10, tail=5)
    for piece in (b"0123", b"456789abcde"):
        c.write(piece)
    assert (c.total, c.dropped, c.text()) == (15, 0, "0123456789abcde")


def test_capture_keeps_head_and_tail_and_says_what_it_dropped():
    c = Capture(head=4, tail=3)
    data = bytes(range(65, 91)) * 1000               # ABC...Z, 26 000 bytes
    rng = random.Random(1)
    i = 0
    while i < len(data):
        n = rng.choice((1, 2, 7, 100, 4096))
        c.write(data[i:i + n])
        i += n
    assert c.total == 26000 and c.dropped == 26000 - 7
    assert c.text() == f"ABCD\n{cut_note(26000 - 7)}\nXYZ"


def test_capture_memory_stays_bounded():
    c = Capture(head=1000, tail=1000)
    for _ in range(10000):
        c.write(b"y" * 4096)
    assert len(c._head) == 1000 and sum(map(len, c._tail)) < 1000 + 4096


def framed_stream(nonce: str, bodies: dict) -> bytes:
    out = b""
    for key, body in bodies.items():
        out += f"@@{nonce}:B:{key}\n".encode() + body + f"\n@@{nonce}:E:{key}:0:1.5:2.0\n".encode()
    return out


@pytest.mark.parametrize("seed", range(5))
def test_frames_split_anywhere_give_each_check_its_own_capped_output(seed):
    nonce = "n0nce"
    items = [batch.Item("a", "", 5), batch.Item("b", "", 5), batch.Item("c", "", 5)]
    big = b"first\n" + b"x" * 100_000 + b"\nlast\n"
    stream = framed_stream(nonce, {"a": b"one\n", "b": big, "c": b"@@n0nc no marker\n" + b"@@" * 3000})
    frames = batch.Frames(nonce, items, head=1000, tail=100)
    rng = random.Random(seed)
    i = 0
    while i < len(stream):
        n = rng.choice((1, 3, 9, 64, 1000, 65536))
        frames.write(stream[i:i + n])
        i += n
    got = batch.collect(frames, batch.Frames(nonce, items), items)
    assert got["a"].stdout == "one\n" and got["a"].stdout_cut == 0
    assert got["b"].stdout.startswith("first\nxxx") and got["b"].stdout.endswith("xxx\nlast\n")
    assert got["b"].stdout_cut == len(big) - 1100 and cut_note(len(big) - 1100) in got["b"].stdout
    assert got["c"].stdout_cut == 6017 - 1100 and got["c"].stdout.startswith("@@n0nc no marker\n@@@@")
    assert (got["b"].exit_code, got["b"].duration) == (0, 0.5)
    assert frames.text() == ""


def test_a_long_line_that_starts_like_a_marker_is_output():
    nonce = "n0nce"
    items = [batch.Item("a", "", 5)]
    fake = b"@@n0nce:" + b"z" * (batch.MARKER_LINE + 10) + b"\n"
    got = batch.parse(framed_stream(nonce, {"a": fake}).decode(), "", nonce, items)
    assert got["a"].stdout == fake.decode()


def test_the_deadline_follows_the_frames():
    now = [100.0]
    items = [batch.Item("a", "", 5), batch.Item("b", "", 30)]
    f = batch.Frames("n", items).watch(lambda: now[0], start=10)
    assert f.deadline == 100 + 10 + batch.allowance(5)            # the first marker, after the start
    now[0] = 101
    f.write(b"@@n:B:a\nout")
    assert f.deadline == 101 + batch.allowance(5) and f.current == "a"
    now[0] = 103
    f.write(b"\n@@n:E:a:0:1:2\n")
    assert f.deadline == 103 + batch.allowance(30) and f.current is None    # b is due next
    now[0] = 104
    f.write(b"@@n:B:b\n\n@@n:E:b:0:1:2\n")
    assert f.deadline == 104 + batch.STALL_MARGIN                 # only the batch's own end is left
    assert batch.allowance(5) == 5 + batch.KILL_GRACE + batch.STALL_MARGIN


def test_a_step_on_the_local_transport_is_capped_with_a_note():
    with LocalTransport("controlplane") as local:
        r = local.run("head -c 20000000 /dev/zero | tr '\\0' o; echo; echo end", timeout=120)
    assert r.ok and r.stdout_cut == 20_000_005 - (8 << 20)
    assert r.stdout.startswith("ooo") and r.stdout.endswith("ooo\nend\n")
    assert cut_note(r.stdout_cut) in r.stdout and len(r.stdout) < (8 << 20) + 100


def test_grading_500_mb_of_output_on_the_local_transport(tmp_path):
    inv = tmp_path / "inventory.yaml"
    inv.write_text("hosts:\n  controlplane: {transport: local}\n")
    pack = big_pack(tmp_path / "pack", "controlplane")
    step = run_measured("setup", pack, "-i", inv, timeout=600)
    assert_big_step_ran(step)
    m = run_measured("check", pack, "-i", inv, "-o", tmp_path / "out", timeout=600)
    got = assert_big_output_graded(m, tmp_path / "out")
    print(f"local transport, {2 * HALF_GB} bytes of check output: peak RSS {m.peak_rss_mib:.0f} MiB, "
          f"{m.seconds:.1f}s; {got['prints 500 MB']['actual']}; the setup step's 1 GB: peak RSS "
          f"{step.peak_rss_mib:.0f} MiB")
