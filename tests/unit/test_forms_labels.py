"""The forms' pure parts: every field of every event type has a Vietnamese title and every enum value a
Vietnamese name in the published JSON Schema; a check of several fields is reported at its field; the
forms offered follow the authority rules; an attachment's kind is read from its content."""

from __future__ import annotations

import io
from typing import Any

import docx
import pytest

from schemas.authority import FOCAL, RULES, Aggregate, may_ever_publish, may_speak_on
from schemas.base import registry
from schemas.codec import InvalidEvent, decode_obj, encode
from schemas.export import data_schema
from schemas.labels import ENUM_LABELS_VI, FIELD_TITLES_VI
from services.attachments import UnsupportedFile, media_type, named_in
from services.http.forms import form_types
from tests.support import sample

pytestmark = pytest.mark.unit


def _walk(schema: dict[str, Any], defs: dict[str, Any], seen: set[str]) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for name, prop in schema.get("properties", {}).items():
        out.append((name, prop))
        for ref in _refs(prop):
            if ref not in seen:
                seen.add(ref)
                out += _walk(defs[ref], defs, seen)
    return out


def _refs(prop: Any) -> list[str]:
    if isinstance(prop, dict):
        found = [prop["$ref"].split("/")[-1]] if "$ref" in prop else []
        return found + [r for v in prop.values() for r in _refs(v)]
    if isinstance(prop, list):
        return [r for v in prop for r in _refs(v)]
    return []


@pytest.mark.parametrize("et", sorted(registry().values(), key=lambda et: et.key), ids=lambda et: et.key)
def test_every_field_and_enum_value_of_an_event_schema_has_a_vietnamese_name(et):
    schema = data_schema(et)
    defs = schema.get("$defs", {})
    for name, prop in _walk(schema, defs, set()):
        assert prop.get("title") and (prop["title"] != name or name in FIELD_TITLES_VI), f"{et.key}.{name}"
    for def_name, definition in defs.items():
        if "enum" in definition:
            labels = definition["x-labels-vi"]
            assert set(labels) == set(definition["enum"]), def_name
            assert all(labels[v] != v for v in definition["enum"]), def_name
            assert def_name in ENUM_LABELS_VI


def test_a_check_of_several_fields_is_reported_at_its_field():
    event = sample("activity_held", agency="so-tu-phap")
    wrong = event.model_copy(update={"data": {**event.data, "start_date": "2021-03-27", "end_date": "2021-03-26"}})
    with pytest.raises(InvalidEvent) as refused:
        decode_obj(wrong.model_dump(mode="json", exclude_none=True))
    assert [p.path for p in refused.value.problems] == ["data.end_date"]
    assert "end_date is before start_date" in refused.value.problems[0].message
    decision = sample("decision_issued", agency="ubnd-tinh")
    undated = decision.model_copy(update={"data": {**decision.data, "decision": {"number": "1/QĐ-UBND"}}})
    with pytest.raises(InvalidEvent) as refused:
        decode_obj(undated.model_dump(mode="json", exclude_none=True))
    assert [p.path for p in refused.value.problems] == ["data.decision.issued_on"]


def test_the_forms_offered_follow_the_authority_rules():
    def names(agency: str) -> set[str]:
        return {et.name for et in form_types(agency, can_publish=True)}

    steps = {"difficulty_acknowledged", "guidance_issued", "difficulty_escalated", "report_accepted", "report_returned"}
    assert steps | {"partner_registered", "difficulty_raised"} <= names(FOCAL)
    assert "decision_issued" not in names(FOCAL) and "decision_issued" in names("ubnd-tinh")
    district = names("ubnd-huyen-nghi-xuan")
    assert {"difficulty_raised", "report_submitted", "information_acknowledged"} <= district
    assert not (steps | {"decision_issued", "plan_issued", "escalation_acknowledged", "escalation_raised"}) & district
    assert form_types(FOCAL, can_publish=False) == []  # an auditor's or administrator's account
    assert not may_ever_publish("so-tu-phap", "escalation_raised") and not may_ever_publish(FOCAL, "no_such")


def test_a_step_is_offered_on_the_aggregates_the_agency_may_speak_on():
    difficulty = Aggregate("ha-tinh", "difficulty/1", "so-tu-phap")
    assert may_speak_on("ha-tinh", FOCAL, "difficulty_acknowledged", difficulty)
    assert not may_speak_on("kon-tum", FOCAL, "difficulty_acknowledged", difficulty)  # another province's
    assert not may_speak_on("ha-tinh", "so-noi-vu", "difficulty_resolved", difficulty)
    assert may_speak_on("ha-tinh", "so-tu-phap", "difficulty_resolved", difficulty)  # the raiser closes its own
    assert not may_speak_on("ha-tinh", FOCAL, "difficulty_acknowledged", None)  # needs an existing one
    assert may_speak_on("ha-tinh", "so-tu-phap", "report_submitted", None)
    assert RULES["report_returned"].owner == "returned_to"


def test_an_attachment_is_pdf_or_docx_by_its_content_whatever_its_name():
    document = docx.Document()
    document.add_paragraph("Tờ trình")
    out = io.BytesIO()
    document.save(out)
    assert media_type(out.getvalue()).value.endswith("wordprocessingml.document")
    assert media_type(b"%PDF-1.7\n%%EOF").value == "application/pdf"
    for other in (b"PK\x03\x04" + b"\0" * 100, "văn bản".encode(), b"\x89PNG\r\n\x1a\n" + b"\0" * 20, b""):
        with pytest.raises(UnsupportedFile):
            media_type(other)


def test_the_files_an_event_names_are_found_in_its_json_data():
    ref = {"name": "a.pdf", "media_type": "application/pdf", "size": 3, "sha256": "a" * 64,
           "object": f"ha-tinh/so-tu-phap/{'a' * 64}"}
    assert list(named_in({"attachments": [ref, {"number": "1/KH-UBND"}]})) == [ref]  # not a document reference
    assert list(named_in({"topic": "x"})) == [] and list(named_in(None)) == []
    report = sample("report_submitted", agency="so-tu-phap", data={"attachments": [ref]})
    assert decode_obj(report.model_dump(mode="json")).data.attachments[0].sha256 == "a" * 64  # type: ignore[attr-defined]
    assert b'"sha256"' in encode(report)
