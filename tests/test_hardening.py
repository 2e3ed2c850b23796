"""Issue 11: wxshop under attack and bad luck. Nothing a person did not type reaches the
terminal as control codes; only wxshop databases are touched; every environmental fault has
a name and an exit code other than 1; input is bounded; a killed run leaves no spool behind.
"""

from __future__ import annotations

import contextlib
import json
import sys

import pytest

from tests import billing, shop
from tests.shop import snapshot

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
    output.say("plain " + PWN)  # stderr not a terminal: written without Rich, escaped too
    out, err = capsys.readouterr()
    no_controls(out)
    no_controls(err)
    assert "plain \\x1b]0;PWN\\x07" in err
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


# --------------------------------------------------------------------------- helpers




def sha256(path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


# --------------------------------------------------------------------------- 2. foreign


def _foreign_sqlite(path, table: str = "notes") -> None:
    import sqlite3

    conn = sqlite3.connect(path)
    conn.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, body TEXT)")
    conn.execute(f"INSERT INTO {table} (body) VALUES ('keep me')")
    conn.commit()
    conn.close()


@pytest.mark.parametrize("table", ["notes", "product"])
@pytest.mark.parametrize("args", [("orders", "list"), ("product", "add", "--sku", "A",
                                                      "--title", "T", "--price", "1",
                                                      "--stock", "1"), ("db", "upgrade")])
def test_a_foreign_sqlite_database_is_refused_byte_for_byte_unchanged(cli, tmp_path, table,
                                                                      args):
    path = tmp_path / "notes.sqlite"
    _foreign_sqlite(path, table)
    before = sha256(path)
    error = cli.fails(5, "--db", str(path), *args)
    assert error["code"] == "foreign_database", error
    assert sha256(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "notes.sqlite"] or \
        not (tmp_path / "notes.sqlite-wal").exists()
    result = cli("--db", str(path), *args)
    assert result.exit_code == 5 and result.stderr.count("\n") == 1


def test_an_empty_file_and_a_wxshop_database_are_still_used(cli, tmp_path):
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    assert cli.json("--db", str(empty), "orders", "list") == []
    assert cli.json("--db", str(empty), "orders", "list") == []  # and again, now wxshop's


def test_a_foreign_postgresql_schema_is_refused_untouched(cli, backend):
    if backend != "postgresql":
        pytest.skip("the PostgreSQL check (SQLite's is above)")
    from sqlalchemy import create_engine, text

    from tests.conftest import PG_URL

    engine = create_engine(PG_URL)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE notes (id serial PRIMARY KEY, body text)"))
        conn.execute(text("INSERT INTO notes (body) VALUES ('keep me')"))
    before = snapshot()
    assert cli.fails(5, "orders", "list")["code"] == "foreign_database"
    assert cli.fails(5, "db", "upgrade")["code"] == "foreign_database"
    assert snapshot() == before == {"notes": [("1", "'keep me'")]}
    engine.dispose()


# --------------------------------------------------------------------------- 3. faults


def _shop_db(cli, tmp_path):
    path = tmp_path / "shop.db"
    assert cli("--db", str(path), "product", "add", "--sku", "A", "--title", "T", "--price",
               "1", "--stock", "1").exit_code == 0
    from wxshop_cli.db.engine import forget

    forget()  # as a new process would: nothing open on the file when it is changed
    return path


@pytest.mark.parametrize(("make", "slug", "code"), [
    (lambda p: p.write_bytes(p.read_bytes()[:5000]), "database_corrupt", 5),  # truncated
    (lambda p: p.write_bytes(p.read_bytes()[:50]), "database_corrupt", 5),  # header cut
    (lambda p: p.write_bytes(p.read_bytes()[:100] + bytes(range(256)) * 400),
     "database_corrupt", 5),  # an SQLite header, then garbage
    (lambda p: p.write_bytes(b"hello\n"), "invalid_database_path", 2),  # not SQLite at all
])
def test_a_damaged_database_file_is_named_and_left_as_it_is(cli, tmp_path, make, slug, code):
    path = _shop_db(cli, tmp_path)
    make(path)
    before = sha256(path)
    for args in (("product", "list"), ("product", "add", "--sku", "B", "--title", "T",
                                       "--price", "1", "--stock", "1")):
        error = cli.fails(code, "--db", str(path), *args)
        assert error["code"] == slug, error
        assert error["hint"]
    assert sha256(path) == before


