"""Provenance labels from stored fields, and the search request checks that are pure."""

import pytest

from service.provenance import provenance
from service.search.query import QueryError
from service.search.request import PastLastPage, ReversedDates, SearchRequest


@pytest.mark.parametrize(
    "document,expected",
    [
        ({"model": "opus-mt-ar-en@abc-int8", "demo": False, "translated": True}, ("machine", "opus-mt-ar-en@abc-int8")),
        ({"model": "pretranslated", "demo": False, "translated": True}, ("human", None)),
        ({"model": "generated-tiny@x", "demo": True, "translated": True}, ("demo", "generated-tiny@x")),
        ({"model": None, "demo": False, "translated": False, "language": "en"}, ("original", None)),
    ],
)
def test_each_kind_of_provenance(document, expected):
    assert tuple(provenance(document).values()) == expected


def test_a_reversed_date_range_is_refused_with_the_dates_named():
    SearchRequest("x", date_from="2018-01-01", date_to="2018-01-01T10:00:00Z").validate()
    with pytest.raises(ReversedDates, match=r"from \(2018-05-01\) is after to \(2018-04-01\)"):
        SearchRequest("x", date_from="2018-05-01", date_to="2018-04-01").validate()
    with pytest.raises(ReversedDates):  # compared as instants: 03:00+02:00 is 01:00 UTC, after 00:30 UTC
        SearchRequest("x", date_from="2018-05-01T03:00:00+02:00", date_to="2018-05-01T00:30:00Z").validate()


def test_a_page_past_the_results_is_refused_but_an_empty_result_is_not():
    request = SearchRequest("x", size=10, page=4)
    request.check_page(total=0, shown=0)
    request.check_page(total=35, shown=5)
    with pytest.raises(PastLastPage, match="page 4 is past the end of the results: 25 articles match, 3 pages"):
        request.check_page(total=25, shown=0)
    assert issubclass(PastLastPage, QueryError) and PastLastPage.code == "past_last_page"
