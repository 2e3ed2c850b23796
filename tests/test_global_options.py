"""Global options of issue 14, item 5: -V/--version, --quiet, and `wxshop` alone."""

from __future__ import annotations

import json

from tests.binding_helpers import TEST_DEBIT, start
from wxshop_cli import __version__


def test_version_short_and_long_and_as_json(cli):
    for flag in ("-V", "--version"):
        result = cli(flag)
        assert result.exit_code == 0 and result.stdout == f"wxshop {__version__}\n"
    assert cli.json("-V") == {"version": __version__}


def test_quiet_drops_the_talk_but_not_the_data_nor_the_errors(cli):
    start(cli, TEST_DEBIT)
    talk = cli("--json", "inbox")
    assert talk.stderr.startswith("1 unread")
    for flag in ("--quiet", "-q"):
        result = cli(flag, "--json", "inbox")
        assert result.exit_code == 0 and result.stderr == ""
        assert json.loads(result.stdout) == json.loads(talk.stdout)
    failed = cli("-q", "orders", "show", "D000")
    assert failed.exit_code == 4 and failed.stderr.startswith("error: no order")
    usage = cli("-q", "orders", "list", "--status", "bogus")
    assert usage.exit_code == 2 and usage.stderr.startswith("error: --status")


def test_quiet_silences_the_stderr_console_but_never_a_prompt(monkeypatch):
    import io
    import sys

    from wxshop_cli import config, output

    buffer = io.StringIO()
    monkeypatch.setattr(sys, "stderr", buffer)
    config.activate(config.Settings(quiet=True))
    output.err_console().print("progress")
    output.say("talk")
    output.warn("careful")
    assert buffer.getvalue() == ""
    output.err_console(talk=False).print("Payment password:")
    assert buffer.getvalue() == "Payment password:\n"
    config.activate(config.Settings())
    output.err_console().print("talk again")
    assert buffer.getvalue().endswith("talk again\n")