@pytest.mark.parametrize("device", ["/dev/null", "/dev/zero", "/dev/full"])
def test_a_device_file_is_not_a_database(cli, device):
    assert cli.fails(2, "--db", device, "orders", "list")["code"] == "database_not_a_file"


def test_a_fifo_is_not_a_database(cli, tmp_path):
    import os

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert cli.fails(2, "--db", str(fifo), "orders", "list")["code"] == "database_not_a_file"


def _chattr(flag: str, path) -> bool:
    import subprocess

    try:
        return subprocess.run(["chattr", flag, str(path)], capture_output=True).returncode == 0
    except FileNotFoundError:
        return False


@pytest.mark.parametrize("what", ["file", "directory"])
def test_an_immutable_database_file_or_directory_is_read_only(cli, tmp_path, what):
    """`chattr +i` stops root too (a chmod would not); skipped where chattr cannot."""
    path = _shop_db(cli, tmp_path)
    target = path if what == "file" else tmp_path
    if not _chattr("+i", target):
        pytest.skip("chattr +i is not available here")
    try:
        before = sha256(path)
        error = cli.fails(5, "--db", str(path), "product", "add", "--sku", "B", "--title",
                          "T", "--price", "1", "--stock", "1")
        assert error["code"] == "database_read_only", error
        if what == "directory":
            error = cli.fails(5, "--db", str(tmp_path / "new.db"), "orders", "list")
            assert error["code"] == "database_read_only", error
        assert sha256(path) == before
    finally:
        _chattr("-i", target)


def test_a_read_only_connection_names_the_fault_on_both_engines(cli, backend, tmp_path):
    """The driver-level view of a read-only database: SQLite opened with mode=ro,
    PostgreSQL with default_transaction_read_only."""
    from tests.conftest import PG_URL

    if backend == "sqlite":
        path = _shop_db(cli, tmp_path)
        url = f"sqlite:///file:{path}?mode=ro&uri=true"
    else:
        assert cli("product", "add", "--sku", "A", "--title", "T", "--price", "1",
                   "--stock", "1").exit_code == 0
        url = PG_URL + "&options=-c%20default_transaction_read_only%3Don"
    before = snapshot()
    assert [p["sku"] for p in cli.json("--db", url, "product", "list")] == ["A"]
    error = cli.fails(5, "--db", url, "product", "add", "--sku", "B", "--title", "T",
                      "--price", "1", "--stock", "1")
    assert error["code"] == "database_read_only", error
    assert snapshot() == before


@contextlib.contextmanager
def full_disk(db, spare_pages: int = 0):
    """SQLite's max_page_count stands in for a full disk (no root tricks): the database may
    grow `spare_pages` more pages while inside; space is back when the block ends."""
    from sqlalchemy import event

    with db.engine.connect() as conn:
        pages = conn.exec_driver_sql("PRAGMA page_count").scalar() + spare_pages

    def limit(dbapi_connection, _record):
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages}")

    event.listen(db.engine, "connect", limit)
    db.engine.dispose()
    try:
        yield
    finally:
        event.remove(db.engine, "connect", limit)
        db.engine.dispose()


def test_a_full_disk_is_named_changes_nothing_and_the_same_command_completes_later(
        cli, tmp_path):
    """SQLite's max_page_count stands in for a full disk (no root tricks)."""

    db = shop.open_db()
    with full_disk(db):
        _, failed = until_disk_full(
            cli, 200, lambda n: ("product", "add", "--sku", f"S{n}", "--title", "T" * 200,
                                 "--price", "1", "--stock", "1", "--description", "d" * 500),
            watch=snapshot)
    assert cli("--json", *failed).exit_code == 0  # space is back: the same command works


def until_disk_full(cli, attempts: int, args_of, *, env=None, watch=None):
    """Run `wxshop --json *args_of(n)` for n = 0, 1, … until one fails: that one must be
    named disk_full (exit 9) and, given `watch`, leave what it returns unchanged.
    Returns (n, args) of the failed run."""
    for n in range(attempts):
        args = args_of(n)
        before = watch() if watch is not None else None
        result = cli("--json", *args, env=env)
        if result.exit_code != 0:
            break
    else:
        pytest.fail("the page limit never bit")
    assert result.exit_code == 9, result.stderr
    assert json.loads(result.stderr)["error"]["code"] == "disk_full"
    if watch is not None:
        assert watch() == before
    return n, args


