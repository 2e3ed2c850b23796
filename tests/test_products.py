"""`wxshop product add | list | show` (SPEC sections 3, 4 and 7)."""

from __future__ import annotations

import pytest

IPHONE = ["product", "add", "--sku", "YX-1001", "--title", "Apple iPhone 5s 16G",
          "--price", "5288", "--stock", "20", "--image-url", "https://img.example/yx-1001.jpg",
          "--description", "4-inch Retina, A7"]


def test_add_show_and_list_give_the_spec_shape(cli, backend):
    added = cli.json(*IPHONE)
    assert added == {"sku": "YX-1001", "title": "Apple iPhone 5s 16G", "list_price_fen": 528800,
                     "stock": 20, "image_url": "https://img.example/yx-1001.jpg",
                     "description": "4-inch Retina, A7", "kind": "goods"}
    assert cli.json("product", "show", "YX-1001") == added
    cli.json("product", "add", "--sku", "YX-0001", "--title", "德芙 巧克力", "--price", "45.9",
             "--stock", "0")
    listed = cli.json("product", "list")
    assert [p["sku"] for p in listed] == ["YX-0001", "YX-1001"]
    assert listed[0] == {"sku": "YX-0001", "title": "德芙 巧克力", "list_price_fen": 4590,
                         "stock": 0, "image_url": None, "description": None, "kind": "goods"}


def test_an_empty_catalog_is_an_empty_list(cli):
    assert cli.json("product", "list") == []


def test_a_duplicate_sku_is_a_conflict(cli, backend):
    cli.json(*IPHONE)
    error = cli.fails(5, *IPHONE)
    assert error["code"] == "product_exists"
    assert cli.json("product", "show", "YX-1001")["stock"] == 20


def test_an_unknown_sku_is_not_found(cli):
    error = cli.fails(4, "product", "show", "YX-404")
    assert error["code"] == "product_not_found"


@pytest.mark.parametrize(("option", "value", "slug", "words"), [
    ("--price", "12.345", "invalid_amount", "--price: more than two decimals"),
    ("--price", "0", "invalid_amount", "--price: must be at least 0.01"),
    ("--price", "-5", "invalid_amount", "--price: must not be negative"),
    ("--price", "1e3", "invalid_amount", "--price: not an amount"),
    ("--price", "100000000.00", "invalid_amount", "--price: more than"),
    ("--stock", "-1", "invalid_stock", "--stock: must not be negative"),
    ("--sku", "YX 1001", "invalid_sku", "--sku: not a SKU"),
    ("--sku", "-x", "invalid_sku", "--sku: not a SKU"),
    ("--title", " ", "invalid_product", "--title: must not be empty"),
    ("--title", "two\nlines", "invalid_product", "--title: must be one line"),
    ("--image-url", "ftp://img.example/x.jpg", "invalid_product", "--image-url: not an http"),
    ("--description", "x" * 501, "invalid_product", "--description: longer than 500"),
])
def test_bad_values_are_invalid_input_and_create_nothing(cli, wx_env, option, value, slug,
                                                         words):
    args = list(IPHONE)
    args[args.index(option) + 1] = value
    error = cli.fails(3, *args)
    assert error["code"] == slug
    assert error["message"].startswith(words)
    assert not (wx_env / "wxshop.db").exists()  # the form is checked before the database


@pytest.mark.parametrize("args", [
    ["--stock", "many"],  # wrong type
    ["--stock"],  # missing value
])
def test_mistyped_or_missing_options_are_usage_errors(cli, args):
    base = ["product", "add", "--sku", "A", "--title", "T", "--price", "1"]
    assert cli(*base, *args).exit_code == 2
    assert cli("product", "add", "--sku", "A").exit_code == 2


def test_a_pipe_gets_tsv_with_plain_yuan(cli):
    cli.json(*IPHONE)
    result = cli("product", "list")
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "sku\ttitle\tlist_price\tstock\timage_url\tdescription\tkind",
        "YX-1001\tApple iPhone 5s 16G\t5288.00\t20\thttps://img.example/yx-1001.jpg\t"
        "4-inch Retina, A7\tgoods",
    ]


# ------------------------------------------------------------------ lenient input


