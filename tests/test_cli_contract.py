"""The command-line contract of SPEC sections 2 and 3: options, output, errors, start-up."""

import json
import os
import stat
import sys

import pytest

from wxshop_cli.lazy import COMMANDS


def test_regions_json_lists_the_34_divisions(cli):
    regions = cli.json("regions")
    assert len(regions) == 34
    codes = [r["code"] for r in regions]
    assert len(set(codes)) == 34
    assert {"code": "110000", "name": "北京市"}.items() <= regions[0].items()
    assert codes[-1] == "820000"
    assert all(set(r) >= {"code", "name"} for r in regions)


def test_json_option_is_accepted_after_the_command_too(cli):
    result = cli("regions", "--json")
    assert result.exit_code == 0
    assert len(json.loads(result.stdout)) == 34


def test_a_pipe_gets_tab_separated_rows_with_one_header(cli):
    result = cli("regions")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "code\tname\tname_en"
    assert lines[1] == "110000\t北京市\tBeijing"
    assert len(lines) == 35


def test_unknown_command_is_a_usage_error(cli):
    result = cli("frobnicate")
    assert result.exit_code == 2
    assert result.stdout == ""


@pytest.mark.parametrize("value", ["tomorrow", "2013-13-01", "11/11/2013"])
def test_malformed_now_is_a_usage_error(cli, value):
    result = cli("--now", value, "regions")
    assert result.exit_code == 2
    assert "ISO 8601" in result.stderr
    assert result.stdout == ""


def test_malformed_now_in_the_environment_is_a_usage_error(cli):
    result = cli("regions", env={"WXSHOP_NOW": "soon"})
    assert result.exit_code == 2
    assert "WXSHOP_NOW" in result.stderr


def test_empty_environment_variables_count_as_unset(cli, wx_env):
    paths = cli.json("db", "path", env={"WXSHOP_DB": "", "WXSHOP_NOW": ""})
    assert paths["path"] == str(wx_env / "wxshop.db")


def test_database_precedence_option_over_environment_over_default(cli, tmp_path, wx_env):
    assert cli.json("db", "path")["path"] == str(wx_env / "wxshop.db")
    env_db = str(tmp_path / "env.db")
    assert cli.json("db", "path", env={"WXSHOP_DB": env_db})["path"] == env_db
    opt_db = str(tmp_path / "opt.db")
    assert cli.json("--db", opt_db, "db", "path", env={"WXSHOP_DB": env_db})["path"] == opt_db


def test_db_path_hides_a_url_password(cli):
    shown = cli.json("--db", "postgresql+psycopg://u:secret@host/db", "db", "path")
    assert "secret" not in shown["url"]
    assert shown["path"] is None


def test_db_path_does_not_create_anything(cli, wx_env):
    cli.json("db", "path")
    assert not wx_env.exists()


def test_invalid_input_gives_one_line_and_exit_3(cli):
    result = cli("merchant", "set", "--app-id", "not-an-app-id")
    assert result.exit_code == 3
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: app id: not a WeChat app id")
    assert "Traceback" not in result.stderr


def test_json_errors_are_one_json_line_on_stderr(cli):
    error = cli.fails(3, "merchant", "set", "--mch-id", "12")
    assert error["code"] == "invalid_mch_id"
    assert "10 digits" in error["message"]


def test_invalid_buyer_name_is_invalid_input(cli):
    error = cli.fails(3, "--buyer", "bad name!", "merchant", "show")
    assert error["code"] == "invalid_buyer"


def test_unknown_time_zone_is_a_usage_error(cli):
    result = cli("--now", "2013-11-11T10:00:00", "merchant", "show",
                 env={"WXSHOP_TZ": "Mars/Olympus"})
    assert result.exit_code == 2
    assert "time zone" in result.stderr


def test_unreachable_database_exits_9_with_one_line(cli):
    url = "postgresql+psycopg://nobody@127.0.0.1:1/none"
    result = cli("--db", url, "merchant", "show")
    assert result.exit_code == 9
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
    assert "cannot reach the database" in result.stderr


def test_database_in_a_missing_directory_is_a_usage_error(cli, tmp_path):
    result = cli("--db", str(tmp_path / "nope" / "x.db"), "merchant", "show")
    assert result.exit_code == 2
    assert "does not exist" in result.stderr
    assert not (tmp_path / "nope").exists()


def test_help_and_regions_start_without_the_database_stack():
    for args in (["--help"], ["regions"], ["db", "path"]):
        imported = _imported(*args)
        assert "sqlalchemy" not in imported, args
        assert "sqlmodel" not in imported, args
        assert "typer" in imported  # the check really sees imports


@pytest.mark.parametrize("args", [["--help"], ["regions"], ["buy", "--help"],
                                  ["orders", "list", "--help"], ["promo", "--help"],
                                  ["reconcile", "--help"], ["--buyer", "me", "regions"]])
