"""Dates as people write them in From and To (pure)."""

import pytest

from service.search.dates import parse_date


@pytest.mark.parametrize(
    "text,start,end",
    [
        ("2018-03-01", "2018-03-01", "2018-03-01"),
        ("2018-03-31T10:00Z", "2018-03-31T10:00Z", "2018-03-31T10:00Z"),
        ("2018-05", "2018-05-01", "2018-05-31"),
        ("2020-2", "2020-02-01", "2020-02-29"),
        ("2018", "2018-01-01", "2018-12-31"),
        ("1 May 2018", "2018-05-01", "2018-05-01"),
        ("  1st  sept. 2018 ", "2018-09-01", "2018-09-01"),
        ("May 1, 2018", "2018-05-01", "2018-05-01"),
        ("May 2018", "2018-05-01", "2018-05-31"),
    ],
)
def test_days_months_and_years_become_iso_bounds(text, start, end):
    assert (parse_date(text), parse_date(text, end=True)) == (start, end)


@pytest.mark.parametrize("text", ["", "2018-02-30", "2018-13", "31/02/2018", "1.3.2018", "Foo 2018", "32 May 2018"])
def test_what_is_no_date_is_none(text):
    assert parse_date(text) is None and parse_date(text, end=True) is None