INVISIBLE = [
    ("\u200b", "U+200B ZERO WIDTH SPACE"),
    ("\u202e", "U+202E RIGHT-TO-LEFT OVERRIDE"),
    ("\u2066", "U+2066 LEFT-TO-RIGHT ISOLATE"),
    ("\ufeff", "U+FEFF ZERO WIDTH NO-BREAK SPACE"),
    ("\u00ad", "U+00AD SOFT HYPHEN"),
    ("\x1b", "U+001B"),
    ("\u2028", "U+2028 LINE SEPARATOR"),
    ("\ue000", "U+E000"),
]


@pytest.mark.parametrize(("char", "named"), INVISIBLE, ids=[n for _, n in INVISIBLE])
@pytest.mark.parametrize("option", ["--title", "--description"])
def test_invisible_and_control_characters_are_refused(cli, wx_env, option, char, named):
    args = list(IPHONE)
    args[args.index(option) + 1] = f"Apple{char} iPhone"
    error = cli.fails(3, *args)
    assert error["code"] == "invalid_product"
    assert error["message"].startswith(f"{option}: contains a control or invisible")
    assert named in error["message"] and error["hint"]
    assert not (wx_env / "wxshop.db").exists()


def test_visible_unicode_and_ideographic_spaces_are_fine(cli):
    args = list(IPHONE)
    args[args.index("--title") + 1] = "三只松鼠\u3000坚果大礼包 1480g ×2 😀"
    assert cli.json(*args)["title"] == "三只松鼠\u3000坚果大礼包 1480g ×2 😀"


def test_one_function_decides_what_is_invisible_for_every_text():
    """Addresses, holder names and the catalog share the check of core/text.py."""
    from wxshop_cli.core import addresses, catalog, identity, text

    assert addresses.invisible_char is text.invisible_char
    assert catalog.invisible_char is text.invisible_char
    assert identity.invisible_char is text.invisible_char
    assert text.invisible_char("a\u200bb") == "\u200b"
    assert text.invisible_char("a\u00a0b") is None
    assert text.invisible_char("a\u00a0b", plain_spaces_only=True) == "\u00a0"


@pytest.mark.parametrize(("option", "value", "code", "slug"), [
    ("--price", " 5", 3, "invalid_amount"),
    ("--price", "5 ", 3, "invalid_amount"),
    ("--stock", " 5", 3, "invalid_stock"),
    ("--stock", "１０", 3, "invalid_stock"),
    ("--stock", "1_000", 3, "invalid_stock"),
    ("--stock", "+5", 3, "invalid_stock"),
    ("--stock", "1.5", 2, "usage"),
])
def test_numbers_are_taken_exactly_as_written(cli, wx_env, option, value, code, slug):
    """Nothing is stripped or converted: Python's int() would read ` 5`, `１０` and `1_000`."""
    args = list(IPHONE)
    args[args.index(option) + 1] = value
    error = cli.fails(code, *args)
    assert error["code"] == slug
    assert error["hint"]
    assert not (wx_env / "wxshop.db").exists()


def test_absent_image_url_and_description_are_null(cli, tmp_path):
    from tests.test_promofile import DURING, base, publish, write

    added = cli.json("product", "add", "--sku", "YX-0001", "--title", "德芙", "--price", "45.9",
                     "--stock", "1")
    assert (added["image_url"], added["description"]) == (None, None)
    doc = base()
    del doc["items"][0]["image_url"], doc["items"][0]["description"]
    publish(cli, write(tmp_path, doc))
    item = cli.json("--now", DURING, "promo", "show", "double11-2013")["items"][0]
    assert (item["image_url"], item["description"]) == (None, None)
    assert cli.json("product", "show", "YX-1001")["image_url"] is None
    # Adding them later reports null as the old value.
    report = publish(cli, write(tmp_path, base(), "v2.toml"))
    changed = {(e["key"], e["field"]): (e["old"], e["new"]) for e in report["changed"]}
    assert changed[("YX-1001", "image_url")] == (None, "https://img.example/yx-1001.jpg")
    assert changed[("YX-1001", "description")] == (None, "4-inch Retina, A7")
    # A pipe shows an absent value as an empty field.
    lines = cli("product", "list").stdout.splitlines()
    assert lines[1].split("\t") == ["YX-0001", "德芙", "45.90", "1", "", "", "goods"]
