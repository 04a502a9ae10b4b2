"""Personal data, the pure parts: which fields are personal, sealing and opening, the person whose key
seals a value, and opening tokens in JSON and CSV answers."""

from __future__ import annotations

import csv
import io
import json

import pytest
from pydantic import ValidationError

from projections.models.personal import opened
from schemas.codec import registry
from schemas.common import PersonRef
from schemas.personal import (
    ERASED,
    digest,
    is_sealed,
    key_id_of,
    new_key,
    new_key_id,
    open_token,
    people_at,
    personal_paths,
    replaced,
    seal,
)
from services.http.reveal import _csv_opened, _json_opened

pytestmark = pytest.mark.unit
KEY, KID = new_key(), new_key_id()


def test_a_sealed_value_opens_with_its_key_in_its_province_only():
    token = seal(KEY, KID, "ha-tinh", "Nguyễn Thị Hồng Nhung")
    assert is_sealed(token) and key_id_of(token) == KID and "Nguy" not in token
    assert open_token(KEY, "ha-tinh", token) == "Nguyễn Thị Hồng Nhung"
    assert open_token(KEY, "kon-tum", token) == ERASED  # the province is bound to it
    assert open_token(None, "ha-tinh", token) == ERASED  # the key destroyed
    assert open_token(new_key(), "ha-tinh", token) == ERASED
    # deterministic (a replay writes what the live projection wrote); no two texts share a nonce
    assert seal(KEY, KID, "ha-tinh", "A") == seal(KEY, KID, "ha-tinh", "A")
    assert seal(KEY, KID, "ha-tinh", "A")[27:43] != seal(KEY, KID, "ha-tinh", "B")[27:43]


def test_every_person_of_every_event_type_is_personal():
    found = {name: personal_paths(et.model) for (name, _), et in registry().items() if personal_paths(et.model)}
    assert found["delegation_received"] == (("head", "name"), ("head", "title"))
    assert found["agreement_signed"] == (("signed_by", "name"), ("signed_by", "title"),
                                         ("partner_signatory", "name"), ("partner_signatory", "title"))
    assert set(found) >= {"delegation_sent", "difficulty_acknowledged", "escalation_acknowledged",
                          "information_acknowledged"}
    schema = PersonRef.model_json_schema()["properties"]["name"]
    assert schema["x-personal"] is True and schema["maxLength"] == 200


def test_a_name_is_at_most_200_characters_as_written_and_its_token_is_stored():
    with pytest.raises(ValidationError, match="at most 200 characters"):
        PersonRef(name="x" * 201)
    long = "Nguyễn " * 28  # 196 characters, up to three bytes each
    assert PersonRef(name=seal(KEY, KID, "ha-tinh", long)).name.startswith("pd1.")


def test_a_title_is_sealed_with_the_key_of_the_name_beside_it():
    data = {"signed_by": {"name": "Trần Văn A", "title": "Giám đốc"}, "partner_signatory": {"name": "B"}}
    paths = personal_paths(next(et.model for (n, _), et in registry().items() if n == "agreement_signed"))
    assert list(people_at(data, paths)) == [("Trần Văn A", "Trần Văn A"), ("Giám đốc", "Trần Văn A"), ("B", "B")]
    out = replaced(data, paths, str.upper)
    assert out == {"signed_by": {"name": "TRẦN VĂN A", "title": "GIÁM ĐỐC"}, "partner_signatory": {"name": "B"}}
    assert data["signed_by"]["name"] == "Trần Văn A"  # a copy


def test_a_person_is_found_whatever_the_case_spacing_or_the_session_username():
    secret = b"s" * 32
    same = {digest(secret, "ha-tinh", n) for n in
            ("Lê Thị Mai", "  lê  thị MAI ", "Le\u0302 Thi\u0323 Mai", "Lê Thị Mai (lemai)")}
    assert len(same) == 1
    assert digest(secret, "kon-tum", "Lê Thị Mai") not in same
    assert digest(b"t" * 32, "ha-tinh", "Lê Thị Mai") not in same


def test_tokens_open_inside_json_strings_escaped_and_in_csv_cells():
    named = seal(KEY, KID, "ha-tinh", 'Đoàn "Hữu nghị"')
    gone = seal(KEY, "x" * 22, "ha-tinh", "Ai đó")
    keys = {KID: ("ha-tinh", KEY), "x" * 22: ("ha-tinh", None)}
    body = json.dumps({"head": named, "message": f"tiếp nhận bởi {gone}", "n": 1}).encode()
    assert json.loads(_json_opened(body, keys)) == {"head": 'Đoàn "Hữu nghị"', "message": f"tiếp nhận bởi {ERASED}",
                                                    "n": 1}
    out = io.StringIO()
    csv.writer(out).writerows([["head", "detail"], [named, json.dumps({"head": gone})]])
    rows = list(csv.reader(io.StringIO(_csv_opened(("\ufeff" + out.getvalue()).encode(), keys).decode("utf-8-sig"))))
    assert rows == [["head", "detail"], ['Đoàn "Hữu nghị"', json.dumps({"head": ERASED}, ensure_ascii=False)]]
    assert opened("no token here", keys) == "no token here"


def test_audit_verify_takes_a_sealed_actor_column_for_what_the_message_writes_in_clear():
    from projections.models.audit_verify import ChainCheck

    other = new_key_id()
    check = ChainCheck(people={KID: ("ha-tinh", KEY), other: ("ha-tinh", None)})
    written = "Lê Văn Tám (levantam)"
    assert check.sealed_as("actor", seal(KEY, KID, "ha-tinh", written), written)
    assert not check.sealed_as("actor", seal(KEY, KID, "ha-tinh", "Người khác (khac)"), written)
    assert check.sealed_as("actor", seal(KEY, other, "ha-tinh", written), written)  # erased: cannot compare
    assert check.sealed_as("actor", ERASED, written)
    assert not check.sealed_as("agency", seal(KEY, KID, "ha-tinh", "so-ngoai-vu"), "so-ngoai-vu")
    assert not check.sealed_as("actor", "someone else", written)
