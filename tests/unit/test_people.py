"""People's accounts without a server: password hashing, what makes an account, the identity each
role acts with, the actor set on what a person records, and the count of wrong passwords."""

from __future__ import annotations

import json
import unicodedata

import pytest

from schemas.authority import reads_whole_province
from schemas.codec import encode
from services.credentials import Identity, Person, ReservedIdentity
from services.http.ingest import Item, decode_item
from services.http.limits import Limits, TooManyRequests
from services.people import BadAccount, check_account, check_password, hash_password, identity_of, verify_password
from tests.support import sample

pytestmark = pytest.mark.unit
AN = Person("nguyen.van.an", "Nguyễn Văn An", "Chuyên viên Phòng Hợp tác quốc tế", "specialist")


def test_a_password_is_kept_as_a_salted_hash_and_checked_whole():
    long = "mật khẩu rất dài " * 10  # over bcrypt's 72 bytes: the end still counts
    stored = hash_password(long, rounds=4)
    assert stored.startswith("bcrypt-hmac-sha256$") and "mật" not in stored
    assert verify_password(long, stored)
    assert not verify_password(long[:-1] + "x", stored)
    assert hash_password(long, rounds=4) != stored  # salted
    assert not verify_password(long, "not a hash") and not verify_password(long, "bcrypt-hmac-sha256$garbage")


def test_a_vietnamese_password_matches_however_its_marks_were_typed():
    composed = unicodedata.normalize("NFC", "Hà Tĩnh 2021 ệ")
    stored = hash_password(composed, rounds=4)
    assert verify_password(unicodedata.normalize("NFD", composed), stored)


def test_an_account_needs_a_known_role_slugs_a_username_and_one_line_names():
    check_account("ha-tinh", "so-ngoai-vu", "nguyen.van.an", "Nguyễn Văn An", "Chuyên viên", "leader")
    for bad in (("ha-tinh", "so-ngoai-vu", "nguyen.van.an", "An", "CV", "boss"),
                ("Hà Tĩnh", "so-ngoai-vu", "an", "An", "CV", "specialist"),
                ("ha-tinh", "so-ngoai-vu", "Nguyen Van An", "An", "CV", "specialist"),
                ("ha-tinh", "so-ngoai-vu", "an", "An\nB", "CV", "specialist"),
                ("ha-tinh", "so-ngoai-vu", "an", "An", "", "specialist"),
                ("ha-tinh", "so-ngoai-vu", "doingoai", "An", "CV", "admin")):
        with pytest.raises(BadAccount):
            check_account(*bad)
    with pytest.raises(ReservedIdentity):  # the system identity has no people
        check_account("ha-tinh", "doingoai", "an", "An", "CV", "admin")
    with pytest.raises(BadAccount):
        check_password("short")
    assert check_password("đủ mười ký tự") == "đủ mười ký tự"


def test_each_role_acts_with_the_identity_of_its_agency():
    leader = identity_of("ha-tinh", "so-tu-phap", Person("b", "B", "Giám đốc", "leader"))
    specialist = identity_of("ha-tinh", "so-tu-phap", AN)
    auditor = identity_of("ha-tinh", "thanh-tra-tinh", Person("c", "C", "Thanh tra viên", "auditor"))
    admin = identity_of("ha-tinh", "so-tu-phap", Person("d", "D", "Quản trị", "admin"))
    assert leader.can_publish and specialist.can_publish
    assert specialist.source == "/provinces/ha-tinh/agencies/so-tu-phap"
    assert not auditor.can_publish and reads_whole_province(auditor.agency, auditor.role)
    assert not admin.can_publish and reads_whole_province(admin.agency, admin.role)
    assert not reads_whole_province(specialist.agency, specialist.role)  # an agency's own scope, as its token
    assert specialist.actor == "Nguyễn Văn An (nguyen.van.an)"
    assert Identity("ha-tinh", "so-tu-phap", "agency", "u").actor is None


def test_an_event_recorded_in_a_session_names_the_person_whatever_actor_it_said():
    obj = {**json.loads(encode(sample("difficulty_raised", agency="so-tu-phap"))), "actor": "Giám đốc Sở (giả mạo)"}
    valid, decoded = decode_item(identity_of("ha-tinh", "so-tu-phap", AN), Item(None, obj))
    assert json.loads(valid.raw)["actor"] == "Nguyễn Văn An (nguyen.van.an)" == decoded.envelope.actor
    token, _ = decode_item(Identity("ha-tinh", "so-tu-phap", "agency", "u"), Item(None, obj))
    assert json.loads(token.raw)["actor"] == "Giám đốc Sở (giả mạo)"  # an agency system states its own


def test_five_wrong_passwords_for_a_username_within_five_minutes_are_answered_429():
    limits = Limits()
    for _ in range(4):
        limits.bad_passwords.failed("an")
    limits.bad_passwords.succeeded("an")  # signing in forgets the failures
    for _ in range(4):
        limits.bad_passwords.failed("an")
    limits.bad_passwords.check("an")
    limits.bad_passwords.failed("an")
    with pytest.raises(TooManyRequests) as refused:
        limits.bad_passwords.check("an")
    assert "wrong passwords for an" in str(refused.value) and refused.value.retry_after_s == 300
    limits.bad_passwords.check("binh")  # another username is not held back
    limits.bad_password_addresses.check("10.0.0.1")
