"""Pure logic: matchers (no I/O)."""
import pytest

from grader.engine.matchers import describe, excerpt, exit_holds, holds


@pytest.mark.parametrize("spec,value,ok", [
    ("Running", "Running\n", True),
    ("Running", "NotRunning", False),
    (3, " 3 ", True),
    (3, "3.0", True),
    (3, "three", False),
    (True, "true", True),
    ({"contains": "10.0.0.1/24"}, "inet 10.0.0.1/24 scope global", True),
    ({"contains": "Ready"}, "NotReady", True),           # the classic trap: why exact matchers exist
    ({"equals": "Ready"}, "NotReady", False),
    ({"regex": r"^Ready$"}, "NotReady\nReady", True),
    ({"regex": r"^Ready$"}, "NotReady", False),
    ({"ge": 2}, "2", True), ({"gt": 2}, "2", False), ({"lt": 2}, "1.5", True), ({"le": 2}, "x", False),
    ({"empty": True}, "  \n", True), ({"empty": False}, "", False),
    ({"not": {"contains": "localhost"}}, "https://kubernetes.default", True),
    ({"not": {"contains": "localhost"}}, "https://localhost:6443", False),
    ({"any": ["a", "b"]}, "b", True), ({"any": ["a", "b"]}, "c", False),
    (["x", {"regex": "x"}], "x", True), ({"all": ["x", "y"]}, "x", False),
])
def test_holds(spec, value, ok):
    assert holds(spec, value) is ok


def test_exit_codes():
    assert exit_holds(0, 0) and not exit_holds(0, 1)
    assert exit_holds([0, 2], 2) and not exit_holds([0, 2], 1)
    assert exit_holds({"not": 0}, 1) and not exit_holds({"not": 0}, 0)
    assert exit_holds({"gt": 0}, 3)


def test_describe_says_what_is_wanted_and_hides_secrets():
    assert describe({"contains": "abc"}) == "contains 'abc'"
    assert describe({"not": {"regex": "x+"}}) == "not (matches /x+/)"
    assert "s3cret" not in describe({"equals": "s3cret"}, hide=True)
    assert describe(["a", {"ge": 2}]) == "equals 'a' and is a number >= 2"


def test_excerpt_truncates_long_output():
    text = "x" * 1000
    short = excerpt(text, 100)
    assert short.startswith("x" * 100) and "900 more characters" in short
    assert excerpt("  ") == "(empty)"