def test_postgresql_disk_full_and_read_only_states_are_named():
    from wxshop_cli.db.engine import translate_db_error

    class Orig(Exception):
        def __init__(self, sqlstate):
            super().__init__("could not extend file")
            self.sqlstate = sqlstate

    class Wrapped(Exception):
        def __init__(self, sqlstate):
            self.orig = Orig(sqlstate)

    assert translate_db_error(Wrapped("53100")).slug == "disk_full"
    assert translate_db_error(Wrapped("25006")).slug == "database_read_only"


def test_bill_export_onto_a_full_disk_is_named_and_leaves_the_device_alone(cli, tmp_path):
    import os
    import stat

    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    billing.paid_day(cli)
    error = cli.fails(9, "bill", "export", "--date", billing.DAY, "-o", "/dev/full")
    assert error["code"] == "disk_full"
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)  # written in place, never replaced
    assert not [p for p in os.listdir("/dev") if p.startswith(".full.")]


# --------------------------------------------------------------------------- 4. bounds

BIG = "9" * 5000


@pytest.mark.parametrize("source", ["/dev/zero", "fifo", "huge"])
@pytest.mark.parametrize("command", [("promo", "publish"), ("fixtures", "load")])
def test_promotion_files_and_fixtures_must_be_small_regular_files(cli, tmp_path, source,
                                                                 command):
    import os

    from wxshop_cli.core.inputlimits import MAX_FILE_BYTES

    if source == "fifo":
        path = tmp_path / "promo.json"
        os.mkfifo(path)  # opening it would wait for a writer: it is never opened
    elif source == "huge":
        path = tmp_path / "promo.json"
        path.write_bytes(b" " * (MAX_FILE_BYTES + 1))
    else:
        path = source
    error = cli.fails(2, *command, str(path))
    assert error["code"] == "invalid_file", error
    assert "regular file" in error["message"] or "MiB" in error["message"]


def _nested(kind: str, depth: int) -> str:
    if kind == "json":
        return '{"code": ' + "[" * depth + "]" * depth + "}"
    return "code = " + "[" * depth + "]" * depth + "\n"


@pytest.mark.parametrize("kind", ["json", "toml"])
def test_a_promotion_file_nested_deep_is_a_located_mistake(cli, tmp_path, kind):
    path = tmp_path / f"deep.{kind}"
    path.write_text(_nested(kind, 100_000))
    error = cli.fails(3, "promo", "publish", str(path))
    assert error["code"] == "invalid_promo_file"
    # The 33rd level: the JSON object is the first, so its 32nd bracket.
    assert error["location"] == "line 1, column " + ("41" if kind == "json" else "40")
    assert "nested more than 32 levels" in error["message"] + " ".join(error["details"])


def test_nesting_inside_strings_does_not_count(cli, tmp_path):
    from wxshop_cli.core.inputlimits import too_deep

    assert too_deep('{"t": "' + "[" * 100 + '"}', toml=False) is None
    assert too_deep('t = "' + "[" * 100 + '" # ' + "{" * 100 + "\nu = '[[[['", toml=True) \
        is None
    assert too_deep("a = " + "[" * 33, toml=True) == "line 1, column 37"


def test_a_fixture_nested_deep_is_a_located_mistake(cli, tmp_path):
    path = tmp_path / "deep.json"
    path.write_text('{"steps": ' + "[" * 100_000 + "]" * 100_000 + "}")
    error = cli.fails(3, "fixtures", "load", str(path))
    assert error["code"] == "invalid_fixture" and error["location"] == "line 1, column 42"


@pytest.mark.parametrize("args", [
    ("product", "add", "--sku", "A", "--title", "T", "--price", BIG, "--stock", "1"),
    ("product", "add", "--sku", "A", "--title", "T", "--price", "1", "--stock", BIG),
    ("promo", "add-item", "X", "--sku", "A", "--price", BIG, "--stock", "1"),
    ("promo", "add-item", "X", "--sku", "A", "--price", "1", "--stock", BIG),
    ("orders", "refund", "D2013111100000000001", "--amount", BIG),
    ("merchant", "set", "--fee-rate", BIG),
])
def test_a_number_of_5000_digits_is_invalid_input(cli, args):
    error = cli.fails(3, *args)
    assert error["code"] in ("invalid_amount", "invalid_stock", "invalid_rate"), error
    assert len(error["message"]) <= 400