def test_help_and_regions_import_no_rich_pydantic_or_other_commands(args):
    """Start-up rules (issue 10): no Rich when stdout is not a terminal, no pydantic (Typer's
    parameter adapters), and only the command module that runs."""
    imported = _imported(*args)
    for heavy in ("rich", "pydantic", "sqlalchemy"):
        assert heavy not in imported, (args, heavy)
    commands = {name for name in imported if name.startswith("wxshop_cli.commands.")}
    used = {name for name in args if not name.startswith("-")}
    allowed = {"wxshop_cli.commands", *(f"wxshop_cli.commands.{COMMANDS[n].module}"
                                         for n in used if n in COMMANDS)}
    assert commands <= allowed, (args, commands - allowed)
    assert "typer" in imported


def test_the_command_table_says_what_the_modules_say():
    """`wxshop --help` reads wxshop_cli/lazy.py's table; it must match the real commands."""
    import typer.main

    from wxshop_cli.app import app
    from wxshop_cli.lazy import load

    root = typer.main.get_command(app)
    assert list(root.list_commands(None)) == list(COMMANDS)
    for name, entry in COMMANDS.items():
        command = load(name, entry)
        assert command.name == name
        first = " ".join((command.help or "").split("\n\n")[0].split())
        assert first == entry.help, name


def test_root_help_lists_every_command_with_its_short_help(cli):
    result = cli("--help")
    assert result.exit_code == 0
    listed = result.stdout.split("Commands:")[1].split()
    for name in COMMANDS:
        assert name in listed
    assert "Buy in one step: item → saved address → bound card." in result.stdout


@pytest.mark.parametrize("annotation,value", [
    (int, "1"), (int, "+7"), (int, "-0012"), (int, "abc"), (int, "1.5"), (int, " 3"),
    (int, "1_000"), (int, "99999999999999999999"), (int, ""), (str, "abc"), (str, ""),
    (bool, True), (bool, False)])
def test_lean_coercion_reads_values_exactly_as_typer_does(annotation, value):
    """wxshop_cli/lean.py skips pydantic for plain parameters; the results (and errors)
    must be Typer's own."""
    import typer
    import typer.main
    from typer._click import Context
    from typer._click.exceptions import BadParameter
    from typer._coercion import build_runtime_param

    from wxshop_cli.lean import install

    install()
    demo = typer.Typer()

    @demo.command()
    def command(opt: annotation = typer.Option(None, "--opt")) -> None:  # type: ignore
        pass

    click_command = typer.main.get_command(demo)
    param = next(p for p in click_command.params if p.name == "opt")
    ctx = Context(click_command)

    def outcome(runtime):
        try:
            return "value", runtime._coerce_value(value, param, ctx)
        except BadParameter as exc:
            return "error", exc.message

    assert type(param.get_runtime_param()).__name__ == "TextParam"
    assert outcome(param.get_runtime_param()) == outcome(build_runtime_param(
        param.type_descriptor))


def _imported(*args):
    proc = _importtime(*args)
    assert proc.returncode == 0, proc.stderr
    return {line.split("|")[-1].strip() for line in proc.stderr.splitlines()
            if line.startswith("import time:")}


def _importtime(*args):
    import subprocess
    import sys

    from tests.conftest import REPO

    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-X", "importtime", "-m", "wxshop_cli", *args],
                          capture_output=True, text=True, env=env, timeout=60)


def test_version(cli):
    result = cli("--version")
    assert result.exit_code == 0
    assert result.stdout.startswith("wxshop ")


def test_files_are_private(cli, wx_env):
    cli.json("db", "upgrade")
    assert stat.S_IMODE(wx_env.stat().st_mode) == 0o700
    for name in ("wxshop.db", "secret.key"):
        assert stat.S_IMODE((wx_env / name).stat().st_mode) == 0o600, name
    assert (wx_env / "secret.key").stat().st_size == 32


