"""Injection on the lab: hostile params go through SSH (and its far-side wrapper) literally.

The same pack as tests/unit/test_security.py (a param per hostile value: $(...),
backticks, `; rm -rf`, newlines, quotes...), its steps and checks spread over
controlplane and node01, run with the lab inventory through setup, check, solve,
reset and validate.  Its files live in a fresh folder under /var/lib/grader, which the
lab hosts share with this machine (their /tmp and /var/tmp are private); kube checks go to a fake
kubectl there that records its arguments.  Nothing may run: no sentinel file, the
canary folder survives, /tmp/pwned appears on neither host, and every command got
the literal value.
"""
from __future__ import annotations

import secrets
import shutil
import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
from test_security import (assert_nothing_ran, assert_received_literally, fake_kubectl,  # noqa: E402
                           injection_pack, payloads)

from grader.cli import main  # noqa: E402

pytestmark = pytest.mark.lab


@pytest.fixture
def shared_dir():
    path = Path("/var/lib/grader") / f"test-injection-{secrets.token_hex(6)}"
    path.mkdir(mode=0o700, parents=True)
    yield path
    shutil.rmtree(path, ignore_errors=True)
    try:
        path.parent.rmdir()  # only if nothing else (a lab) is in it
    except OSError:
        pass


def _pwned_on(lab) -> list[str]:
    return [h for h in ("controlplane", "node01") if lab.ssh(h, "test -e /tmp/pwned").returncode == 0]


def test_params_are_never_executed_on_the_lab(lab, shared_dir, monkeypatch, capsys):
    monkeypatch.delenv("GRADER_INVENTORY", raising=False)
    assert not _pwned_on(lab), "/tmp/pwned exists on a lab host before the test; remove it"
    sentinels, canary, out, record = (shared_dir / n for n in ("sentinels", "canary", "out", "kubectl-calls"))
    for d in (sentinels, canary, out):
        d.mkdir()
    (canary / "keep").write_text("keep me\n")
    values = payloads(sentinels, canary)
    pack = injection_pack(shared_dir / "pack", out, values, hosts=("controlplane", "node01"))
    data = yaml.safe_load(lab.inventory_path.read_text())
    data["kubectl"] = str(fake_kubectl(shared_dir / "kubectl", record))
    inv = shared_dir / "inventory.yaml"
    inv.write_text(yaml.safe_dump(data))

    for argv in (["setup", pack], ["check", pack, "-o", shared_dir / "reports"], ["solve", pack], ["reset", pack]):
        code = main([str(a) for a in argv] + ["-i", str(inv)])
        captured = capsys.readouterr()
        assert code == 0, f"grader {argv[0]}: exit {code}\n{captured.out}\n{captured.err}"
    assert_nothing_ran(sentinels, canary)
    assert_received_literally(out, values, record)
    assert not _pwned_on(lab)

    code = main(["validate", str(pack), "-i", str(inv)])
    captured = capsys.readouterr()
    assert code == 0, captured.out
    assert_nothing_ran(sentinels, canary)
    assert not _pwned_on(lab)
