"""One error contract for usage mistakes too (issue 14, item 2): an unknown command or option,
a missing argument or value, a bad choice, a non-number, a bad date or time give exactly one
stderr line `error: … (hint)` (or, with `--json` anywhere, one JSON error object on stderr),
exit 2 and an empty stdout, in wxshop's words, for every command of `lazy.COMMANDS`."""

from __future__ import annotations

import json
from typing import Any

import pytest

from wxshop_cli.cli import USAGE_REASONS
from wxshop_cli.lazy import COMMANDS, load

#: Phrases of click, Typer or pydantic that must never reach the user.
FOREIGN = ("Usage:", "Try '", "Input should", "Value error", "Invalid value for",
           "No such option", "No such command", "Missing argument", "Got unexpected",
           "does not match the format", "unable to parse")


def _leaves() -> list[tuple[list[str], Any]]:
    """Every runnable command as (its words after `wxshop`, its click command)."""
    found = []
    for name, entry in COMMANDS.items():
        command = load(name, entry)
        subcommands = getattr(command, "commands", None)
        if subcommands:
            found += [([name, verb], sub) for verb, sub in subcommands.items()]
        if not subcommands or getattr(command, "invoke_without_command", False):
            found.append(([name], command))
    return found


LEAVES = _leaves()
GROUPS = [name for name, entry in COMMANDS.items()
          if getattr(load(name, entry), "commands", None)]


def _valid(param: Any) -> str:
    descriptor = param.type_descriptor
    if descriptor.choices:
        return str(getattr(descriptor.choices[0], "value", descriptor.choices[0]))
    if descriptor.annotation in (int, float):
        return "1"
    if descriptor.is_datetime:
        return "2013-11-11"
    return "x"


def _filled(command: Any, *, every_argument: bool = False) -> list[str]:
    """The required options and arguments of a command (or every argument), with plausible
    values."""
    words: list[str] = []
    for param in command.params:
        if param.required and param.param_type_name == "option":
            words += [param.opts[0], _valid(param)]
    for param in command.params:
        if param.param_type_name == "argument" and (param.required or every_argument):
            words += ["x"] * max(param.nargs, 1)
    return words


def _value_options(command: Any) -> list[Any]:
    return [p for p in command.params if p.param_type_name == "option" and not p.is_flag
            and not p.name.startswith("wx_")]


def _mistakes() -> list[tuple[str, list[str], str]]:
    """(id, arguments, expected reason) for every command: the table of usage mistakes."""
    table: list[tuple[str, list[str], str]] = [
        ("root unknown command", ["frobnicate"], "unknown_command"),
        ("root unknown option", ["--frobnicate", "regions"], "unknown_option"),
        ("root bad --now", ["--now", "tomorrow", "regions"], "invalid_time"),
        ("root --now without value", ["regions", "--now"], "unknown_option"),
        ("root --db without value", ["--db"], "missing_value"),
    ]
    for name in GROUPS:
        table.append((f"{name} unknown verb", [name, "frobnicate"], "unknown_command"))
    for path, command in LEAVES:
        label = " ".join(path)
        filled = _filled(command)
        table.append((f"{label} unknown option", [*path, *filled, "--frobnicate"],
                      "unknown_option"))
        required = [p for p in command.params if p.required]
        if required:
            first = required[0]
            table.append((f"{label} nothing given", path,
                          "missing_option" if first.param_type_name == "option"
                          else "missing_argument"))
        variadic = any(p.param_type_name == "argument" and p.nargs == -1
                       for p in command.params)
        if not variadic:
            table.append((f"{label} extra argument",
                          [*path, *_filled(command, every_argument=True), "extra1"],
                          "unknown_command" if getattr(command, "commands", None)
                          else "extra_argument"))
        for option in _value_options(command):
            opt = option.opts[0]
            table.append((f"{label} {opt} without value", [*path, *filled, opt],
                          "missing_value"))
            descriptor = option.type_descriptor
            if descriptor.choices:
                table.append((f"{label} {opt} bad choice", [*path, *filled, opt, "bogus"],
                              "invalid_choice"))
            elif descriptor.annotation in (int, float):
                table.append((f"{label} {opt} not a number", [*path, *filled, opt, "abc"],
                              "not_a_number"))
            elif descriptor.is_datetime:
                table.append((f"{label} {opt} bad date", [*path, *filled, opt, "2026-13-01"],
                              "invalid_date"))
    return table


MISTAKES = _mistakes()


def test_the_table_covers_every_command_and_every_kind_of_mistake():
    tried = {tuple(args[:2]) for _, args, _ in MISTAKES} | {
        (args[0],) for _, args, _ in MISTAKES}
    for path, _ in LEAVES:
        assert tuple(path) in tried, path
    reasons = {reason for _, _, reason in MISTAKES}
    assert reasons >= {"unknown_command", "unknown_option", "missing_argument",
                       "missing_option", "missing_value", "extra_argument", "invalid_choice",
                       "not_a_number", "invalid_date", "invalid_time"}
    assert reasons <= set(USAGE_REASONS)


