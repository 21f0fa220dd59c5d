"""The CLI builds only the parsers of the command it is given (start-up time), and that
changes nothing a command sees."""
from __future__ import annotations

import importlib

import pytest

from grader import cli


def _choices(parser) -> dict:
    return next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction").choices


def test_every_command_is_mapped_to_the_group_that_registers_it():
    for group in cli.GROUPS:
        parser = cli._Parser(prog="grader")
        importlib.import_module(f"grader.cli.{group}").register(parser.add_subparsers(dest="command"))
        for command in _choices(parser):
            assert cli.COMMANDS.get(command) == group, command
    assert list(cli.COMMANDS) == list(_choices(cli.build_parser()))


@pytest.mark.parametrize("argv", [["check", "pack", "--seed", "3", "--json"], ["drill", "check", "2", "-i", "inv"],
                                  ["lab", "status"], ["report", "results.json", "--html", "r.html"]])
def test_one_group_parses_as_all_groups_do(argv):
    lazy = cli.build_parser(argv)
    assert set(_choices(lazy)) == {c for c, g in cli.COMMANDS.items() if g == cli.COMMANDS[argv[0]]}
    full = vars(cli.build_parser().parse_args(argv))
    assert {k: v for k, v in vars(lazy.parse_args(argv)).items() if k != "func"} == \
        {k: v for k, v in full.items() if k != "func"}


def test_help_and_unknown_commands_see_every_command(capsys):
    assert set(_choices(cli.build_parser(["--help"]))) == set(cli.COMMANDS)
    assert set(_choices(cli.build_parser(["chek"]))) == set(cli.COMMANDS)
    with pytest.raises(SystemExit):
        cli.main(["chek"])
    assert "choose from 'list'" in capsys.readouterr().err
