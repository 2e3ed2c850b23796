"""Issue 11: wxshop under attack and bad luck. Nothing a person did not type reaches the
terminal as control codes; only wxshop databases are touched; every environmental fault has
a name and an exit code other than 1; input is bounded; a killed run leaves no spool behind.
"""

from __future__ import annotations

import json
import sys

import pytest

from tests import billing, shop

PWN = "\x1b]0;PWN\x07\x1b[2J"  # set the window title, clear the screen


def no_controls(text: str) -> None:
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text, repr(text)


# --------------------------------------------------------------------------- 1. escaping


def test_a_bill_field_with_a_control_character_is_refused_naming_line_and_column(
        cli, backend, tmp_path):
    day = billing.paid_day(cli)
    path = billing.export(cli, tmp_path / "bill.csv")
    text = path.read_text(encoding="utf-8")
    order_no = day["snacks"]["order_no"]
    bad = tmp_path / "pwn.csv"
    bad.write_text(text.replace(order_no, "D1" + PWN), encoding="utf-8")
    before = billing.runs(cli)
    result = cli("reconcile", str(bad))
    assert result.exit_code == 3, result.stderr
    line = result.stderr.strip()
    assert line.count("\n") == 0
    no_controls(line)
    assert "line 3: column 7: bad 商户订单号" in line and "U+001B" in line, line
    assert "\\x1b" in line  # the value is shown escaped
    error = cli.fails(3, "reconcile", str(bad))
    assert error["code"] == "invalid_bill_row" and error["location"] == "line 3"
    assert billing.runs(cli) == before  # nothing stored


@pytest.mark.parametrize("char", ["\u202e", "\u200b", "\x9b", "\x7f"])
def test_invisible_and_c1_characters_in_a_bill_are_refused(cli, tmp_path, char):
    billing.paid_day(cli)
    path = billing.export(cli, tmp_path / "bill.csv")
    lines = path.read_text(encoding="utf-8").split("\r\n" if "\r\n" in
                                                    path.read_text() else "\n")
    fields = lines[1].split(",")
    fields[22] = fields[22] + char  # 商品名称
    lines[1] = ",".join(fields)
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(lines), encoding="utf-8")
    error = cli.fails(3, "reconcile", str(bad))
    assert error["code"] == "invalid_bill_row" and "column 23" in error["message"]


def _store_title(sku: str, title: str) -> None:
    """Data written by an older wxshop or another tool: straight into the table."""
    from sqlalchemy import text

    db = shop.open_db()
    with db.transaction() as session:
        session.execute(text("UPDATE product SET title = :t WHERE sku = :s"),
                        {"t": title, "s": sku})


def test_stored_control_characters_are_escaped_in_tsv_tables_panels_and_json(
        cli, backend, monkeypatch):
    from wxshop_cli import output

    assert cli("product", "add", "--sku", "P-1", "--title", "Tea",
               "--price", "10", "--stock", "5").exit_code == 0
    _store_title("P-1", "Tea" + PWN + "\u202e")
    tsv = cli("product", "list")
    assert tsv.exit_code == 0
    no_controls(tsv.stdout)
    assert "Tea\\x1b]0;PWN\\x07\\x1b[2J\\u202e" in tsv.stdout
    raw = cli("--json", "product", "show", "P-1")
    no_controls(raw.stdout)
    assert json.loads(raw.stdout)["title"] == "Tea" + PWN + "\u202e"  # the same JSON value
    monkeypatch.setattr(output, "stdout_is_terminal", lambda: True)
    for args in (("product", "list"), ("product", "show", "P-1")):
        result = cli(*args)
        assert result.exit_code == 0
        no_controls(result.stdout)
        assert "\\x1b]0;PWN" in result.stdout.replace("\n", "").replace(" ", "").replace(
            "│", "").replace("┃", "") or "\\x1b" in result.stdout


def test_the_rich_console_escapes_what_a_command_prints_itself(monkeypatch, capsys):
    # A renderable a command builds itself (not via emit) is escaped by the console.
    from rich.text import Text

    from wxshop_cli import output

    output.out_console().print(Text("x" + PWN))
    output.err_console().print("say " + PWN)
    out, err = capsys.readouterr()
    no_controls(out)
    no_controls(err)
    assert "x\\x1b]0;PWN" in out and "say \\x1b" in err


@pytest.mark.parametrize("args", [
    ("orders", "show", "D" + PWN),
    ("--db", f"/nonexistent{PWN}/x.db", "orders", "list"),
    ("bill", "export", "--date", "2013-11-11", "-o", f"/nonexistent{PWN}/b.csv"),
    ("reconcile", f"/nonexistent/{PWN}.csv"),
])
def test_error_lines_escape_what_they_echo(cli, args):
    result = cli(*args)
    assert result.exit_code in (2, 3, 4), (result.exit_code, result.stderr)
    assert result.stderr.count("\n") == 1
    no_controls(result.stderr)
    assert "\\x1b" in result.stderr
    as_json = cli("--json", *args)
    no_controls(as_json.stderr)


def test_wxshop_home_with_control_characters_is_escaped_in_errors(cli, tmp_path):
    home = tmp_path / f"h{PWN}"
    home.write_text("not a directory")
    result = cli("orders", "list", env={"WXSHOP_HOME": str(home)})
    assert result.exit_code == 2
    no_controls(result.stderr)


def test_shown_is_the_one_escape():
    from wxshop_cli.output import shown

    assert shown("plain 中文　text") == "plain 中文　text"
    assert shown("a\x1bb\tc\nd\u202ee\U000e0001") == "a\\x1bb\\tc\\nd\\u202ee\\U000e0001"
    assert shown("a\nb", keep_newlines=True) == "a\nb"


if sys.platform != "linux":  # pragma: no cover
    pytestmark = pytest.mark.skip("Linux device files and /proc")
