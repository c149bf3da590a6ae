"""The HTTP layer's single places: what a header says (in process)."""

from __future__ import annotations

import pytest

from github_assets.sources.http import MAX_EPOCH, seconds_until

NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("value", "epoch", "at"),
    [
        ("30", False, NOW + 30),
        (" 30 ", False, NOW + 30),
        ("1700000060", True, 1_700_000_060.0),
        ("Tue, 14 Nov 2023 22:13:20 GMT", False, NOW),  # an HTTP-date (RFC 9110)
        ("Tue, 14 Nov 2023 22:13:20 -0000", False, NOW),
        ("9" * 400, False, None),  # float() says inf
        ("9" * 400, True, None),
        ("1" + "0" * 30, True, None),
        ("\u00b2", False, None),  # str.isdigit() says yes
        ("-1", False, None),
        ("1e3", False, None),
        ("soon", False, None),
        ("", False, None),
        (None, True, None),
        ("Fri, 31 Dec 9999 23:59:59 GMT", False, MAX_EPOCH),
        ("Tue, 14 Nov 2023 22:13:20 GMT", True, None),  # a reset is epoch seconds only
    ],
)
def test_seconds_until_parses_bounded_numbers_and_dates(
    value: str | None, epoch: bool, at: float | None
) -> None:
    assert seconds_until(value, NOW, epoch=epoch) == at
