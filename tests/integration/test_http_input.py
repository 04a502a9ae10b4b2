"""Whatever a client puts in a query parameter or header is answered for what it is: a number or date
out of range is a 400 naming the parameter (never a 500); a CSV export never starts a formula; an event
is stored as it was sent, as compact JSON."""

from __future__ import annotations

import csv
import io
import json
import re
import socket
from urllib.parse import urlsplit

import httpx
import nats
import pytest

from schemas.codec import encode, to_obj
from schemas.fastjson import compact
from services.store import EVENTS_STREAM
from tests.support import System, nats_options, sample

pytestmark = pytest.mark.integration
CE = {"content-type": "application/cloudevents+json"}
DIGITS = "9" * 5000
INT64 = 2**63
OUT_OF_RANGE = [
    ("/api/audit", {"after": str(INT64)}, "query.after"),
    ("/api/audit", {"after": "-1"}, "query.after"),
    ("/api/audit", {"after": DIGITS}, "query.after"),
    ("/api/audit", {"limit": DIGITS}, "query.limit"),
    ("/api/audit", {"limit": "0"}, "query.limit"),
    ("/api/audit", {"to": "9999-12-31"}, "query.to"),
    ("/api/audit", {"from": "0001-01-01"}, "query.from"),
    ("/api/audit", {"from": "9999-12-31T23:00:00-05:00"}, "query.from"),
    ("/api/audit", {"to": "0001-01-01T00:00:00+05:00"}, "query.to"),
    ("/api/audit", {"from": "10000-01-01"}, "query.from"),
    ("/api/audit", {"from": "2021-02-30"}, "query.from"),
    ("/api/audit", {"format": "jsonl", "after": str(INT64)}, "query.after"),
    ("/api/rejected", {"offset": str(INT64)}, "query.offset"),
    ("/api/rejected", {"offset": "-1"}, "query.offset"),
    ("/api/rejected", {"limit": DIGITS}, "query.limit"),
    ("/api/rejected", {"limit": str(2**64)}, "query.limit"),
    ("/api/activities", {"limit": str(INT64)}, "query.limit"),
    ("/api/activities", {"from": "10000-01-01"}, "query.from"),
    ("/api/activities", {"to": "0000-12-31"}, "query.to"),
    ("/api/activities", {"from": DIGITS}, "query.from"),
    ("/api/tasks", {"date": "10000-01-01"}, "query.date"),
    ("/api/dashboard", {"province": "ha-tinh", "period": "0000-H1"}, "query.period"),
    ("/api/dashboard", {"province": "ha-tinh", "period": "2021", "date": DIGITS}, "query.date"),
    ("/api/dashboard", {"province": "ha-tinh", "period": "2021-H3"}, "query.period"),
    ("/api/reports/compliance", {"province": "ha-tinh", "period": "0000"}, "query.period"),
    ("/api/reports/compliance", {"province": "ha-tinh", "period": "0000-H1"}, "query.period"),
    ("/api/escalations", {"status": "nope"}, "query.status"),
    ("/api/escalations", {"reminders": DIGITS}, "query.reminders"),
    ("/api/provinces", {"date": DIGITS}, "query.date"),
]
"""(route, query, the problem's path): each must be a 400 `bad_request` naming that parameter."""
EXTREME_BUT_VALID = [
    ("/api/activities", {"from": "9999-12-31", "to": "0001-01-01"}),
    ("/api/tasks", {"date": "9999-12-31"}),
    ("/api/tasks", {"date": "0001-01-01"}),
    ("/api/dashboard", {"province": "ha-tinh", "period": "2021", "date": "9999-12-31"}),
    ("/api/dashboard", {"province": "ha-tinh", "period": "9999-H2", "date": "0001-01-01"}),
    ("/api/dashboard", {"province": "ha-tinh", "period": "9999"}),
    ("/api/reports/compliance", {"province": "ha-tinh", "period": "9999", "date": "9999-12-31"}),
    ("/api/reports/compliance", {"province": "ha-tinh", "period": "9999-H1", "date": "0001-01-01"}),
    ("/api/audit", {"from": "0001-01-02", "to": "9999-12-30"}),
    ("/api/audit", {"after": str(INT64 - 1), "limit": "100000"}),
    ("/api/rejected", {"offset": str(INT64 - 1)}),
    ("/api/provinces", {"date": "0001-01-01"}),
    ("/api/provinces", {"date": "9999-12-31"}),
]
"""Extremes inside the ranges: answered (200), or at most a 400 — never a 500."""


