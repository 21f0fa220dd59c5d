"""The local transport (subprocess), the far-side wrapper, connect() and Pool, without network."""
from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import time

import pytest

from grader.errors import CommandTimedOut, InventoryError
from grader.inventory import HostSpec, Inventory
from grader.transport import Pool, connect
from grader.transport.common import remote_command
from grader.transport.local import LocalTransport


@pytest.fixture
def local():
    with LocalTransport("controlplane") as t:
        yield t


def _tag() -> str:
    return f"{random.randint(100, 999)}.{random.randint(100000, 999999)}"


def _running(pattern: str) -> bool:
    return subprocess.run(["pgrep", "-f", pattern], capture_output=True).returncode == 0


def test_result_fields_and_exit_codes(local):
    r = local.run("echo out; echo err >&2; exit 3", timeout=10)
    assert (r.host, r.exit_code, r.stdout, r.stderr, r.ok) == ("controlplane", 3, "out\n", "err\n", False)
    assert r.command == "echo out; echo err >&2; exit 3" and r.duration >= 0
    assert local.run("true", timeout=10).ok
    assert local.run("kill -9 $$", timeout=10).exit_code == 137  # 128 + signal, as a shell reports it


def test_bash_semantics(local):
    r = local.run("""x='a "b" $c'; [[ $x == a* ]] && echo "$x" && echo $0""", timeout=10)
    assert r.stdout == 'a "b" $c\nbash\n'


def test_stdin_then_eof(local):
    assert local.run("cat; echo end", timeout=10, stdin=b"hello\n").stdout == "hello\nend\n"
    assert local.run("cat; echo end", timeout=10).stdout == "end\n"
    assert local.run("wc -c", timeout=30, stdin=b"x" * (5 << 20)).stdout.strip() == str(5 << 20)


def test_stdin_not_read_does_not_block(local):
    r = local.run("echo ignored-stdin", timeout=10, stdin=b"x" * (5 << 20))
    assert r.stdout == "ignored-stdin\n"


def test_five_mib_on_both_streams_at_once(local):
    r = local.run("head -c 5242880 /dev/zero | tr '\\0' o & head -c 5242880 /dev/zero | tr '\\0' e >&2; wait",
                  timeout=60)
    assert r.ok and len(r.stdout) == 5 << 20 and len(r.stderr) == 5 << 20
    assert set(r.stdout) == {"o"} and set(r.stderr) == {"e"}


def test_big_stdin_and_big_output_together(local):
    r = local.run("cat; head -c 3000000 /dev/zero >&2", timeout=60, stdin=b"i" * (5 << 20))
    assert len(r.stdout) == 5 << 20 and len(r.stderr) == 3000000


def test_utf8_with_replacement(local):
    assert local.run(r"printf 'caf\xc3\xa9 \xff'", timeout=10).stdout == "café \ufffd"


def test_timeout_kills_the_whole_process_group(local):
    tag = _tag()
    pattern = f"sleep {tag.replace('.', '[.]')}"
    start = time.monotonic()
    with pytest.raises(CommandTimedOut) as info:
        local.run(f"echo begun; sleep {tag} & sleep {tag}; echo never", timeout=1)
    assert 1 <= time.monotonic() - start < 3
    err = info.value
    assert err.host == "controlplane" and err.timeout == 1 and err.exit_code == 3
    assert err.partial.stdout == "begun\n" and err.partial.exit_code == -1
    assert not _running(pattern)


def test_background_child_holding_output_does_not_hang(local):
    tag = _tag()
    start = time.monotonic()
    r = local.run(f"sleep {tag} & echo started", timeout=20)
    assert r.ok and r.stdout == "started\n" and time.monotonic() - start < 3
    subprocess.run(["pkill", "-f", f"sleep {tag.replace('.', '[.]')}"])


def test_output_after_a_quiet_spell_is_kept(local):
    assert local.run("sleep 1.2; echo late", timeout=10).stdout == "late\n"


def test_threads_share_one_local_transport(local):
    out = []
    threads = [threading.Thread(target=lambda i=i: out.append(local.run(f"echo {i}", timeout=10).stdout))
               for i in range(10)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sorted(out) == sorted(f"{i}\n" for i in range(10))


# --- the wrapper the ssh and docker transports send -------------------------------

@pytest.mark.parametrize("shell", ["sh", "bash"])
def test_remote_command_has_bash_semantics_under_any_login_shell(shell):
    cmd = """x='it'"'"'s $HOME'; [[ -n $x ]] && echo "$x" $0; echo err >&2; exit 7"""
    p = subprocess.run([shell, "-c", remote_command(cmd, 10)], capture_output=True)
    assert (p.returncode, p.stdout, p.stderr) == (7, b"it's $HOME bash\n", b"err\n")


def test_remote_command_kills_itself_at_the_deadline():
    tag = _tag()
    start = time.monotonic()
    p = subprocess.run(["sh", "-c", remote_command(f"sleep {tag} & sleep {tag}", 0.5)], capture_output=True)
    assert time.monotonic() - start < 3
    assert p.returncode == 137 and p.stderr == b""  # no "Killed" notice from the shell
    assert not _running(f"sleep {tag.replace('.', '[.]')}")


def test_remote_command_passes_stdin():
    p = subprocess.run(["sh", "-c", remote_command("cat", 5)], input=b"data", capture_output=True)
    assert p.stdout == b"data"


# --- connect() and Pool --------------------------------------------------------

def _inventory(**hosts) -> Inventory:
    return Inventory(hosts={role: HostSpec(role=role, **spec) for role, spec in hosts.items()}, source="test.yaml")


def test_importing_the_package_does_not_import_paramiko():
    code = "import sys, grader.transport; sys.exit('paramiko' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": os.getcwd()}).returncode == 0


def test_connect_local():
    inv = _inventory(controlplane={})
    with connect(inv.host("controlplane"), inv) as t:
        assert isinstance(t, LocalTransport) and t.host == "controlplane"
        assert t.run("echo hi", timeout=5).stdout == "hi\n"


def test_pool_opens_lazily_and_reuses_per_role():
    inv = _inventory(controlplane={}, worker={})
    with Pool(inv) as pool:
        assert pool.opened() == []
        got = []
        threads = [threading.Thread(target=lambda: got.append(pool.get("controlplane"))) for _ in range(8)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert len({id(t) for t in got}) == 1
        assert pool.get("worker") is not got[0]
        assert pool.opened() == ["controlplane", "worker"]
    assert pool.opened() == []


def test_pool_unknown_role_is_an_inventory_error():
    with pytest.raises(InventoryError, match="unknown host 'nope'"):
        Pool(_inventory(controlplane={})).get("nope")


def test_jump_through_a_non_ssh_host_is_refused():
    inv = _inventory(controlplane={}, node01={"transport": "ssh", "address": "127.0.0.1", "jump": "controlplane"})
    with pytest.raises(InventoryError, match="jump host must be an ssh host"):
        connect(inv.host("node01"), inv)


def test_jump_loop_is_refused_before_connecting():
    inv = _inventory(a={"transport": "ssh", "address": "127.0.0.1", "jump": "b"},
                     b={"transport": "ssh", "address": "127.0.0.1", "jump": "a"})
    with pytest.raises(InventoryError, match="loop: a -> b -> a"):
        Pool(inv).get("a")
