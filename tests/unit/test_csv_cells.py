"""CSV exports never hand a spreadsheet a formula: a cell that would start one is shown as text."""

from __future__ import annotations

import csv
import io

import pytest
from starlette.requests import Request

from services.http.deps import csv_cell, table_response

pytestmark = pytest.mark.unit


def csv_request() -> Request:
    return Request({"type": "http", "method": "GET", "path": "/api/x", "query_string": b"format=csv",
                    "headers": []})


@pytest.mark.parametrize("text", ['=HYPERLINK("http://x","y")', "+1+2", "-2+3", "@SUM(A1:A2)", "\t=1", "\r=1"])
def test_a_cell_that_would_start_a_formula_gets_a_leading_quote(text: str):
    assert csv_cell(text) == "'" + text


@pytest.mark.parametrize("value", ["Hà Tĩnh", "a=b", "", None, 12, 1.5, "'quoted"])
def test_other_cells_are_left_as_they_are(value: object):
    assert csv_cell(value) == value


def test_lists_and_objects_are_json_and_guarded_too():
    assert csv_cell(["a", 1]) == '["a", 1]'
    assert csv_cell({"k": "v"}) == '{"k": "v"}'


def test_no_cell_of_a_csv_export_starts_a_formula():
    """A title `=HYPERLINK("http://x","y")` (and the other formula starts) come out behind a quote."""
    rows = [{"title": '=HYPERLINK("http://x","y")', "note": "@cmd", "n": -3, "tags": ["=1"], "ok": "Hội"}]
    body = table_response(csv_request(), rows, "t").body.decode("utf-8-sig")
    cells = [cell for row in csv.reader(io.StringIO(body)) for cell in row]
    assert not [c for c in cells if c.startswith(("=", "+", "-", "@", "\t", "\r"))], cells
    assert """'=HYPERLINK("http://x","y")""" in cells and "Hội" in cells
