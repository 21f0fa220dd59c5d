"""The docker transport against the docker lab's containers (no mocks)."""
from __future__ import annotations

import random
import shutil
import time
from dataclasses import replace

import pytest

from grader.errors import CommandTimedOut, ConnectError
from grader.inventory import HostSpec
from grader.transport import Pool, connect
from grader.transport.docker import DockerTransport


@pytest.fixture(scope="module")
def inv(docker_lab):
    return docker_lab.inventory


@pytest.fixture
def cp(inv):
    with connect(inv.host("controlplane"), inv) as t:
        yield t


@pytest.mark.docker
def test_exec_runs_in_the_container(cp, inv):
    r = cp.run("hostname; echo err >&2; exit 4", timeout=30)
    assert (r.host, r.exit_code, r.stdout, r.stderr) == ("controlplane", 4, "grader-control-plane\n", "err\n")
    assert cp.run("""x='a "b"'; [[ $x == a* ]] && echo "$x" $0""", timeout=30).stdout == 'a "b" bash\n'
    assert cp.run("kill -9 $$", timeout=30).exit_code == 137
    with Pool(inv) as pool:
        assert pool.get("node01").run("hostname", timeout=30).stdout == "grader-worker\n"


@pytest.mark.docker
def test_stdin_and_big_output(cp):
    assert cp.run("cat; echo end", timeout=30, stdin=b"hello\n").stdout == "hello\nend\n"
    assert cp.run("cat; echo end", timeout=30).stdout == "end\n"
    r = cp.run("head -c 5242880 /dev/zero | tr '\\0' o & head -c 5242880 /dev/zero | tr '\\0' e >&2; wait",
               timeout=120)
    assert r.ok and len(r.stdout) == 5 << 20 and len(r.stderr) == 5 << 20


@pytest.mark.docker
def test_timeout_kills_the_command_inside_the_container(cp):
    tag = f"{random.randint(100, 999)}.{random.randint(100000, 999999)}"
    start = time.monotonic()
    with pytest.raises(CommandTimedOut) as info:
        cp.run(f"echo begun; sleep {tag} & sleep {tag}", timeout=2)
    assert time.monotonic() - start < 8
    assert info.value.partial.stdout == "begun\n"
    assert cp.run(f"pgrep -f 'sleep {tag.replace('.', '[.]')}'", timeout=30).exit_code == 1


@pytest.mark.docker
def test_missing_container_is_a_connect_error(inv):
    spec = replace(inv.host("controlplane"), container="grader-no-such-container")
    with pytest.raises(ConnectError) as info:
        connect(spec, inv)
    assert "controlplane" in str(info.value) and "grader-no-such-container does not exist" in str(info.value)
    with pytest.raises(ConnectError, match="does not exist"):  # found at run time too
        DockerTransport(spec).run("true", timeout=30)


@pytest.mark.skipif(not shutil.which("docker"), reason="needs the docker CLI")
def test_unreachable_daemon_is_a_connect_error(tmp_path):
    spec = HostSpec(role="controlplane", transport="docker", container="x",
                    docker=f"unix://{tmp_path}/no-docker.sock", connect_timeout=10)
    with pytest.raises(ConnectError) as info:
        DockerTransport(spec).open()
    assert "controlplane" in str(info.value) and "docker daemon" in str(info.value)
    with pytest.raises(ConnectError, match="docker daemon"):
        DockerTransport(spec).run("true", timeout=10)
