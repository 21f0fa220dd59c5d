"""The bad-input corpus (tests/badinput/): every case is refused with exit 2 and one line.

Each folder of tests/badinput holds one case: a `case.yaml` (what is wrong, the
commands to run, the words the error line must contain) and the files it needs
(a pack with one defect, an inventory, an archive, a results file).  Every pack in
the corpus would `touch "$GRADER_BADINPUT_SENTINEL"` in its setup, solution, reset
and checks, and the only host of the corpus inventory is this machine
(`transport: local`), so "nothing was executed on any host" is simply: the sentinel
file does not exist afterwards.  `_good/` is the control: the same pack without a
defect, which does create the sentinel.

Each case runs in-process through `grader.cli.main([...])` (every command of the
case) and once through the real command (`python -m grader`) in a subprocess.
Placeholders in a case's commands: {case} its folder, {inventory} the corpus
inventory, {tmp} a scratch folder.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from grader.cli import main

CORPUS = Path(__file__).resolve().parents[1] / "badinput"
REPO = CORPUS.parents[1]
INVENTORY = CORPUS / "inventory.yaml"
GOOD_PACK = CORPUS / "_good" / "pack"
SENTINEL_VAR = "GRADER_BADINPUT_SENTINEL"
# a case whose YAML tries to run code would touch this one
PWNED = Path("/tmp/grader-badinput-pwned")
DEFAULT_RUNS = [["check", "{case}/pack", "-i", "{inventory}"],
                ["setup", "{case}/pack", "-i", "{inventory}"],
                ["validate", "{case}/pack", "-i", "{inventory}"]]


def _cases() -> list[str]:
    return sorted(p.name for p in CORPUS.iterdir() if (p / "case.yaml").is_file())


CASES = _cases()


def _load(name: str) -> dict:
    data = yaml.safe_load((CORPUS / name / "case.yaml").read_text())
    data.setdefault("runs", DEFAULT_RUNS)
    data.setdefault("exit", 2)
    return data


def _expand(argv: list[str], name: str, tmp: Path) -> list[str]:
    values = {"{case}": str(CORPUS / name), "{inventory}": str(INVENTORY), "{tmp}": str(tmp)}
    out = []
    for arg in argv:
        for key, value in values.items():
            arg = arg.replace(key, value)
        out.append(arg)
    return out


@pytest.fixture
def sentinel(tmp_path, monkeypatch):
    """The file any executed command of the corpus would create; cwd is a scratch folder
    (so no ./grader-inventory.yaml is picked up) and GRADER_INVENTORY is unset."""
    path = tmp_path / "sentinel"
    monkeypatch.setenv(SENTINEL_VAR, str(path))
    monkeypatch.delenv("GRADER_INVENTORY", raising=False)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    assert not PWNED.exists(), f"{PWNED} exists before the test: remove it"
    yield path
    assert not PWNED.exists(), "a YAML tag ran code while loading a pack"


def _assert_one_line(case: dict, name: str, argv, code: int, out: str, err: str, sentinel: Path) -> None:
    where = f"case {name}: grader {' '.join(argv)}"
    assert "Traceback" not in err + out, f"{where}: traceback:\n{err}"
    assert code == case["exit"], f"{where}: exit {code}, wanted {case['exit']}; stderr:\n{err}"
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, f"{where}: wanted exactly one line on stderr, got {len(lines)}:\n{err}"
    line = lines[0]
    assert line.startswith("grader: "), f"{where}: {line!r}"
    for word in case["expect"]:
        assert word in line, f"{where}: {word!r} not in the error line {line!r}"
    assert out == "", f"{where}: printed on stdout:\n{out}"
    assert not sentinel.exists(), f"{where}: something was executed on a host"


def test_corpus_is_big_enough():
    assert len(CASES) >= 30
    for name in CASES:
        case = _load(name)
        assert case.get("about"), f"{name}: say what is wrong in about:"
        assert case["expect"], f"{name}: expect: must name the file (and the key or line), or the name"
        if case["runs"] is DEFAULT_RUNS:  # a defect in a pack: the line must name the pack's file
            assert any(w.startswith("pack/") or "/pack/" in w or w.endswith("/pack") for w in case["expect"]), \
                f"{name}: expect: names no file of the pack"


def test_corpus_inventory_reaches_nothing_remote():
    data = yaml.safe_load(INVENTORY.read_text())
    assert {h.get("transport") for h in data["hosts"].values()} == {"local"}


def test_control_pack_does_touch_the_sentinel(sentinel, capsys):
    """Without the defect the same pack runs its commands: the sentinel proves it."""
    code = main(["check", str(GOOD_PACK), "-i", str(INVENTORY)])
    capsys.readouterr()
    assert code in (0, 1)
    assert sentinel.exists()


@pytest.mark.parametrize("name", CASES)
def test_bad_input_in_process(name, sentinel, tmp_path, capsys):
    case = _load(name)
    for argv in case["runs"]:
        argv = _expand(argv, name, tmp_path)
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse
            code = exc.code
        out, err = capsys.readouterr()
        _assert_one_line(case, name, argv, code, out, err, sentinel)


def _env(sentinel: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "GRADER_INVENTORY"}
    env[SENTINEL_VAR] = str(sentinel)
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


@pytest.fixture(scope="module")
def commands(tmp_path_factory):
    """The first run of every case through the real command (`python -m grader`), all
    started at once (they mostly wait on start-up): name -> (argv, proc, sentinel)."""
    from concurrent.futures import ThreadPoolExecutor

    root = tmp_path_factory.mktemp("badinput-commands")

    def one(name):
        tmp = root / name
        (tmp / "work").mkdir(parents=True)
        sentinel = tmp / "sentinel"
        argv = _expand(_load(name)["runs"][0], name, tmp)
        proc = subprocess.run([sys.executable, "-m", "grader", *argv], capture_output=True, text=True,
                              env=_env(sentinel), timeout=120, stdin=subprocess.DEVNULL, cwd=tmp / "work")
        return name, (argv, proc, sentinel)

    with ThreadPoolExecutor(max_workers=8) as pool:
        return dict(pool.map(one, CASES))


@pytest.mark.parametrize("name", CASES)
def test_bad_input_command(name, commands):
    """The real command: the first run of every case, in a subprocess."""
    assert not PWNED.exists()
    argv, proc, sentinel = commands[name]
    _assert_one_line(_load(name), name, argv, proc.returncode, proc.stdout, proc.stderr, sentinel)
