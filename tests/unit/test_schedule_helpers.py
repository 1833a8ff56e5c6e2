from __future__ import annotations

import pytest

from hourhand.cron import Cron
from hourhand.errors import InvalidInput
from hourhand.schedules import daily, monthly, weekly


def test_helpers_build_cron_for_the_common_choices() -> None:
    assert daily("08:00") == "0 8 * * *"
    assert daily("23:59") == "59 23 * * *"
    assert weekly("MON", "08:30") == "30 8 * * 1"
    assert weekly("sunday", "00:00") == "0 0 * * 0"
    assert monthly(1, "08:00") == "0 8 1 * *"
    assert monthly("last", "18:00") == "0 18 L * *"
    for expr in (daily("08:00"), weekly("FRI", "17:00"), monthly(15, "09:15")):
        Cron.parse(expr, "Europe/Stockholm")  # all valid in the user's zone


@pytest.mark.parametrize(
    "call",
    [
        lambda: daily("8am"),
        lambda: daily("24:00"),
        lambda: weekly("FUNDAY", "08:00"),
        lambda: monthly(0, "08:00"),
        lambda: monthly(32, "08:00"),
        lambda: monthly(True, "08:00"),
    ],
)
def test_helpers_refuse_bad_input(call) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInput):
        call()
