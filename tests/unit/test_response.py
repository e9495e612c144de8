"""read_upload_result against CleverTap's real answers (recorded traffic) and edge cases."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from target_clevertap.response import UNKNOWN_OUTCOME, RecordFailure, read_upload_result
from tests import recorded_traffic

CASES = [pytest.param(case, id=case["case"]) for case in recorded_traffic.cases()]
# The 2018 recordings keep CleverTap's exact bytes (spaced JSON); the 2024 one does not.
RAW_CASES = [c for c in CASES if c.values[0]["response"].get("raw_body")]


def _text(reason: str, number: int, glued: bool = True) -> str:
    separator = "" if glued else " "
    return f"{reason}{separator}Skipped record number : {number}"


EMAIL = "Profile data is incorrect. Email is not valid."
PHONE = "Profile data is incorrect. Phone number is not valid."
EMPLOYED = "Profile data is incorrect. Employed needs to be Y/N."
EDUCATION = "Profile data is incorrect. Education needs to be School/College/Graduate.."
MARRIED = "Profile data is incorrect. Married needs to be Y/N."
AGE = "Profile data is incorrect. Age is invalid."
TIMESTAMP = "Timestamp should be present in the Unix Epoch format."
RESTRICTED = "Event Name is incorrect. ErrorCode: 513 - Trying to raise a restricted system event."
CREDENTIALS = (
    "CleverTap answered 'fail' with processed=None for 1 records but listed only 0 as "
    "refused; this record's outcome is unknown."
)

# What each recording must read as: (status, processed, failures as (index, code, error)).
# Keyed by a part of the case name that only that case has.
EXPECTED: dict[str, tuple[str, int, list[tuple[int, Any, str]]]] = {
    "when_only_some_are_valid/partially_succeds": ("partial", 1, [(1, 515, _text(EMAIL, 2))]),
    "uploading_a_profile/when_is_invalid/fails": ("fail", 0, [(0, 515, _text(EMAIL, 1))]),
    "uploading_a_profile/when_is_valid/succeed": ("success", 1, []),
    "uploading_an_event/when_is_valid/succeed": ("success", 1, []),
    "and_invalid_records/calls_on_failed_upload_once": ("fail", 0, [(0, 516, _text(PHONE, 1))]),
    "calls_on_successful_upload_proc_twice#0": ("success", 1, []),
    "calls_on_successful_upload_proc_twice#1": ("success", 1, []),
    "and_objects_fit_upload_limit_/calls_on_successful_upload_proc_once": ("success", 2, []),
    "when_age_is_invalid": ("fail", 0, [(0, 520, _text(AGE, 1)), (1, 520, _text(AGE, 2))]),
    "when_education_status_is_invalid": (
        "fail",
        0,
        [(0, 518, _text(EDUCATION, 1)), (1, 518, _text(EDUCATION, 2))],
    ),
    "when_email_is_invalid": ("fail", 0, [(0, 515, _text(EMAIL, 1)), (1, 515, _text(EMAIL, 2))]),
    "when_employment_status_is_invalid": (
        "fail",
        0,
        [(0, 517, _text(EMPLOYED, 1)), (1, 517, _text(EMPLOYED, 2))],
    ),
    "when_marital_status_is_invalid": (
        "fail",
        0,
        [(0, 519, _text(MARRIED, 1)), (1, 519, _text(MARRIED, 2))],
    ),
    "when_phone_is_invalid": ("fail", 0, [(0, 516, _text(PHONE, 1)), (1, 516, _text(PHONE, 2))]),
    "when_the_creation_date_field_is_missing": (
        "fail",
        0,
        [(0, 525, _text(TIMESTAMP, 1, glued=False)), (1, 525, _text(TIMESTAMP, 2, glued=False))],
    ),
    # HTTP 401: the client stops on the status; if the body is read anyway, nothing is delivered.
    "with_invalid_credentials": ("fail", -1, [(0, UNKNOWN_OUTCOME, CREDENTIALS)]),
    "with_valid_data/makes_successful_upload": ("success", 2, []),
    "restricted system event 'Web Page Viewed'": (
        "fail",
        0,
        [(0, 513, _text(RESTRICTED, 1, glued=False))],
    ),
}


def _expected(case: dict[str, Any]) -> tuple[str, int, list[RecordFailure]]:
    keys = [key for key in EXPECTED if key in case["case"]]
    assert len(keys) == 1, f"no single expectation for recorded case {case['case']!r}: {keys}"
    status, processed, failures = EXPECTED[keys[0]]
    return status, processed, [RecordFailure(*failure) for failure in failures]


@pytest.mark.parametrize("case", CASES)
def test_recorded_answer_is_read_record_by_record(case: dict[str, Any]) -> None:
    sent = case["request"]["body"]["d"]
    result = read_upload_result(case["response"]["body"], sent)
    status, processed, failures = _expected(case)
    assert (result.status, result.processed) == (status, processed)
    assert sorted(result.failures, key=lambda f: f.index) == failures
    assert {f.index for f in result.failures} == {f.index for f in failures}
    if case["response"]["status"] == 200:
        assert len(sent) - len(failures) == result.processed


@pytest.mark.parametrize("case", RAW_CASES)
def test_recorded_raw_bytes_read_the_same(case: dict[str, Any]) -> None:
    raw = case["response"]["raw_body"]
    assert '"status" : ' in raw  # the spaced 2018 formatting
    body = json.loads(raw)
    assert body == case["response"]["body"]
    sent = case["request"]["body"]["d"]
    assert read_upload_result(body, sent) == read_upload_result(case["response"]["body"], sent)


def test_every_recorded_case_has_an_expectation() -> None:
    names = [param.values[0]["case"] for param in CASES]
    assert len(names) == 18
    assert len(RAW_CASES) == 17
    for key in EXPECTED:
        assert sum(key in name for name in names) == 1, key


# --- finding the record when the number is missing, garbled or out of range -------------------


def _partial_case() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    for case in recorded_traffic.cases("clevertap-ruby-2018.jsonl"):
        if "partially_succeds" in case["case"]:
            return copy.deepcopy(case["response"]["body"]), case["request"]["body"]["d"]
    raise AssertionError("the recorded partial case is gone")


@pytest.mark.parametrize(
    "error",
    [
        "Profile data is incorrect. Email is not valid.",
        "Profile data is incorrect. Email is not valid.Skipped record number : x",
        "Profile data is incorrect. Email is not valid.Skipped record number : 0",
        "Profile data is incorrect. Email is not valid.Skipped record number : 3",
        "",
    ],
)
def test_echoed_record_is_the_fallback(error: str) -> None:
    body, sent = _partial_case()
    body["unprocessed"][0]["error"] = error
    result = read_upload_result(body, sent)
    assert result.failures == [RecordFailure(1, 515, error)]


def test_number_is_read_with_any_spacing_and_case() -> None:
    sent = [{"type": "profile", "identity": str(i), "profileData": {}} for i in range(3)]
    body = {
        "status": "partial",
        "processed": 1,
        "unprocessed": [
            {"status": "fail", "code": 515, "error": "Bad.skipped RECORD number:3"},
            {"status": "fail", "code": 516, "error": "Bad. Skipped  record\tnumber :  1 "},
        ],
    }
    assert read_upload_result(body, sent).failures == [
        RecordFailure(2, 515, "Bad.skipped RECORD number:3"),
        RecordFailure(0, 516, "Bad. Skipped  record\tnumber :  1 "),
    ]


def test_echo_matches_a_normalised_copy_by_type_identity_and_event_name() -> None:
    sent = [
        {"type": "event", "identity": "7", "evtName": "Viewed", "evtData": {}},
        {"type": "event", "identity": "7", "evtName": "Charged", "evtData": {"Amount": 1}},
        {"type": "event", "identity": "8", "evtName": "Charged", "evtData": {}},
    ]
    echoed = {"evtData": {"Amount": 1}, "evtName": "Charged", "identity": 7, "type": "event"}
    body = {
        "status": "partial",
        "processed": 2,
        "unprocessed": [{"status": "fail", "code": 512, "error": "Bad.", "record": echoed}],
    }
    assert read_upload_result(body, sent).failures == [RecordFailure(1, 512, "Bad.")]


def test_identical_echoes_match_distinct_records_in_order() -> None:
    record = {"type": "profile", "FBID": "1414", "profileData": {"Phone": "223"}}
    sent = [dict(record), dict(record)]
    item = {"status": "fail", "code": 516, "error": "Phone.", "record": dict(record)}
    body = {"status": "fail", "processed": 0, "unprocessed": [item, dict(item)]}
    assert read_upload_result(body, sent).failures == [
        RecordFailure(0, 516, "Phone."),
        RecordFailure(1, 516, "Phone."),
    ]


# --- records CleverTap did not account for ----------------------------------------------------


def _sent(count: int) -> list[dict[str, Any]]:
    return [{"type": "profile", "identity": f"u-{i}", "profileData": {}} for i in range(count)]


def _item(number: int, code: int = 515) -> dict[str, Any]:
    return {"status": "fail", "code": code, "error": f"Bad.Skipped record number : {number}"}


def test_success_has_no_failures() -> None:
    body = {"status": "success", "processed": 3, "unprocessed": []}
    result = read_upload_result(body, _sent(3))
    assert (result.status, result.processed, result.failures) == ("success", 3, [])


def test_partial_that_lists_every_refused_record_has_no_unknowns() -> None:
    body = {"status": "partial", "processed": 2, "unprocessed": [_item(2)]}
    assert read_upload_result(body, _sent(3)).failures == [
        RecordFailure(1, 515, "Bad.Skipped record number : 2")
    ]


def test_partial_with_a_short_unprocessed_list_reports_the_unlisted_as_unknown() -> None:
    body = {"status": "partial", "processed": 1, "unprocessed": [_item(3)]}
    result = read_upload_result(body, _sent(3))
    assert result.failures[0] == RecordFailure(2, 515, "Bad.Skipped record number : 3")
    unknown = result.failures[1:]
    assert [(f.index, f.code) for f in unknown] == [(0, UNKNOWN_OUTCOME), (1, UNKNOWN_OUTCOME)]
    assert all("outcome is unknown" in f.error for f in unknown)
    assert all("processed=1 for 3 records" in f.error for f in unknown)


def test_fail_with_an_empty_unprocessed_list_reports_every_record_as_unknown() -> None:
    body = {"status": "fail", "processed": 0, "unprocessed": []}
    result = read_upload_result(body, _sent(2))
    assert [(f.index, f.code) for f in result.failures] == [
        (0, UNKNOWN_OUTCOME),
        (1, UNKNOWN_OUTCOME),
    ]


def test_fail_without_processed_or_unprocessed_reports_every_record_as_unknown() -> None:
    result = read_upload_result({"status": "fail"}, _sent(2))
    assert result.processed == -1
    assert {f.index for f in result.failures} == {0, 1}
    assert {f.code for f in result.failures} == {UNKNOWN_OUTCOME}


def test_success_that_counts_fewer_records_than_sent_is_not_trusted() -> None:
    body = {"status": "success", "processed": 1, "unprocessed": []}
    result = read_upload_result(body, _sent(2))
    assert {f.index for f in result.failures} == {0, 1}
    assert {f.code for f in result.failures} == {UNKNOWN_OUTCOME}


def test_item_that_cannot_be_placed_leaves_the_records_unknown() -> None:
    body = {
        "status": "partial",
        "processed": 1,
        "unprocessed": [{"status": "fail", "code": 515, "error": "Bad."}, "junk", None],
    }
    result = read_upload_result(body, _sent(2))
    assert {f.index for f in result.failures} == {0, 1}
    assert {f.code for f in result.failures} == {UNKNOWN_OUTCOME}


def test_a_record_listed_twice_is_reported_once() -> None:
    sent = _sent(2)
    twice = [_item(2, 515), _item(2, 516)]
    result = read_upload_result({"status": "fail", "processed": 0, "unprocessed": twice}, sent)
    assert [(f.index, f.code) for f in result.failures] == [(1, 515), (0, UNKNOWN_OUTCOME)]


def test_a_repeated_number_falls_back_to_the_echoed_record() -> None:
    sent = _sent(2)
    second = {**_item(2, 516), "record": {"type": "profile", "identity": "u-0"}}
    body = {"status": "fail", "processed": 0, "unprocessed": [_item(2, 515), second]}
    assert [(f.index, f.code) for f in read_upload_result(body, sent).failures] == [
        (1, 515),
        (0, 516),
    ]
