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
                     "description": "4-inch Retina, A7"}
    assert cli.json("product", "show", "YX-1001") == added
    cli.json("product", "add", "--sku", "YX-0001", "--title", "德芙 巧克力", "--price", "45.9",
             "--stock", "0")
    listed = cli.json("product", "list")
    assert [p["sku"] for p in listed] == ["YX-0001", "YX-1001"]
    assert listed[0] == {"sku": "YX-0001", "title": "德芙 巧克力", "list_price_fen": 4590,
                         "stock": 0, "image_url": "", "description": ""}


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
        "sku\ttitle\tlist_price\tstock\timage_url\tdescription",
        "YX-1001\tApple iPhone 5s 16G\t5288.00\t20\thttps://img.example/yx-1001.jpg\t"
        "4-inch Retina, A7",
    ]
