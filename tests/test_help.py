"""Help that teaches (issue 14, item 5): every command's help has a one-line summary that
fits `wxshop --help` and its group's help at 80 columns, real metavars, and an Examples
section whose invocations parse with the real CLI — and run, against the `double11` fixture.
"""

from __future__ import annotations

import re
import shlex

import pytest
import typer.main

from wxshop_cli import cli as cli_module
from wxshop_cli.app import app
from wxshop_cli.docgen import _help, command_paths

PATHS = [path for path in command_paths()]
NOW = "2013-11-11T10:00:00+08:00"
PASSWORD = "201311"


def _command(path: list[str]):
    command = typer.main.get_command(app)
    for name in path:
        command = command.commands[name]
    return command


def _examples(path: list[str]) -> tuple[str, ...]:
    return _command(path).examples


def _invocations(path: list[str]) -> list[str]:
    """The `$ …` lines, a line ending in ` \\` joined with the next (shell style)."""
    joined: list[str] = []
    for line in _examples(path):
        if joined and joined[-1].endswith(" \\"):
            joined[-1] = joined[-1][:-1] + line.strip()
        else:
            joined.append(line)
    return [line[2:] for line in joined if line.startswith("$ ")]


@pytest.mark.parametrize("path", PATHS, ids=lambda p: " ".join(["wxshop", *p]))
def test_every_help_has_examples_in_the_gh_style(path):
    examples = _examples(path)
    invocations = _invocations(path)
    assert 2 <= len(invocations) <= 4, (path, invocations)
    for before, line in zip(("",) + examples, examples, strict=False):
        assert line.startswith(("$ ", "# ")) or before.endswith(" \\"), line
    for line in invocations:
        words = shlex.split(line)
        while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):
            words.pop(0)  # an environment variable set for the one command
        assert words[0] == "wxshop", line
        # the example is about this command (a group's: one of its subcommands)
        assert " ".join(words).find(" ".join(path)) > 0 or not path, (path, line)
    text = _help(path)
    assert "\nExamples:\n" in text
    assert text.rstrip().endswith(examples[-1])


@pytest.mark.parametrize("path", PATHS, ids=lambda p: " ".join(["wxshop", *p]))
def test_help_uses_real_metavars_and_fits_80_columns(path):
    text = _help(path)
    usage = text.splitlines()[0]
    assert "{" not in usage, usage
    from rich.cells import cell_len

    for line in text.splitlines():
        assert cell_len(line) <= 80, line  # terminal cells: a Chinese character takes two
        assert not re.search(r"<[a-z%|_\[\]]+>", line), line  # <str>, <int>, <%Y-%m-%d>
    arguments = text.split("Arguments:\n")[1].split("\n\n")[0] if "Arguments:" in text else ""
    for line in arguments.splitlines():
        assert re.match(r"  [A-Z][A-Z0-9|_-]*(\.\.\.)?( |$)", line) or line.startswith("    "), \
            line


@pytest.mark.parametrize("path", [p for p in PATHS if len(p) < 2],
                         ids=lambda p: " ".join(["wxshop", *p]))
def test_no_summary_is_cut(path):
    text = _help(path)
    if "Commands:" not in text:
        return
    listing = text.split("Commands:\n")[1].split("\n\n")[0]
    assert listing.strip()
    for line in listing.splitlines():
        assert not line.rstrip().endswith("..."), line
        assert line.rstrip().endswith("."), line  # the whole first sentence


def test_promo_publish_help_shows_a_minimal_file_that_publishes(cli, tmp_path):
    text = _help(["promo", "publish"])
    toml = text.split("A minimal promotion file")[1].split("\n", 1)[1].split("Arguments:")[0]
    path = tmp_path / "weekend.toml"
    path.write_text("\n".join(line.strip() for line in toml.splitlines()) + "\n")
    published = cli.json("--now", NOW, "promo", "publish", str(path))
    assert published["code"] == "weekend"
    assert {c["kind"] for c in published["created"]} >= {"promo", "product", "item"}
    shown = cli.json("--now", "2013-11-16T12:00:00+08:00", "promo", "show", "weekend")
    assert shown["status"] == "live"


# ------------------------------------------------------------------ running the examples


def _parse_only(cli, monkeypatch, words: list[str]):
    """Run the real parser on an example, the command body replaced by nothing."""
    with monkeypatch.context() as parse_only:  # undo only this, not the test's private home
        parse_only.setattr(cli_module, "run_guarded", lambda func, *a, **k: None)
        return cli(*words)