def auth(creds: dict[str, str]) -> dict[str, str]:
    return {**CE, "authorization": f"Bearer {creds['token']}"}


@pytest.fixture(scope="module")
def reader(system: System) -> dict[str, str]:
    """Headers of an auditor of the province, who may read everything of it."""
    return {"authorization": f"Bearer {system.credentials('ha-tinh', 'kiem-toan-doc', 'auditor')['token']}"}


@pytest.mark.parametrize(("route", "query", "path"), OUT_OF_RANGE,
                         ids=[f"{r}?{'&'.join(q)}" for r, q, _ in OUT_OF_RANGE])
def test_a_parameter_out_of_range_is_a_400_naming_it(system: System, reader, route: str, query: dict[str, str],
                                                     path: str):
    r = httpx.get(f"{system.http}{route}", params=query, headers=reader, timeout=30)
    assert r.status_code == 400, (r.status_code, r.text[:500])
    body = r.json()
    assert body["error"] == "bad_request"
    assert path in [p["path"] for p in body["problems"]], body
    assert all(p["message"] for p in body["problems"])


@pytest.mark.parametrize(("route", "query"), EXTREME_BUT_VALID,
                         ids=[f"{r}?{'&'.join(q)}" for r, q in EXTREME_BUT_VALID])
def test_extreme_values_inside_the_ranges_are_never_a_500(system: System, reader, route: str,
                                                          query: dict[str, str]):
    r = httpx.get(f"{system.http}{route}", params=query, headers=reader, timeout=30)
    assert r.status_code in (200, 400), (r.status_code, r.text[:500])
    if r.status_code == 400:
        assert r.json()["error"] == "bad_request" and r.json()["problems"], r.text


@pytest.mark.parametrize("value", [DIGITS, str(2**64), "-1", "1e3", "x", "١٢".encode()])
def test_a_concurrency_header_out_of_range_is_a_400_naming_it(system: System, agency, value: str | bytes):
    """Nats-Expected-Last-Subject-Sequence of 5,000 digits, over 2^64 − 1, negative or not a number."""
    r = httpx.post(f"{system.http}/events", content=encode(sample("activity_held")),
                   headers={**auth(agency), "Nats-Expected-Last-Subject-Sequence": value})
    assert r.status_code == 400, (r.status_code, r.text[:300])
    assert r.json() == {"error": "bad_request", "problems": [
        {"path": "Nats-Expected-Last-Subject-Sequence", "message": r.json()["problems"][0]["message"]}]}


@pytest.mark.parametrize("path", ["/events", "/api/escalations/x/acknowledge"])
def test_a_content_length_too_long_to_be_a_number_is_refused_not_a_500(system: System, agency, path: str):
    """A declared length of 30 or 5,000 digits: refused (400 or 413) by the server or by us."""
    host, port = urlsplit(system.http).hostname, urlsplit(system.http).port
    for length in ("9" * 30, DIGITS):
        with socket.create_connection((host, port), timeout=10) as sock:
            sock.sendall(f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {agency['token']}"
                         f"\r\nContent-Type: application/cloudevents+json\r\nContent-Length: {length}\r\n\r\n{{}}"
                         .encode())
            head = sock.recv(4096).split(b"\r\n", 1)[0]
        assert head.split()[1] in (b"400", b"413"), head


def test_a_schema_version_of_thousands_of_digits_is_a_404(system: System):
    assert httpx.get(f"{system.http}/schemas/activity_held.v{DIGITS}.json").status_code == 404


async def test_a_csv_export_shows_a_formula_title_as_text(system: System, agency, reader):
    """An activity titled `=HYPERLINK("http://x","y")`: in /api/activities?format=csv no cell starts with
    =, +, - or @; the title is there behind a quote."""
    title = '=HYPERLINK("http://x","y")'
    event = sample("activity_held", title=title, summary="@SUM(1+1)")
    r = httpx.post(f"{system.http}/events", content=encode(event), headers=auth(agency))
    assert r.status_code == 202, r.text
    system.wait_projected(r.json()["sequence"])
    for accept in ({"format": "csv"}, {}):
        r = httpx.get(f"{system.http}/api/activities", params={"province": "ha-tinh", **accept},
                      headers=reader if accept else {**reader, "accept": "text/csv"})
        assert r.headers["content-type"].startswith("text/csv")
        cells = [cell for row in csv.reader(io.StringIO(r.content.decode("utf-8-sig"))) for cell in row]
        assert "'" + title in cells
        assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]