@pytest.mark.parametrize("kind", ["json", "toml"])
def test_a_number_of_5000_digits_in_a_promotion_file_is_invalid_input(cli, tmp_path, kind):
    from tests.test_promofile import base, write

    document = base()
    document["items"][0]["stock"] = 1
    path = tmp_path / f"p.{kind}"
    write(tmp_path, document, path.name)
    path.write_text(path.read_text().replace("stock = 1\n", f"stock = {BIG}\n").replace(
        '"stock": 1,', f'"stock": {BIG},'))
    assert BIG in path.read_text()
    error = cli.fails(3, "promo", "publish", str(path))
    assert error["code"] == "invalid_promo_file"


def test_paths_too_long_are_usage_errors(cli, tmp_path):
    long = tmp_path / ("x" * 300)
    assert cli.fails(2, "--db", str(long) + ".db", "orders", "list")["code"] == \
        "invalid_database_path"
    error = cli.fails(2, "bill", "export", "--date", "2013-11-11", "-o", str(long))
    assert error["code"] == "invalid_path", error
    assert cli.fails(2, "promo", "publish", str(long))["code"] == "invalid_path"


def test_a_wxshop_home_symlink_loop_is_a_usage_error(cli, tmp_path):
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    for args in (("orders", "list"), ("db", "path")):
        error = cli.fails(2, *args, env={"WXSHOP_HOME": str(tmp_path / "a")})
        assert error["code"] == "invalid_home"


CAFE = "caf\udce9"  # what Python makes of the bytes caf\xe9 in argv

LOOKUPS = [
    ("orders", "show", CAFE), ("orders", "cancel", CAFE), ("orders", "refund", CAFE),
    ("cards", "show", CAFE), ("cards", "unbind", CAFE), ("cards", "default", CAFE),
    ("promo", "show", CAFE), ("promo", "publish", CAFE), ("promo", "unpublish", CAFE),
    ("promo", "archive", CAFE), ("product", "show", CAFE), ("address", "default", CAFE),
    ("address", "remove", CAFE), ("reconciliations", "show", CAFE), ("buy", CAFE),
    ("reconcile", CAFE), ("fixtures", "load", CAFE), ("--db", f"/tmp/{CAFE}.db", "orders",
                                                       "list"),
    ("--buyer", CAFE, "orders", "list"),
]


@pytest.mark.parametrize("args", LOOKUPS, ids=lambda a: " ".join(a).replace(CAFE, "CAFE"))
def test_a_non_utf8_argument_is_a_usage_error_for_every_command(cli, args):
    result = cli(*args)
    assert result.exit_code in (2, 3), (result.exit_code, result.stderr)
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1
    if result.exit_code == 2:
        assert "not UTF-8" in result.stderr and "caf\\xe9" in result.stderr


@pytest.mark.parametrize("name", ["WXSHOP_DB", "WXSHOP_HOME", "WXSHOP_SECRET_KEY_FILE",
                                  "WXSHOP_NOW", "WXSHOP_TZ", "WXSHOP_BUYER"])
def test_a_non_utf8_variable_is_refused_like_such_an_argument(cli, tmp_path, name):
    """`WXSHOP_DB=$'/tmp/caf\\xe9'` made a database file of that name, where `--db` refused
    it; now every wxshop variable is UTF-8 text or a usage error, and nothing is made."""
    value = f"{tmp_path}/{CAFE}"
    for args in (("orders", "list"), ("--json", "orders", "list")):
        result = cli(*args, env={name: value})
        assert result.exit_code == 2, (name, result.stderr)
        assert result.stdout == "" and "Traceback" not in result.stderr
        assert result.stderr.count("\n") == 1
    assert json.loads(result.stderr)["error"]["code"] == "invalid_environment"
    assert not any(CAFE in str(path) for path in tmp_path.rglob("*"))  # no file of that name


def test_a_huge_now_is_clipped_in_the_one_line_error(cli):
    result = cli("--now", "x" * 100_000, "orders", "list")
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and len(result.stderr) < 600
    assert result.stderr.startswith("error: --now is not an ISO 8601 time")


def test_click_usage_errors_are_one_line_and_json_with_json(cli):
    result = cli("orders", "list", "--bogus")
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: unknown option '--bogus'")
    error = cli.fails(2, "orders", "list", "--bogus")
    assert error["code"] == "usage" and error["reason"] == "unknown_option"
    assert "--help" in error["hint"]


