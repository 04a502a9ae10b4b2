"""The event catalogue: every type's published example is valid, and invalid data is rejected."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.base import EventType, latest_versions, registry
from schemas.codec import InvalidEvent, decode, decode_obj, encode, new_event, to_obj
from schemas.events.activities import ActivityHeldV1
from schemas.events.activities_v2 import ActivityHeldV2
from schemas.export import data_schema

pytestmark = pytest.mark.unit

CONTRACT_EVENT_NAMES = {
    "activity_planned",
    "activity_held",
    "activity_cancelled",
    "delegation_received",
    "delegation_sent",
    "conference_held",
    "agreement_signed",
    "aid_committed",
    "information_shared",
    "information_acknowledged",
    "plan_issued",
    "task_assigned",
    "task_progress_reported",
    "task_completed",
    "report_requested",
    "report_submitted",
    "report_returned",
    "report_accepted",
    "difficulty_raised",
    "difficulty_acknowledged",
    "guidance_issued",
    "difficulty_escalated",
    "decision_issued",
    "difficulty_resolved",
    "escalation_raised",
    "escalation_acknowledged",
    "partner_registered",
}
AGGREGATES = {
    "activity",
    "delegation",
    "conference",
    "agreement",
    "aid",
    "information",
    "plan",
    "task",
    "report",
    "difficulty",
    "escalation",
    "partner",
}
EVENT_TYPES = [et for _, et in sorted(registry().items())]
SENT_AT = datetime(2021, 5, 20, 9, 30, tzinfo=UTC)


def _example(et: EventType) -> dict[str, Any]:
    return data_schema(et)["examples"][0]


def _envelope_obj(et: EventType, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": "3f0e2a8c-1b2d-4c5e-8f9a-0b1c2d3e4f5a",
        "source": "/provinces/ha-tinh/agencies/so-ngoai-vu",
        "type": et.ce_type,
        "subject": f"{et.aggregate}/example-1",
        "time": "2021-05-20T09:30:00+07:00",
        "datacontenttype": "application/json",
        "data": data,
    }


def _rejected(et: EventType, data: dict[str, Any]) -> bool:
    """Both the payload model and the codec refuse `data`."""
    try:
        et.model.model_validate(data)
    except ValueError:
        pass
    else:
        return False
    try:
        decode_obj(_envelope_obj(et, data))
    except InvalidEvent as exc:
        return exc.kind == "schema_violation"
    return False


def test_catalogue_covers_every_contract_event_name() -> None:
    """Every event name of CONTRACT §1 is registered (the catalogue may extend it), on the agreed aggregates."""
    assert CONTRACT_EVENT_NAMES <= {et.name for et in EVENT_TYPES}
    assert {et.aggregate for et in EVENT_TYPES} == AGGREGATES


@pytest.mark.parametrize("et", EVENT_TYPES, ids=lambda et: et.key)
def test_every_type_is_documented(et: EventType) -> None:
    """Each type has Vietnamese and English titles, a docstring and a description on every field."""
    assert et.title_vi and et.title_en and (et.model.__doc__ or "").strip()
    for name, info in et.model.model_fields.items():
        assert info.description, f"{et.key}.{name} has no description"


@pytest.mark.parametrize("et", EVENT_TYPES, ids=lambda et: et.key)
def test_published_example_validates(et: EventType) -> None:
    """The first `examples` entry of the JSON Schema is a valid payload, and it survives a round trip."""
    example = _example(et)
    model = et.model.model_validate(example)
    again = et.model.model_validate(model.model_dump(mode="json"))
    assert again == model
    json.dumps(data_schema(et))  # the schema itself is serialisable


@pytest.mark.parametrize("et", EVENT_TYPES, ids=lambda et: et.key)
def test_published_example_decodes_as_cloudevent(et: EventType) -> None:
    """The example wrapped in a CloudEvent decodes through the codec (upcast to the newest version)."""
    payload = et.model.model_validate(_example(et))
    envelope = new_event(
        payload, province="ha-tinh", agency="so-ngoai-vu", aggregate_id="example-1", time=SENT_AT
    )
    decoded = decode(encode(envelope))
    assert decoded.envelope.type == et.ce_type
    assert decoded.original_version == et.version
    assert decoded.event_type == latest_versions()[et.name]
    assert decoded.envelope.subject == f"{et.aggregate}/example-1"
    if decoded.event_type.version == et.version:
        assert decoded.data == payload
    assert to_obj(decoded.envelope)["data"] == payload.model_dump(mode="json", exclude_none=True)


_types = st.sampled_from(EVENT_TYPES)
_other_key = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_0123456789", min_size=1, max_size=12).map(
    lambda s: f"x_{s}"
)
_scalar = st.one_of(st.integers(), st.text(max_size=8), st.booleans())
_foreign_object = st.dictionaries(_other_key, _scalar, min_size=1, max_size=3)
_wrong_value = st.one_of(_foreign_object, st.lists(_foreign_object, min_size=1, max_size=2))


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), et=_types)
def test_dropping_a_required_field_is_rejected(data: st.DataObject, et: EventType) -> None:
    """Any event type, any required field: without it the payload is invalid."""
    required = data_schema(et).get("required", [])
    assert required, f"{et.key} has no required field"
    field = data.draw(st.sampled_from(sorted(required)))
    mutated = {k: v for k, v in _example(et).items() if k != field}
    assert _rejected(et, mutated)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), et=_types, wrong=_wrong_value)
def test_a_wrongly_typed_field_is_rejected(data: st.DataObject, et: EventType, wrong: Any) -> None:
    """An object or a list of objects where a field expects something else is invalid."""
    example = _example(et)
    field = data.draw(st.sampled_from(sorted(example)))
    assert _rejected(et, {**example, field: wrong})


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(et=_types, key=st.text(min_size=1, max_size=30), value=st.one_of(_scalar, st.none()))
def test_an_unknown_field_is_rejected(et: EventType, key: str, value: Any) -> None:
    """Payloads are closed: a field the schema does not declare is invalid."""
    example = _example(et)
    if key in data_schema(et)["properties"]:
        return
    assert _rejected(et, {**example, key: value})


def test_activity_held_v1_is_upcast_to_v2() -> None:
    """A v1 `activity_held` with one partner decodes into v2 with that partner in `partners`."""
    v1 = ActivityHeldV1.model_validate(_example(registry()[("activity_held", 1)]))
    assert v1.partner is not None
    raw = encode(new_event(v1, province="ha-tinh", agency="so-ngoai-vu", aggregate_id="a-1", time=SENT_AT))
    assert json.loads(raw)["type"] == "vn.gov.doingoai.activity_held.v1"
    decoded = decode(raw)
    assert isinstance(decoded.data, ActivityHeldV2)
    assert decoded.original_version == 1 and decoded.event_type.version == 2
    assert decoded.data.partners == [v1.partner]
    assert decoded.data.partner == v1.partner
    assert decoded.data.funding_source is None
    assert decoded.data.title == v1.title and decoded.data.participants == v1.participants


def test_activity_held_v1_without_partner_upcasts_to_empty_list() -> None:
    """No partner in v1 means `partners == []` in v2."""
    example = {k: v for k, v in _example(registry()[("activity_held", 1)]).items() if k != "partner"}
    decoded = decode_obj(_envelope_obj(registry()[("activity_held", 1)], example))
    assert isinstance(decoded.data, ActivityHeldV2)
    assert decoded.data.partners == [] and decoded.data.partner is None


def test_invalid_v1_activity_is_not_hidden_by_upcasting() -> None:
    """A v1 payload carrying a v2-only field is still rejected as v1."""
    et = registry()[("activity_held", 1)]
    assert _rejected(et, {**_example(et), "funding_source": "state_budget"})