def test_an_existing_directory_is_not_chmodded(cli, tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    os.chmod(shared, 0o755)
    cli.json("db", "upgrade", env={"WXSHOP_HOME": str(shared)})
    assert stat.S_IMODE(shared.stat().st_mode) == 0o755
    assert stat.S_IMODE((shared / "wxshop.db").stat().st_mode) == 0o600


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-10:00"])
def test_times_past_the_calendar_are_usage_errors_not_tracebacks(cli, value):
    result = cli("--now", value, "regions")
    assert result.exit_code == 2
    assert "Traceback" not in result.stderr


def test_empty_buyer_or_database_options_are_mistakes_not_defaults(cli):
    assert cli.fails(3, "--buyer", "", "merchant", "show")["code"] == "invalid_buyer"
    result = cli("--db", "", "merchant", "show")
    assert result.exit_code == 2 and "--db is empty" in result.stderr


def test_set_up_mistakes_are_usage_errors_that_change_nothing(cli, tmp_path, wx_env):
    directory = tmp_path / "adir"
    directory.mkdir()
    not_a_db = tmp_path / "notes.txt"
    not_a_db.write_text("hello\n")
    assert cli.fails(2, "--db", str(directory), "merchant", "show")["code"] == \
        "invalid_database_path"
    assert cli.fails(2, "--db", str(not_a_db), "merchant", "show")["code"] == \
        "invalid_database_path"
    assert not_a_db.read_text() == "hello\n"
    assert cli.fails(2, "merchant", "show", env={"WXSHOP_HOME": str(not_a_db)})["code"] == \
        "invalid_home"
    assert cli.fails(2, "merchant", "show", env={"WXSHOP_SECRET_KEY_FILE": str(directory)}
                     )["code"] == "invalid_secret_key_file"
    assert cli.fails(2, "merchant", "show", env={"WXSHOP_BUSY_TIMEOUT": "soon"})["code"] == \
        "invalid_busy_timeout"
    assert not wx_env.exists()


def test_a_missing_key_file_for_an_existing_database_is_refused_without_making_one(cli,
                                                                                   tmp_path):
    cli.json("db", "upgrade")
    stray = tmp_path / "new.key"
    error = cli.fails(5, "merchant", "show", env={"WXSHOP_SECRET_KEY_FILE": str(stray)})
    assert error["code"] == "wrong_secret_key"
    assert not stray.exists()


def test_error_messages_never_echo_huge_arguments(cli):
    result = cli("--json", "orders", "show", "D" * 100_000)
    assert result.exit_code == 4
    assert len(result.stderr) < 2000


def test_an_interruption_is_reported_in_the_json_contract(cli):
    import typer

    from wxshop_cli.cli import run_guarded
    from wxshop_cli.config import Settings, activate

    activate(Settings(json=True))

    def interrupted():
        raise KeyboardInterrupt

    with pytest.raises(typer.Exit) as info:
        run_guarded(interrupted)
    assert info.value.exit_code == 130


@pytest.mark.slow
def test_no_color_is_honoured_on_a_terminal(tmp_path):
    """On a real terminal the demo uses colour (the red dot); NO_COLOR turns colour off."""
    import re

    import pexpect

    from tests.conftest import REPO

    colour = re.compile(r"\x1b\[(?:3[0-7]|9[0-7]|38;)")

    def run(extra):
        env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
        env.update(PYTHONPATH=str(REPO), WXSHOP_HOME=str(tmp_path / "h"), COLUMNS="120",
                   **extra)
        output, status = pexpect.run(f"{sys.executable} -m wxshop_cli demo", env=env,
                                     withexitstatus=True, timeout=120, encoding="utf-8")
        assert status == 0, output
        return output

    assert colour.search(run({}))
    assert not colour.search(run({"NO_COLOR": "1"}))


@pytest.mark.parametrize("markup", [
    "[yellow]warning:[/yellow] x", "[bold]Bind[/bold] [dim](sandbox bank)[/dim]",
    r"a \[b] c", "10:00 plain", "[strike dim]old[/strike dim] new", r"x \\[red]y[/red]",
    "price [¥3.00]", "[green]Bound 招商银行 ****0000[/green] (default card)"])
def test_talk_on_a_pipe_is_what_rich_would_print_there_without_rich(markup):
    """`say` writes plain text when stderr is not a terminal (no Rich import): the same text
    Rich renders from that markup."""
    from rich.markup import render

    from wxshop_cli.output import plain

    assert plain(markup) == render(markup).plain


def test_a_database_command_on_a_pipe_does_not_import_rich(cli, tmp_path):
    """stdout and stderr are pipes: TSV on stdout, talk on stderr, and no Rich at all."""
    cli.json("db", "upgrade")
    for args in (["promo", "list"], ["orders", "list"], ["merchant", "show"]):
        imported = _imported(*args)
        assert "sqlalchemy" in imported, args  # the check sees a database command
        assert "rich" not in imported, args


def test_the_fast_exit_keeps_output_exit_codes_and_committed_writes(wx_env):
    """The console script ends with os._exit after flushing and closing the database:
    whole output, the right exit code, and what was committed is there for the next one."""
    from tests.conftest import run_wxshop

    regions = run_wxshop("regions")
    assert regions.returncode == 0 and len(regions.stdout.splitlines()) == 35
    assert regions.stdout.splitlines()[-1].startswith("820000\t")  # the last line whole
    unknown = run_wxshop("frobnicate")
    assert unknown.returncode == 2 and "unknown command" in unknown.stderr
    wrong = run_wxshop("--json", "merchant", "set", "--mch-id", "12")
    assert wrong.returncode == 3
    assert json.loads(wrong.stderr)["error"]["code"] == "invalid_mch_id"
    changed = run_wxshop("--json", "merchant", "set", "--fee-rate", "0.38")
    assert changed.returncode == 0, changed.stderr
    shown = run_wxshop("--json", "merchant", "show")
    assert shown.returncode == 0
    assert json.loads(shown.stdout)["fee_rate_ppm"] == 3800 == json.loads(changed.stdout)[
        "fee_rate_ppm"]
    assert not (wx_env / "wxshop.db-wal").exists() or (wx_env / "wxshop.db-wal").stat(
        ).st_size == 0  # connections closed: the WAL was checkpointed