@pytest.mark.parametrize("path", PATHS, ids=lambda p: " ".join(["wxshop", *p]))
def test_every_example_parses(cli, monkeypatch, path):
    for line in _invocations(path):
        words, _ = _split(line)
        result = _parse_only(cli, monkeypatch, words[1:])
        assert result.exit_code == 0, (line, result.stderr)
        assert "error" not in result.stderr, (line, result.stderr)


def _split(line: str) -> tuple[list[str], dict[str, str]]:
    words = shlex.split(line)
    env = {}
    while re.fullmatch(r"[A-Z_]+=\S*", words[0]):
        key, _, value = words.pop(0).partition("=")
        env[key] = value
    for stop in ("|", ">", "<", "&&"):
        if stop in words:
            words = words[:words.index(stop)]
    return words, env


#: Examples the test cannot run, and why (each still parses, above).
NOT_RUN = {
    "wxshop --buyer wangwu bind-card": "interactive: needs a terminal",
    "wxshop --db postgresql+psycopg://shop@db.example/wxshop db upgrade": "a server of its own",
    "wxshop rehearse": "minutes of worker processes",
    "wxshop rehearse --seed 7 --promo weekend.toml --json": "minutes of worker processes",
    "wxshop demo": "a story of its own; tests/test_fixtures_and_demo.py runs it",
    "wxshop --db /tmp/story.db demo --force": "a story of its own, outside the test's home",
    "wxshop --buyer lilei orders cancel D201311110000000002": "needs an unpaid order",
    "wxshop reconciliations resolve run_5d0c7e2a9b14f368 dsc_8e41b07c2fa95d13 --note "
    "\"refunded by hand on 11-12\"": "needs a discrepancy (tests/test_reconcile.py)",
    "wxshop --json reconciliations resolve run_5d0c7e2a9b14f368 dsc_8e41b07c2fa95d13 --note "
    "\"the bank's late settlement\"": "needs a discrepancy (tests/test_reconcile.py)",
    "wxshop --buyer lilei --json orders cancel D201311110000000002": "needs an unpaid order",
}
#: Commands whose examples change what later examples use: run last, in this order.
LAST = [["promo", "unpublish"], ["promo", "archive"], ["cards", "unbind"],
        ["address", "remove"]]
#: Run first: what the others read (a bill for reconcile, a run for reconciliations).
FIRST = [["bill", "export"], ["reconcile"], ["fixtures", "load"], ["promo", "publish"],
         ["bind-card"]]


def _order(paths: list[list[str]]) -> list[list[str]]:
    middle = [p for p in paths if p not in FIRST and p not in LAST]
    return FIRST + middle + LAST


