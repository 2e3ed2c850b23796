"""`wxshop rehearse` (issue 12): a seeded crowd with every storm passes its verdict on both
engines, repeats its sales with the same seed, and FAILS when a guarantee is broken — the
workers are then a test build whose stock update (or limit upsert) drops its condition."""

from __future__ import annotations

import json
import textwrap

import pytest

from tests.conftest import PG_URL

SMALL = ("--seed", "1", "--buyers", "40", "--duration", "1", "--workers", "2")


def rehearse(cli, *args: str, backend: str = "sqlite"):
    db = ("--db", PG_URL) if backend == "postgresql" else ()
    result = cli("--json", *db, "rehearse", *SMALL, *args)
    return result, (json.loads(result.stdout) if result.stdout else None)


def failed(summary) -> set[str]:
    return {check["name"] for check in summary["checks"] if not check["ok"]}


@pytest.mark.slow
def test_a_rehearsal_passes_its_verdict_with_every_storm(cli, backend):
    result, summary = rehearse(cli, backend=backend)
    assert result.exit_code == 0, (result.stderr, summary and failed(summary))
    assert summary["verdict"] == "pass" and not failed(summary)
    names = {check["name"] for check in summary["checks"]}
    for storm in ("last_units", "limit_race", "same_key", "refusals", "kill"):
        assert any(storm in name for name in names), storm
    assert "audit" in names and "the day's bill reconciles" in names
    assert summary["paid"] > 0 and summary["killed_purchases"] > 0
    assert summary["p99_ms"] >= summary["p50_ms"] > 0


@pytest.mark.slow
def test_the_same_seed_sells_the_same_units_per_item(cli):
    _, first = rehearse(cli)
    _, second = rehearse(cli)
    assert first["sold"] == second["sold"]
    assert sum(first["sold"].values()) > 0


def _broken_build(tmp_path, monkeypatch, patch: str) -> None:
    """Workers import this sitecustomize first: a wxshop whose guard is gone."""
    build = tmp_path / "broken"
    build.mkdir()
    (build / "sitecustomize.py").write_text(textwrap.dedent(patch), encoding="utf-8")
    import os

    monkeypatch.setenv("PYTHONPATH", f"{build}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")


@pytest.mark.slow
def test_a_stock_update_without_its_condition_fails_the_verdict(cli, tmp_path, monkeypatch):
    _broken_build(tmp_path, monkeypatch, """
        from sqlalchemy import bindparam, update
        from wxshop_cli.core import checkout
        from wxshop_cli.db.models import PromoItem
        from wxshop_cli.db.prepared import Prepared
        checkout._TAKE_ITEM = Prepared(lambda _: update(PromoItem).where(
            PromoItem.id == bindparam("item_id")).values(sold=PromoItem.sold + bindparam("qty")))
    """)
    result, summary = rehearse(cli, "--storms", "last_units")
    assert result.exit_code == 8
    assert {"never oversold", "audit"} <= failed(summary)
    assert summary["verdict"] == "fail"


@pytest.mark.slow
def test_a_limit_upsert_without_its_condition_fails_the_verdict(cli, tmp_path, monkeypatch):
    _broken_build(tmp_path, monkeypatch, """
        from sqlalchemy.dialects.sqlite import insert
        from wxshop_cli.core import checkout
        from wxshop_cli.db.models import BuyerItemUsage
        from wxshop_cli.db.prepared import Prepared
        def unguarded(_):
            table = BuyerItemUsage.__table__
            statement = insert(table).values(buyer_id=checkout.bindparam("buyer_id"),
                item_id=checkout.bindparam("item_id"), used=checkout.bindparam("qty"))
            return statement.on_conflict_do_update(index_elements=["buyer_id", "item_id"],
                set_={"used": table.c.used + statement.excluded.used}).returning(table.c.buyer_id)
        checkout._TAKE_LIMIT = Prepared(unguarded)
    """)
    result, summary = rehearse(cli, "--storms", "limit_race")
    assert result.exit_code == 8
    assert "no per-buyer limit exceeded" in failed(summary)


def test_bad_options_change_nothing(cli, tmp_path):
    assert cli.fails(2, "rehearse", "--storms", "hail")["code"] == "usage"
    assert cli.fails(2, "rehearse", "--buyers", "0")["code"] == "usage"
    assert cli.fails(2, "rehearse", "--workers", "0")["code"] == "usage"
    assert cli.fails(2, "rehearse", "--refusal-rate", "0.9")["code"] == "usage"
    missing = cli.fails(2, "rehearse", "--promo", str(tmp_path / "nope.toml"))
    assert missing["exit_code"] == 2
    assert not (tmp_path / "home" / "rehearse.db").exists()


def test_a_database_that_is_not_empty_is_refused(cli, tmp_path):
    shop_db = tmp_path / "shop.db"
    cli.json("--db", str(shop_db), "--now", "2013-11-10T12:00:00+08:00", "fixtures", "load",
             "double11")
    error = cli.fails(5, "--db", str(shop_db), "rehearse", *SMALL)
    assert error["code"] == "rehearsal_not_empty"


def test_storm_and_force_mistakes_are_usage_errors(cli):
    assert cli.fails(2, "rehearse", "--storms", "")["code"] == "usage"
    assert cli.fails(2, "rehearse", "--storms", "kill,,")["code"] == "usage"
    assert cli.fails(2, "rehearse", "--force")["code"] == "usage"


@pytest.mark.slow
def test_a_tiny_promotion_that_sells_out_still_passes(cli, tmp_path):
    """One item of 3 units: the raced key may find it sold out (no order is right), and
    every storm that is on is really raised."""
    promo = tmp_path / "tiny.toml"
    promo.write_text(textwrap.dedent("""
        code = "tiny"
        title = "双11 tiny"
        starts_at = "2013-11-11T00:00:00+08:00"
        ends_at = "2013-11-12T00:00:00+08:00"
        [[items]]
        sku = "YX-9001"
        title = "One phone"
        list_price = "100.00"
        price = "10.00"
        stock = 3
        per_buyer_limit = 1
    """), encoding="utf-8")
    result, summary = rehearse(cli, "--promo", str(promo), "--buyers", "12")
    assert result.exit_code == 0, failed(summary)
    assert summary["sold"] == {"YX-9001": 3}
    names = {check["name"] for check in summary["checks"]}
    assert any("timeouts" in name for name in names) and any("refusals" in name for name in names)
    assert summary["paid"] == 3  # distinct orders, replays not counted again