# --------------------------------------------------------------------------- 5. spools


def _dead_pid() -> int:
    import subprocess

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_stale_spools_of_dead_processes_are_removed_by_the_next_run(cli, tmp_path,
                                                                    monkeypatch):
    import os
    import tempfile
    import time

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    dead = _dead_pid()
    old = time.time() - 3600
    stale = tmp_path / f"wxshop-bill-{dead}-abc.spool"
    fresh = tmp_path / f"wxshop-bill-{dead}-def.spool"  # under a minute: maybe still starting
    alive = tmp_path / f"wxshop-bill-{os.getpid()}-ghi.spool"
    other = tmp_path / "unrelated.spool"
    for path in (stale, fresh, alive, other):
        path.write_bytes(b"x" * 100)
    for path in (stale, alive, other):
        os.utime(path, (old, old))
    cli("reconcile", "-", input="")  # any run reading a bill from stdin cleans up first
    assert not stale.exists()
    assert fresh.exists() and alive.exists() and other.exists()


def test_a_killed_reconcile_leaves_a_spool_the_next_run_removes(tmp_path):
    import os
    import signal
    import subprocess
    import time

    from tests.conftest import REPO

    env = dict(os.environ, TMPDIR=str(tmp_path), WXSHOP_HOME=str(tmp_path / "home"),
               PYTHONPATH=str(REPO))
    child = subprocess.Popen([sys.executable, "-m", "wxshop_cli", "reconcile", "-"],
                             stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, env=env)
    assert child.stdin is not None
    child.stdin.write(b"x" * (9 * 1024 * 1024))  # past the 8 MiB kept in memory
    child.stdin.flush()
    deadline = time.time() + 60
    while not list(tmp_path.glob("wxshop-bill-*.spool")) and time.time() < deadline:
        time.sleep(0.05)
    spools = list(tmp_path.glob("wxshop-bill-*.spool"))
    assert spools and spools[0].name.startswith(f"wxshop-bill-{child.pid}-")
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert spools[0].exists()  # kill -9 leaves it behind
    old = time.time() - 120
    os.utime(spools[0], (old, old))
    again = subprocess.run([sys.executable, "-m", "wxshop_cli", "reconcile", "-"], input=b"",
                           capture_output=True, env=env, timeout=120)
    assert again.returncode in (2, 3), again.stderr
    assert not spools[0].exists()


def test_a_buy_on_a_full_disk_completes_once_with_the_same_key_when_space_is_back(cli):
    """Buys with their own keys until the disk (max_page_count) is full; the buy that hit it
    is named disk_full, and rerun with its key once space is back it completes, charged
    once: one order per key, one bank payment per paid order."""
    from sqlalchemy import text

    day = billing.open_day(cli)
    db = day["db"]
    item = day["items"]["YX-2001"]
    with full_disk(db, spare_pages=2):
        failed, _ = until_disk_full(
            cli, 90, lambda n: ("--now", shop.DURING, "buy", item, "--idempotency-key",
                                f"key-{n}"), env=billing.PAY)
    # The claim was saved before the disk filled, so within its lease the same key says
    # request_in_progress (9); after the lease, the same command completes it.
    later = "2013-11-11T10:10:00+08:00"
    again = cli("--json", "--now", later, "buy", item, "--idempotency-key",
                f"key-{failed}", env=billing.PAY)
    assert again.exit_code == 0, again.stderr
    assert json.loads(again.stdout)["status"] == "paid"
    with db.transaction(read_only=True) as session:
        orders = session.execute(text("SELECT count(*) FROM orders")).scalar()
        paid = session.execute(text("SELECT count(*) FROM orders WHERE status = 'paid'")
                               ).scalar()
        charges = session.execute(text("SELECT count(*) FROM gw_payment")).scalar()
    assert orders == paid == failed + 1
    assert charges == paid


def test_an_unreadable_sqlite_file_is_an_io_fault_to_retry_not_a_conflict(cli, tmp_path,
                                                                          monkeypatch):
    import errno

    from wxshop_cli.db import connect

    path = tmp_path / "shop.db"
    assert cli("--db", str(path), "db", "upgrade").exit_code == 0

    def failing_open(*args, **kwargs):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(connect, "open", failing_open, raising=False)
    from wxshop_cli.db import engine

    engine.forget()
    error = cli.fails(9, "--db", str(path), "orders", "list")
    assert error["code"] == "database_io_error"