def test_every_example_runs_against_the_double11_fixture(cli, tmp_path, monkeypatch):
    """Each `$ wxshop …` line of every help, run in-process on one database loaded with the
    `double11` fixture (one paid order, D201311110000000001, a pending binding and a
    reconciliation run made first). Ids that are random (card_, addr_, bind_, run_, dsc_ and
    the SMS code) are replaced by real ones of the same kind; everything else is run as
    printed. Exit 0, or 8 where a command documents 8 for what it found."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WXSHOP_NOW", NOW)
    monkeypatch.setenv("WXSHOP_PAY_PASSWORD", PASSWORD)
    assert cli("fixtures", "load", "double11").exit_code == 0
    order = cli.json("--buyer", "lilei", "buy", "YX-1001")
    assert order["order_no"] == "D201311110000000001"
    publish_help = _help(["promo", "publish"])
    toml = publish_help.split("A minimal promotion file")[1].split("\n", 1)[1]
    (tmp_path / "weekend.toml").write_text(
        "\n".join(line.strip() for line in toml.split("Arguments:")[0].splitlines()))
    (tmp_path / "card.txt").write_text("6222020000000000000\n")
    (tmp_path / "purchases.jsonl").write_text(
        '{"buyer": "hanmeimei", "item": "YX-3002", "qty": 1}\n'
        '{"buyer": "lilei", "item": "YX-3003", "qty": 2}\n')
    (tmp_path / "shop.json").write_text(
        '{"steps": [{"name": "xiaoming", "op": "buyer.create", "args": {"name": "xiaoming"}}]}')

    real: dict[str, str] = {}

    def learn(prefix: str, value: str) -> None:
        real[prefix] = value  # the newest (a new binding cancels the pending one)

    lilei = cli.json("--buyer", "lilei", "cards", "list")
    learn("card_", lilei[0]["id"])
    learn("addr_", cli.json("--buyer", "lilei", "address", "list")[0]["id"])

    ran, seen = 0, set()
    for path in _order(PATHS):
        for line in _invocations(path):
            if line in NOT_RUN or line in seen:  # a group repeats its commands' examples
                continue
            seen.add(line)
            words, env = _split(line)
            if "|" in shlex.split(line):  # wxshop A | wxshop B
                first, second = line.split(" | ")
                piped = cli(*_split(first)[0][1:])
                assert piped.exit_code == 0, (first, piped.stderr)
                words, stdin = _split(second)[0], piped.stdout
            else:
                stdin = None
                if "<" in shlex.split(line):
                    stdin = (tmp_path / shlex.split(line)[-1]).read_text()
            if path == ["bind-card", "confirm"]:  # each confirms a binding of its own
                for bound in cli.json("--buyer", "wangwu", "cards", "list"):
                    cli.json("--buyer", "wangwu", "cards", "unbind", bound["id"])
                started = cli.json("--buyer", "wangwu", "bind-card", "--number",
                                   "6222020000000000000", "--holder", "王五", "--id-number",
                                   "110101197811117894", "--phone", "15000000000")
                _learn_from(["bind-card"], _Printed(started), learn, cli)
            if path == ["cards", "unbind"]:  # each unbinds a card of its own
                if cli.json("--buyer", "lilei", "cards", "show", real["card_"])["status"] \
                        == "bound":
                    cli.json("--buyer", "lilei", "cards", "unbind", real["card_"])
                learn("card_", _bind(cli, "lilei", "李雷", "310104198805120318", "13800138001"))
            if path == ["address", "remove"]:  # each removes an address of its own
                learn("addr_", cli.json("--buyer", "lilei", "address", "add", "--region",
                                        "310000", "--city", "上海市", "--street", "人民大道 1 号",
                                        "--contact", "李雷", "--phone", "13800138001")["id"])
            args = [_real(word, real) for word in words[1:]]
            result = cli(*args, input=stdin, env=env)
            expected = {0, 8} if path and path[0] in ("reconcile", "audit") else {0}
            assert result.exit_code in expected, (line, args, result.stdout, result.stderr)
            if ">" in shlex.split(line) or "-o" in words:
                target = shlex.split(line)[-1]
                if ">" in shlex.split(line):
                    (tmp_path / target).write_text(result.stdout)
            _learn_from(path, result, learn, cli)
            ran += 1
    assert ran >= 90, ran


def _bind(cli, buyer: str, holder: str, id_number: str, phone: str) -> str:
    """Bind the sandbox's approving debit card in two steps; the new card's id."""
    pending = cli.json("--buyer", buyer, "bind-card", "--number", "6222020000000000000",
                       "--holder", holder, "--id-number", id_number, "--phone", phone)
    code = next(m["code"] for m in cli.json("--buyer", buyer, "inbox") if m.get("code"))
    return cli.json("--buyer", buyer, "bind-card", "confirm", pending["binding_id"],
                    "--code", code)["id"]


class _Printed:
    def __init__(self, data) -> None:
        import json

        self.stdout = json.dumps(data)


def _real(word: str, real: dict[str, str]) -> str:
    for prefix, value in real.items():
        if re.fullmatch(re.escape(prefix) + r"[0-9a-f]{16}", word):
            return value
    if word == "428613" and "code" in real:
        return real["code"]
    return word


def _learn_from(path, result, learn, cli) -> None:
    """The ids later examples need, from what an example printed."""
    import json

    if path == ["bind-card"] and result.stdout.startswith("{"):
        learn("bind_", json.loads(result.stdout)["binding_id"])
    elif path == ["bind-card"] and "bind_" in result.stdout:
        learn("bind_", re.search(r"bind_[0-9a-f]+", result.stdout).group(0))
    if path == ["bind-card"]:
        inbox = cli.json("--buyer", "wangwu", "inbox")
        codes = [m["code"] for m in inbox if m.get("code")]
        if codes:
            learn("code", codes[0])
    if path == ["reconcile"]:
        runs = cli.json("reconciliations", "list")
        if runs:
            learn("run_", runs[0]["run_id"])
