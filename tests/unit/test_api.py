from __future__ import annotations
import __future__

import types

import pytest

import hourhand
from hourhand import InvalidInput
from hourhand.store import locate, mask_password, open_store
from hourhand.worker import parse_queues


def test_all_lists_exactly_the_public_names() -> None:
    public = {
        name
        for name, value in vars(hourhand).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and not isinstance(value, __future__._Feature)
    }
    assert set(hourhand.__all__) - {"__version__"} == public


def test_parse_queues() -> None:
    assert parse_queues(None) == (None, {})
    assert parse_queues("") == (None, {})
    assert parse_queues("a, b:5,c") == (["a", "b", "c"], {"b": 5})
    for bad in ["a,,b", "a:0", "a:x"]:
        with pytest.raises(InvalidInput):
            parse_queues(bad)


def test_sqlite_url_forms(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = open_store(f"sqlite:///{tmp_path}/x.db")
    try:
        assert store.dialect == "sqlite"
    finally:
        store.close()
    with pytest.raises(Exception, match="in-memory"):
        open_store("sqlite:///:memory:")


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("postgresql://u:s3cret@h:5432/db", "postgresql://u:***@h:5432/db"),
        (
            "postgresql://u@h/db?password=s3cret&sslmode=require",
            "postgresql://u@h/db?password=***&sslmode=require",
        ),
        ("postgresql://u@h/db", "postgresql://u@h/db"),
        ("sqlite:///x.db", "sqlite:///x.db"),
    ],
)
def test_mask_password(url: str, masked: str) -> None:
    assert mask_password(url) == masked


def test_locate_gives_sqlite_files_an_absolute_path(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    where = locate("sqlite:///jobs.db")
    assert (where.dialect, where.path) == ("sqlite", str(tmp_path / "jobs.db"))
    assert locate("postgresql://u:pw@h/db").masked == "postgresql://u:***@h/db"
