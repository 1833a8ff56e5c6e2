"""Arguments checked against the handler's type hints as the JSON the job carries, and
converted to those types for the handler where JSON is not already them."""

from __future__ import annotations

import enum
import functools
import logging
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

import pytest
from pydantic import BaseModel, Field

from hourhand import Hourhand, JobContext, JobState
from hourhand.errors import InvalidArguments, InvalidInput


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


@dataclass
class Point:
    x: int
    y: int


class Address(BaseModel):
    street: str
    number: int


def test_rich_hints_take_their_json_form_and_the_handler_gets_the_type(
    hh: Hourhand, run_worker
) -> None:
    seen: dict[str, Any] = {}

    @hh.job("rich")
    def rich(
        ctx: JobContext,
        color: Color,
        day: date,
        pair: tuple[int, int],
        point: Point,
        address: Address,
        plain: int = 0,
    ) -> None:
        seen.update(color=color, day=day, pair=pair, point=point, address=address, plain=plain)

    job_id = rich.enqueue(
        color="red",  # type: ignore[arg-type]
        day="2026-12-01",  # type: ignore[arg-type]
        pair=[1, 2],  # type: ignore[arg-type]
        point={"x": 1, "y": 2},  # type: ignore[arg-type]
        address={"street": "Main", "number": 5},  # type: ignore[arg-type]
        plain=3,
    )
    stored = hh.get_job(job_id).args
    assert stored["day"] == "2026-12-01" and stored["pair"] == [1, 2]  # JSON in the database
    run_worker()
    assert hh.wait(job_id, timeout=15).state == JobState.COMPLETED
    assert seen == {
        "color": Color.RED,
        "day": date(2026, 12, 1),
        "pair": (1, 2),
        "point": Point(1, 2),
        "address": Address(street="Main", number=5),
        "plain": 3,
    }
    with pytest.raises(InvalidArguments, match="argument 'color'"):
        hh.enqueue("rich", {**stored, "color": "green"})
    with pytest.raises(InvalidArguments, match="argument 'day'"):
        hh.enqueue("rich", {**stored, "day": "tomorrow"})
    with pytest.raises(InvalidArguments, match=r"argument 'address'\['number'\]"):
        hh.enqueue("rich", {**stored, "address": {"street": "Main", "number": "five"}})


def test_annotated_constraints_are_checked(hh: Hourhand) -> None:
    @hh.job("limited")
    def limited(ctx: JobContext, n: Annotated[int, Field(gt=0)]) -> None:
        return None

    with pytest.raises(InvalidArguments, match="argument 'n': Input should be greater than 0"):
        limited.enqueue(n=0)
    assert limited.enqueue(n=1)


def test_a_hint_naming_a_class_defined_later_in_the_module_is_checked(hh: Hourhand) -> None:
    @hh.job("later")
    def later(ctx: JobContext, size: Size, n: int) -> None:  # Size: defined below
        return None

    with pytest.raises(InvalidArguments, match="argument 'size'"):
        later.enqueue(size="huge", n=1)  # type: ignore[arg-type]
    with pytest.raises(InvalidArguments, match="argument 'n'"):
        later.enqueue(size="small", n="1")  # type: ignore[arg-type]


def test_an_unresolvable_hint_leaves_only_that_argument_unchecked(
    hh: Hourhand, caplog: pytest.LogCaptureFixture
) -> None:
    @hh.job("partly")
    def partly(ctx: JobContext, thing: NoSuchName, n: int) -> None:  # type: ignore[name-defined]  # noqa: F821
        return None

    with caplog.at_level(logging.WARNING, logger="hourhand.signatures"):
        with pytest.raises(InvalidArguments, match="argument 'n'"):
            partly.enqueue(thing="anything", n="1")
        assert partly.enqueue(thing="anything", n=1)
    warnings = [r.getMessage() for r in caplog.records if r.name == "hourhand.signatures"]
    assert len(warnings) == 1 and "thing" in warnings[0]


def test_partials_and_callable_objects_are_checked_too(hh: Hourhand) -> None:
    def send(ctx: JobContext, to: str, retries: int) -> None:
        return None

    class Sender:
        name = "not the job's name"
        options = {"not": "options"}

        def __call__(self, ctx: JobContext, to: str) -> None:
            return None

    partial = hh.job("partial")(functools.partial(send, retries=3))
    sender = hh.job("sender")(Sender())
    assert sender.name == "sender" and sender.options == {}  # not the object's attributes
    with pytest.raises(InvalidArguments, match="argument 'to'"):
        partial.enqueue(to=5)
    with pytest.raises(InvalidArguments, match="argument 'to'"):
        sender.enqueue(to=5)
    assert hh.get_job(sender.enqueue(to="a@example.com")).name == "sender"


def test_positional_only_parameters_and_star_args_cannot_carry_job_arguments(
    hh: Hourhand,
) -> None:
    def positional(ctx: JobContext, n: int, /) -> None: ...

    with pytest.raises(InvalidInput, match="'n' is positional-only"):
        hh.job("positional")(positional)

    @hh.job("star")
    def star(*args: Any, **kwargs: Any) -> None:
        return None

    with pytest.raises(InvalidArguments, match="pass arguments by name"):
        star.enqueue(1, 2)
    assert hh.get_job(star.enqueue(a=1)).args == {"a": 1}


def test_a_context_parameter_typed_as_optional_context_is_accepted(hh: Hourhand) -> None:
    @hh.job("maybe")
    def maybe(ctx: JobContext | None, n: int) -> None:
        return None

    assert maybe.enqueue(n=1)


class Size(enum.Enum):
    SMALL = "small"
    LARGE = "large"