NUMERIC_PROBES = (DIGITS, "-1", str(INT64), str(2**64), "1e400", "NaN", "9999-12-31", "0000-01-01",
                  "0001-01-01", "9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00")
REQUIRED = {"province": "ha-tinh", "period": "2021"}


def numeric_parameters(openapi: dict[str, object]) -> list[tuple[str, str]]:
    """(route, parameter) of every GET query parameter that is a number or a date, or named like one."""
    found = []
    for route, methods in openapi["paths"].items():  # type: ignore[attr-defined]
        for param in methods.get("get", {}).get("parameters", []):
            schema = param.get("schema", {})
            kinds = {schema.get("type"), schema.get("format"), *(s.get("type") for s in schema.get("anyOf", [])),
                     *(s.get("format") for s in schema.get("anyOf", []))}
            if param["in"] == "query" and (
                    kinds & {"integer", "number", "date", "date-time"} or param["name"] in (
                        "from", "to", "date", "after", "limit", "offset", "period")):
                found.append((route, param["name"]))
    return found


def test_no_numeric_or_date_parameter_of_any_route_answers_500(system: System, reader):
    """Every GET route's number and date parameters (read from /openapi.json, so a new route is covered)
    with 5,000 digits, negative, above int64 and uint64, 1e400, NaN and dates at and beyond the ends of
    the calendar: never a 500; a 400 is a `bad_request` naming the parameter."""
    openapi = httpx.get(f"{system.http}/openapi.json", headers=reader).json()
    probed = numeric_parameters(openapi)
    assert {("/api/audit", "after"), ("/api/rejected", "offset"), ("/api/activities", "from"),
            ("/api/reports/consolidated.docx", "period"), ("/api/reports/consolidated.docx", "date")} <= set(probed)
    failures = []
    with httpx.Client(base_url=system.http, headers=reader, timeout=30) as http:
        for route, name in probed:
            path = re.sub(r"\{[^}]+\}", "x", route)
            for value in NUMERIC_PROBES:
                r = http.get(path, params={**REQUIRED, name: value})
                if r.status_code >= 500:
                    failures.append((route, name, value, r.status_code))
                elif r.status_code == 400:
                    problems = r.json().get("problems") or []
                    if r.json().get("error") != "bad_request" or not problems:
                        failures.append((route, name, value, r.text[:200]))
    assert not failures, failures


async def test_an_event_is_stored_as_it_was_sent_in_compact_json(system: System, agency):
    """Posted alone (indented, attributes in another order, a time with its offset) or in a batch, an
    event's stored bytes are its JSON as sent, compacted: what the agency wrote, as NATS keeps it."""
    def sent() -> dict[str, object]:
        obj = to_obj(sample("activity_held"))
        return {"time": "2026-03-02T09:30:00.5+07:00", **{k: v for k, v in reversed(obj.items()) if k != "time"}}

    one, batch = sent(), [sent(), sent()]
    answers = [httpx.post(f"{system.http}/events", content=json.dumps(one, indent=2, ensure_ascii=False),
                          headers=auth(agency)).json()]
    batched = {**auth(agency), "content-type": "application/cloudevents-batch+json"}
    answers += httpx.post(f"{system.http}/events", content=json.dumps(batch), headers=batched).json()["results"]
    auditor = system.credentials("ha-tinh", "kiem-toan-doc", "auditor")
    nc = await nats.connect(auditor["nats_url"], **nats_options(auditor))
    try:
        js = nc.jetstream(timeout=5)
        stored = [(await js.get_msg(EVENTS_STREAM, seq=a["sequence"])).data for a in answers]
    finally:
        await nc.close()
    assert stored == [compact(obj) for obj in (one, *batch)]
    assert stored[0].startswith(b'{"time":"2026-03-02T09:30:00.5+07:00","data":{')
