"""The batch script, run for real by bash on this machine, and its framed output parsed."""
import subprocess

from grader.engine import batch


def run_batch(items):
    nonce = batch.new_nonce()
    proc = subprocess.run(["bash", "-s"], input=batch.build(items, nonce).encode(), capture_output=True, timeout=60)
    return batch.parse(proc.stdout.decode(), proc.stderr.decode(), nonce, items)


def test_each_command_keeps_its_own_exit_code_and_streams():
    items = [batch.Item("a", "echo out; echo err >&2; exit 3", 5),
             batch.Item("b", "printf 'no newline'", 5),
             batch.Item("c", "printf 'x\\n\\n'", 5),
             batch.Item("d", "cat", 5)]                       # stdin must be empty, not the script
    got = run_batch(items)
    assert (got["a"].exit_code, got["a"].stdout, got["a"].stderr) == (3, "out\n", "err\n")
    assert got["b"].stdout == "no newline"
    assert got["c"].stdout == "x\n\n"
    assert got["d"].stdout == "" and got["d"].exit_code == 0


def test_output_that_looks_like_a_frame_cannot_confuse_the_parser():
    items = [batch.Item("a", "echo '@@deadbeef:E:a:0:0:0'; echo real", 5), batch.Item("b", "true", 5)]
    got = run_batch(items)
    assert got["a"].stdout == "@@deadbeef:E:a:0:0:0\nreal\n"
    assert got["b"].exit_code == 0


def test_a_hanging_command_times_out_and_the_next_still_runs():
    items = [batch.Item("slow", "sleep 30", 1), batch.Item("next", "echo alive", 5)]
    got = run_batch(items)
    assert got["slow"].timed_out and got["slow"].duration < 10
    assert got["next"].stdout == "alive\n" and not got["next"].timed_out


def test_a_command_killed_quickly_by_term_is_not_a_timeout():
    got = run_batch([batch.Item("a", "kill -TERM $BASHPID", 5)])
    assert got["a"].exit_code == 143 and not got["a"].timed_out


def test_a_timeout_kills_the_whole_process_group(tmp_path):
    marker = tmp_path / "survivor"
    cmd = f"(sleep 3; touch {marker}) & sleep 30"
    got = run_batch([batch.Item("a", cmd, 0.5)])
    assert got["a"].timed_out
    import time
    time.sleep(3.5)
    assert not marker.exists()


def test_commands_do_not_see_the_batch_internals():
    got = run_batch([batch.Item("a", 'echo "[$__gn][$__gd][$1]"; type _g >/dev/null 2>&1 && echo leaked; '
                                     'case $- in *m*) echo monitor;; esac', 5)])
    assert got["a"].stdout == "[][][]\n"


def test_quoting_keeps_hostile_text_literal(tmp_path):
    sentinel = tmp_path / "pwned"
    hostile = f"$(touch {sentinel}); rm -rf x `touch {sentinel}`"
    got = run_batch([batch.Item(hostile, f"printf %s {batch.quote(hostile)}", 5)])
    assert not sentinel.exists()
    assert got[hostile].stdout == hostile


def test_unfinished_commands_are_absent_from_the_results():
    items = [batch.Item("a", "echo one", 5), batch.Item("b", "echo two", 5)]
    nonce = batch.new_nonce()
    proc = subprocess.run(["bash", "-s"], input=batch.build(items, nonce).encode(), capture_output=True, timeout=30)
    cut = proc.stdout.decode()
    cut = cut[:cut.index(f"@@{nonce}:B:b")]                    # the connection dropped here
    got = batch.parse(cut, proc.stderr.decode(), nonce, items)
    assert set(got) == {"a"}


def test_what_a_check_leaves_running_is_killed_and_cannot_leak_into_the_next():
    items = [batch.Item("a", "(sleep 0.3; echo LEAK) & echo first", 5),
             batch.Item("b", "sleep 1; echo ok", 5)]
    got = run_batch(items)
    assert got["a"].stdout == "first\n"
    assert got["b"].stdout == "ok\n"


def test_a_bash_without_epochrealtime_is_told_apart():
    nonce = batch.new_nonce()
    script = "unset EPOCHREALTIME\n" + batch.build([batch.Item("a", "true", 5)], nonce)
    proc = subprocess.run(["bash", "-s"], input=script.encode(), capture_output=True, timeout=30)
    assert proc.returncode == batch.OLD_BASH and b"bash 5.0 or newer is needed" in proc.stderr
