"""Per-record validation through HTTP: every record code, accepted values, partial batches."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sandbox_helpers import ACCOUNT_ID, PASSCODE, Client, event, profile, token

from target_clevertap.sandbox import Rules, Sandbox
from target_clevertap.sandbox.validation import LEGACY_TOKEN_TYPES, STANDARD_TOKEN_TYPES

SKIPPED = "Skipped record number : 1"
TYPE_524 = "Record is incorrect. ErrorCode: 524 - Data is neither an event nor a profile. "
IDENTITY_523 = (
    "Identity is incorrect. ErrorCode: 523 - Exactly one of identity, objectId, FBID or GPID "
    "must be given a non-empty value. "
)
OBJECT_ID_526 = "Identity is incorrect. ErrorCode: 526 - objectId is not valid. "
TS_525 = "Timestamp should be present in the Unix Epoch format. "
PROFILE_524 = "Profile data is incorrect. ErrorCode: 524 - "
OPERATORS = "$add, $decr, $delete, $incr, $remove, $set"
NESTED_512 = "Event Data is incorrect. ErrorCode: 512 - Only Items can have a nested structure. "
TOKEN = "Token data is incorrect. ErrorCode: "
CATEGORY_SHAPE = (
    "an object whose keys are among email, push, sms, whatsapp, each a list of category names. "
)


def _field(reason: str) -> str:
    return f"Profile data is incorrect. {reason}"


REJECTED: list[tuple[str, Any, int, str]] = [
    ("not an object", "a string", 524, TYPE_524),
    ("unknown type", {"type": "user", "identity": "u-1"}, 524, TYPE_524),
    ("no type", {"identity": "u-1", "profileData": {}}, 524, TYPE_524),
    ("no identity", {"type": "profile", "profileData": {}}, 523, IDENTITY_523),
    ("two identities", {**event(), "FBID": "f-1"}, 523, IDENTITY_523),
    ("blank identity", profile(identity="  "), 523, IDENTITY_523),
    ("list identity", profile(identity=["u-1"]), 523, IDENTITY_523),
    ("boolean identity", profile(identity=True), 523, IDENTITY_523),
    ("null identity", profile(identity=None), 523, IDENTITY_523),
    ("objectId with a space", {"type": "profile", "objectId": "a b", "profileData": {}}, 526,
     OBJECT_ID_526),
    ("numeric objectId", {**event(), "identity": None, "objectId": 12345}, 526, OBJECT_ID_526),
    ("ts 0", profile(ts=0), 525, TS_525),
    ("negative ts", {**event(), "ts": -5}, 525, TS_525),
    ("fractional ts", profile(ts=1521649274.5), 525, TS_525),
    ("text ts", profile(ts="yesterday"), 525, TS_525),
    ("boolean ts", profile(ts=True), 525, TS_525),
    ("null ts", {**profile(), "ts": None}, 525, TS_525),
    ("microsecond ts", profile(ts=1521649274000000), 525, TS_525),
    ("no profileData", {"type": "profile", "identity": "u-1"}, 524,
     PROFILE_524 + "profileData must be a JSON object. "),
    ("profileData list", {"type": "profile", "identity": "u-1", "profileData": []}, 524,
     PROFILE_524 + "profileData must be a JSON object. "),
    ("unknown operator", profile(Tags={"$push": ["a"]}), 524,
     PROFILE_524 + f"Tags: an operator object holds exactly one of {OPERATORS}. "),
    ("two operators", profile(Tags={"$add": ["a"], "$remove": ["b"]}), 524,
     PROFILE_524 + f"Tags: an operator object holds exactly one of {OPERATORS}. "),
    ("$incr of text", profile(Score={"$incr": "1"}), 524,
     PROFILE_524 + "Score: $incr takes a number. "),
    ("$delete false", profile(Tags={"$delete": False}), 524,
     PROFILE_524 + "Tags: $delete takes true. "),
    ("list of objects", profile(Tags=[{"a": 1}]), 524,
     PROFILE_524 + "Tags: a multi-value list holds a list of text items. "),
    ("$add of lists", profile(Tags={"$add": [["a"]]}), 524,
     PROFILE_524 + "Tags: $add holds a list of text items. "),
    ("$add of a scalar", profile(Tags={"$add": "a"}), 524,
     PROFILE_524 + "Tags: $add holds a list of text items. "),
    ("$set of null", profile(Tags={"$set": None}), 524,
     PROFILE_524 + "Tags: $set holds a list of text items. "),
    ("$remove of numbers", profile(Tags={"$remove": [1, 2]}), 524,
     PROFILE_524 + "Tags: $remove holds a list of text items. "),
    ("list of numbers", profile(Tags=["a", 2]), 524,
     PROFILE_524 + "Tags: a multi-value list holds a list of text items. "),
    ("list of 101 items", profile(Tags=[f"t{n}" for n in range(101)]), 524,
     PROFILE_524 + "Tags: a multi-value list holds at most 100 items, not 101. "),
    ("$add of 101 items", profile(Tags={"$add": [f"t{n}" for n in range(101)]}), 524,
     PROFILE_524 + "Tags: $add holds at most 100 items, not 101. "),
    ("Name multi-value", profile(Name=["Ana"]), 524,
     PROFILE_524 + "Name: a standard field cannot be multi-value. "),
    ("$add to DOB", profile(DOB={"$add": ["x"]}), 524,
     PROFILE_524 + "DOB: a standard field cannot be multi-value. "),
    ("$decr of a boolean", profile(Score={"$decr": True}), 524,
     PROFILE_524 + "Score: $decr takes a number. "),
    ("category as text", profile(**{"category-unsubscribe": "Marketing"}), 524,
     PROFILE_524 + "category-unsubscribe: " + CATEGORY_SHAPE),
    ("category as an empty object", profile(**{"category-resubscribe": {}}), 524,
     PROFILE_524 + "category-resubscribe: " + CATEGORY_SHAPE),
    ("category of a list", profile(**{"category-unsubscribe": ["Marketing"]}), 524,
     PROFILE_524 + "category-unsubscribe: " + CATEGORY_SHAPE),
    ("category channel unknown", profile(**{"category-unsubscribe": {"email": ["M"], "web": ["x"],
                                                                     "Email": ["y"]}}), 524,
     PROFILE_524 + "category-unsubscribe: the channels are among email, push, sms, whatsapp, "
     "not Email, web. "),
    ("category names as text", profile(**{"category-unsubscribe": {"email": "Marketing"}}), 524,
     PROFILE_524 + "category-unsubscribe: email takes a list of category names (text). "),
    ("category blank name", profile(**{"category-resubscribe": {"sms": [" "]}}), 524,
     PROFILE_524 + "category-resubscribe: sms takes a list of category names (text). "),
    ("category number", profile(**{"category-resubscribe": {"push": [7]}}), 524,
     PROFILE_524 + "category-resubscribe: push takes a list of category names (text). "),
    ("category operator", profile(**{"category-unsubscribe": {"$add": ["M"]}}), 524,
     PROFILE_524 + "category-unsubscribe: the channels are among email, push, sms, whatsapp, "
     "not $add. "),
    ("Gender", profile(Gender="male"), 514, _field("Gender needs to be M/F.")),
    ("Gender multi-value", profile(Gender=["M"]), 514, _field("Gender needs to be M/F.")),
    ("Email", profile(Email="1234"), 515, _field("Email is not valid.")),
    ("Email without a dot", profile(Email="ana@example"), 515, _field("Email is not valid.")),
    ("Phone without +", profile(Phone="14155550100"), 516, _field("Phone number is not valid.")),
    ("Phone too short", profile(Phone="+12345"), 516, _field("Phone number is not valid.")),
    ("Phone as a number", profile(Phone=14155550100), 516, _field("Phone number is not valid.")),
    ("Employed", profile(Employed="yes"), 517, _field("Employed needs to be Y/N.")),
    ("Education", profile(Education="University"), 518,
     _field("Education needs to be School/College/Graduate..")),
    ("Married", profile(Married="Maybe"), 519, _field("Married needs to be Y/N.")),
    ("Age", profile(Age="aa"), 520, _field("Age is invalid.")),
    ("Age boolean", profile(Age=True), 520, _field("Age is invalid.")),
    ("no evtName", {"type": "event", "identity": "u-1", "evtData": {}}, 509,
     "Event Name is incorrect. ErrorCode: 509 - Event name is mandatory. "),
    ("blank evtName", event(" "), 509,
     "Event Name is incorrect. ErrorCode: 509 - Event name is mandatory. "),
    ("Web Page Viewed", event("Web Page Viewed"), 513,
     "Event Name is incorrect. ErrorCode: 513 - Trying to raise a restricted system event. "),
    ("App Launched", event("App Launched"), 513,
     "Event Name is incorrect. ErrorCode: 513 - Trying to raise a restricted system event. "),
    ("no evtData", {"type": "event", "identity": "u-1", "evtName": "x"}, 512,
     "Event Data is incorrect. ErrorCode: 512 - evtData must be a JSON object. "),
    ("nested object", event("Viewed", product={"id": 1}), 512, NESTED_512),
    ("list outside Charged", event("Viewed", tags=["a"]), 512, NESTED_512),
    ("Items outside Charged", event("Order", Items=[{"a": 1}]), 512, NESTED_512),
    ("Charged Items of strings", event("Charged", Items=["book"]), 512, NESTED_512),
    ("Charged other nesting", event("Charged", Meta={"a": 1}), 512, NESTED_512),
    ("257 properties", event("Big", **{f"p{n}": n for n in range(257)}), 522,
     "Event Data is incorrect. ErrorCode: 522 - An event can have at most 256 properties. "),
    ("token without objectId", {**token(id="t", type="fcm"), "objectId": None, "identity": "u"},
     530, TOKEN + "530 - objectId is missing or not valid. "),
    ("token without tokenData", {"type": "token", "objectId": "__g1"}, 531,
     TOKEN + "531 - tokenData must be a JSON object. "),
    ("token without id", token(type="fcm"), 532, TOKEN + "532 - Token id is missing. "),
    ("token without type", token(id="t-1"), 533, TOKEN + "533 - Token type is missing. "),
    ("legacy token type", token(id="t-1", type="wns"), 534,
     TOKEN + "534 - Token type must be one of apns, fcm, gcm. "),
    ("unknown token type", token(id="t-1", type="baidu"), 534,
     TOKEN + "534 - Token type must be one of apns, fcm, gcm. "),
    ("token type in capitals", token(id="t-1", type="FCM"), 534,
     TOKEN + "534 - Token type must be one of apns, fcm, gcm. "),
    ("token with an identity too", {**token(id="t-1", type="fcm"), "identity": "u-1"}, 530,
     TOKEN + "530 - A token names its user by objectId alone. "),
    ("token with a bad objectId", token("a b", id="t-1", type="fcm"), 530,
     TOKEN + "530 - objectId is missing or not valid. "),
    ("token with a numeric id", token(id=12345, type="fcm"), 532,
     TOKEN + "532 - Token id is missing. "),
    ("token with a blank id", token(id=" ", type="fcm"), 532,
     TOKEN + "532 - Token id is missing. "),
    ("fcm token with keys", token(id="t-1", type="fcm", keys={"p256dh": "k", "auth": "a"}), 535,
     TOKEN + "535 - Only a chrome token takes keys. "),
]  # fmt: skip

ACCEPTED: list[tuple[str, Any]] = [
    ("standard fields", profile(Name="Ana", Email="ana@example.com", Phone="+14155550100",
                                Gender="F", Employed="N", Education="School", Married="N",
                                Age=18, DOB="$D_631152000", **{"MSG-sms": False})),
    ("numeric-text Age", profile(Age="18.5")),
    ("identity inside profileData", {"type": "profile", "identity": "3",
                                     "profileData": {"identity": 3}}),
    ("numeric identity", profile(identity=42)),
    ("FBID", {"type": "profile", "FBID": "f-1", "profileData": {}}),
    ("GPID", {"type": "event", "GPID": "g-1", "evtName": "x", "evtData": {}}),
    ("objectId", {"type": "event", "objectId": "__g3b1c0ffee-42", "evtName": "x", "evtData": {}}),
    ("multi-value list", profile(Tags=["a", "b"])),
    ("every operator", profile(A={"$set": ["a"]}, B={"$add": ["b"]}, C={"$remove": ["c"]},
                               D={"$delete": True}, E={"$incr": 2}, F={"$decr": 1.5})),
    ("100 items", profile(Tags=[f"t{n}" for n in range(100)],
                          Seen={"$add": [f"t{n}" for n in range(100)]})),
    ("empty lists", profile(Tags=[], Seen={"$set": []})),
    ("negative $incr", profile(Score={"$incr": -3})),
    ("category keys", profile(**{"category-unsubscribe": {"email": ["Marketing", "News"],
                                                          "push": ["Offers"], "sms": [],
                                                          "whatsapp": ["Alerts"]},
                                 "category-resubscribe": {"email": ["Billing"]}})),
    ("null category", profile(**{"category-unsubscribe": None})),
    ("deleting a standard field", profile(Email={"$delete": True})),
    ("nested profile object", profile(Address={"city": "Sofia"})),
    ("null value", profile(Email=None)),
    ("ts as digits", profile(ts="1521649274")),
    ("ts in milliseconds", profile(ts=1521649274000)),
    ("ts as a whole float", profile(ts=1521649274.0)),
    ("Charged with Items", event("Charged", Amount=300, Items=[{"Product": "Book"}],
                                 **{"Delivery By": "$D_1487900000"})),
    ("empty evtData", event("Product viewed")),
    ("256 properties", event("Big", **{f"p{n}": n for n in range(256)})),
    ("fcm token", token(id="t-1", type="fcm")),
    ("apns token", token(id="t-2", type="apns")),
]  # fmt: skip


@pytest.fixture(scope="module")
def shared_client() -> Iterator[Client]:
    with Sandbox(ACCOUNT_ID, PASSCODE) as sandbox:
        client = Client(sandbox.port)
        yield client
        client.close()


def _answer(rules: Rules, *records: Any) -> dict[str, Any]:
    with Sandbox(ACCOUNT_ID, PASSCODE, rules=rules) as sandbox:
        answer: dict[str, Any] = Client(sandbox.port).upload(*records).json
    return answer


def _codes(answer: dict[str, Any]) -> list[int]:
    return [item["code"] for item in answer["unprocessed"]]


@pytest.mark.parametrize(
    ("record", "code", "reason"),
    [case[1:] for case in REJECTED],
    ids=[case[0] for case in REJECTED],
)
def test_rejected_record(shared_client: Client, record: Any, code: int, reason: str) -> None:
    answer = shared_client.upload(record)

    assert answer.status == 200
    assert answer.json["status"] == "fail"
    assert answer.json["processed"] == 0
    [item] = answer.json["unprocessed"]
    assert (item["status"], item["code"], item["error"]) == ("fail", code, reason + SKIPPED)


@pytest.mark.parametrize("record", [case[1] for case in ACCEPTED], ids=[c[0] for c in ACCEPTED])
def test_accepted_record(shared_client: Client, record: Any) -> None:
    answer = shared_client.upload(record)

    assert answer.json == {"status": "success", "processed": 1, "unprocessed": []}


def test_partial_batch_reports_failed_records_by_1_based_number(shared_client: Client) -> None:
    answer = shared_client.upload(
        profile("u-1", Name="Ana"),
        profile(42, Email="bad", Name="Bo"),
        event("Signed Up"),
        {"type": "event", "evtName": "x", "evtData": {}},
        event("Web Page Viewed", identity="u-5"),
    )

    body = answer.json
    assert (body["status"], body["processed"]) == ("partial", 2)
    assert [
        (item["code"], item["error"].partition("Skipped ")[2]) for item in body["unprocessed"]
    ] == [
        (515, "record number : 2"),
        (523, "record number : 4"),
        (513, "record number : 5"),
    ]
    echo = body["unprocessed"][0]["record"]
    assert echo == {
        "identity": "42",
        "profileData": {"Email": "bad", "Name": "Bo"},
        "type": "profile",
    }
    assert list(echo) == sorted(echo)
    assert list(echo["profileData"]) == sorted(echo["profileData"])


def test_the_first_failing_rule_of_a_record_wins(shared_client: Client) -> None:
    answer = shared_client.upload(
        profile(Gender="x", Email="y"),
        {"type": "profile", "ts": 0, "profileData": {"Email": "y"}},
        {**event("Web Page Viewed", nested={"a": 1}), "ts": 5},
    )

    assert _codes(answer.json) == [514, 523, 513]


def test_strict_ts_also_refuses_text_milliseconds_and_floats() -> None:
    records = [profile(ts=ts) for ts in ("1521649274", 1521649274000, 1521649274.0, 1521649274)]

    answer = _answer(Rules(strict_ts=True), *records)

    assert answer["processed"] == 1
    assert _codes(answer) == [525, 525, 525]


def test_discarded_and_extra_restricted_events_are_configurable() -> None:
    rules = Rules(discarded_events=frozenset({"Old Event"}), restricted_events=frozenset({"Mine"}))

    answer = _answer(rules, event("Old Event"), event("Mine"), event("Web Page Viewed"))

    assert _codes(answer) == [528, 513]
    assert answer["unprocessed"][0]["error"] == (
        "Event Name is incorrect. ErrorCode: 528 - Trying to raise a discarded event. " + SKIPPED
    )


def test_event_property_and_charged_item_limits_are_configurable() -> None:
    rules = Rules(max_event_properties=2, max_charged_items=1)
    items = [{"Product": "Book"}, {"Product": "Pen"}]

    answer = _answer(rules, event(a=1, b=2, c=3), event("Charged", Items=items), event(a=1, b=2))

    assert _codes(answer) == [522, 512]
    assert "Charged can have at most 1 Items" in answer["unprocessed"][1]["error"]


def test_operators_can_be_limited_to_add() -> None:
    answer = _answer(
        Rules(allowed_operators=frozenset({"$add"})),
        profile(Tags={"$add": ["a"]}),
        profile(Tags={"$set": ["a"]}),
    )

    assert answer["processed"] == 1
    assert answer["unprocessed"][0]["error"].startswith(
        PROFILE_524 + "Tags: an operator object holds exactly one of $add. "
    )


def test_legacy_token_types_need_a_switch_and_chrome_needs_keys() -> None:
    chrome_keys = {"p256dh": "k", "auth": "a"}
    records = [
        token(id="t-1", type="wns"),
        token(id="t-2", type="chrome", keys=chrome_keys),
        token(id="t-3", type="chrome"),
    ]

    answer = _answer(Rules(token_types=STANDARD_TOKEN_TYPES | LEGACY_TOKEN_TYPES), *records)

    assert answer["processed"] == 2
    assert answer["unprocessed"][0]["error"] == (
        TOKEN + "535 - A chrome token needs keys with p256dh and auth. Skipped record number : 3"
    )