@pytest.mark.parametrize(("label", "args", "reason"), MISTAKES, ids=[m[0] for m in MISTAKES])
def test_a_usage_mistake_is_one_line_exit_2_with_or_without_json(cli, label, args, reason):
    result = cli(*args)
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.endswith(")\n"), result.stderr
    line = result.stderr
    assert line.startswith("error: "), line
    assert not any(phrase in line for phrase in FOREIGN), line

    # --json anywhere: before the command, or at the end of the line.
    for placed in (["--json", *args], [*args, "--json"]):
        result = cli(*placed)  # `--db --json`: the option is refused as --db's value
        assert result.exit_code == 2, (placed, result.stderr)
        assert result.stdout == ""
        assert result.stderr.count("\n") == 1, result.stderr
        error = json.loads(result.stderr)["error"]
        assert error["code"] == "usage" and error["exit_code"] == 2
        assert error["reason"] == reason, (placed, error)
        assert error["hint"] and error["message"]
        assert not any(phrase in error["message"] for phrase in FOREIGN), error


def test_a_bad_choice_names_the_accepted_ones(cli):
    result = cli("orders", "list", "--status", "bogus")
    assert result.stderr == ("error: --status cannot be 'bogus' (choose from: pending_payment, "
                             "paying, paid, partially_refunded, refunded, closed)\n")
    error = cli.fails(2, "orders", "list", "--status", "bogus")
    assert error["choices"][:3] == ["pending_payment", "paying", "paid"]
    assert error["param"] == "--status" and error["reason"] == "invalid_choice"


def test_a_non_number_is_said_in_our_words(cli):
    result = cli("buy", "YX-2001", "--qty", "abc")
    assert result.stderr == ("error: --qty must be a whole number, not 'abc' "
                             "(see 'wxshop buy --help')\n") or \
        result.stderr.startswith("error: --qty must be a whole number, not 'abc' (see '")
    error = cli.fails(2, "rehearse", "--duration", "soon")
    assert error["message"] == "--duration must be a number, not 'soon'"


def test_an_impossible_date_and_time(cli):
    error = cli.fails(2, "orders", "list", "--date", "2026-13-01")
    assert error["message"] == "--date is not a date YYYY-MM-DD: '2026-13-01'"
    assert error["reason"] == "invalid_date"
    error = cli.fails(2, "--now", "tomorrow", "orders", "list")
    assert error["message"] == "--now is not an ISO 8601 time: 'tomorrow'"
    assert error["param"] == "--now"


def test_an_unknown_command_or_option_suggests_the_close_ones(cli):
    assert "did you mean 'orders'?" in cli("oders", "list").stderr
    assert "did you mean 'list'?" in cli("orders", "lst").stderr
    result = cli("orders", "list", "--stat", "paid")
    assert "did you mean --status?" in result.stderr or "--status" in result.stderr
    # A parser error without its command's context still points at that command's help.
    assert "see '" in cli("orders", "list", "--status").stderr
    assert "orders list --help" in cli("orders", "list", "--status").stderr


def test_an_echoed_value_is_clipped_and_escaped(cli):
    result = cli("orders", "list", "--status", "\x1b[31m" + "x" * 5000)
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert "\x1b" not in result.stderr and "\\x1b" in result.stderr
    assert len(result.stderr) < 700


@pytest.mark.parametrize("args", [[], ["orders"], ["promo"], ["cards"]])
def test_a_group_alone_prints_its_help_and_exits_0(cli, args):
    result = cli(*args)
    assert result.exit_code == 0
    assert result.stdout.startswith("Usage: ") and "Commands:" in result.stdout
    assert result.stderr == ""


def test_json_alone_is_a_missing_command(cli):
    error = cli.fails(2)
    assert error["reason"] == "missing_command"


def test_an_option_never_takes_another_option_as_its_value(cli, tmp_path, monkeypatch):
    """`bill export -o --json` wrote a bill named `--json`; now the option is refused."""
    monkeypatch.chdir(tmp_path)
    error = cli.fails(2, "bill", "export", "--date", "2013-11-11", "-o", "--json")
    assert (error["reason"], error["param"]) == ("missing_value", "--output")
    assert error["message"] == "--output needs a value, not the option --json"
    assert list(tmp_path.iterdir()) == []  # no file, and no database either
    result = cli("bill", "export", "--date", "2013-11-11", "-o", "--gzip")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == ("error: --output needs a value, not the option --gzip "
                             "(give it first, e.g. --output FILE --gzip)\n")
    # Before the value is read as a date, a number or a choice: the same mistake.
    assert cli.fails(2, "orders", "list", "--limit", "--all")["reason"] == "missing_value"
    assert cli.fails(2, "--db", "--buyer", "me", "regions")["param"] == "--db"
    # A value that only starts with a dash is still the option's to judge.
    assert "needs a value" not in cli.fails(2, "orders", "list", "--limit", "-5")["message"]
    assert cli("--json", "bill", "export", "--date", "2013-11-11", "-o", "-").exit_code == 2
