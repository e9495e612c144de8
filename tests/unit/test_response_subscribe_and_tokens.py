"""read_upload_result on answers to subscribe requests (shape undocumented: read defensively) and
to token uploads (the batch envelope)."""

from __future__ import annotations

from typing import Any

import pytest

from target_clevertap.response import UNKNOWN_OUTCOME, RecordFailure, read_upload_result

SENT = [
    {"type": "email", "value": "a@example.com", "status": "Unsubscribe"},
    {"type": "phone", "value": "+14155550100", "status": "Resubscribe"},
    {"type": "email", "value": "c@example.com", "status": "Unsubscribe"},
]
TOKENS = [
    {"type": "token", "objectId": "__g1", "tokenData": {"id": "t1", "type": "fcm"}},
    {"type": "token", "objectId": "__g1", "tokenData": {"id": "t2", "type": "fcm"}},
]


def failures(answer: dict[str, Any], sent: list[dict[str, Any]] = SENT) -> list[RecordFailure]:
    return read_upload_result(answer, sent).failures


@pytest.mark.parametrize("answer", [{"status": "success"}, {"status": "success", "processed": 3}])
def test_a_plain_success_delivers_every_record(answer: dict[str, Any]) -> None:
    assert failures(answer) == []


def test_a_partial_answer_listing_its_refusals_and_counting_the_rest_is_read_per_record() -> None:
    answer = {
        "status": "partial",
        "processed": 2,
        "unprocessed": [{"code": 512, "error": "Invalid phone. Skipped record number : 2"}],
    }
    assert failures(answer) == [RecordFailure(1, 512, "Invalid phone. Skipped record number : 2")]


def test_a_refusal_echoing_the_record_is_matched_by_channel_and_address() -> None:
    echoed = {"type": "email", "value": "c@example.com", "status": "Unsubscribe"}
    answer = {
        "status": "partial",
        "processed": 2,
        "unprocessed": [{"code": 400, "error": "Invalid email", "record": echoed}],
    }
    assert failures(answer) == [RecordFailure(2, 400, "Invalid email")]


@pytest.mark.parametrize(
    "answer",
    [
        {"status": "partial"},  # no per-record errors at all
        {"status": "partial", "errors": ["something about record 2"]},  # a shape not read
        {"status": "partial", "unprocessed": [{"error": "Invalid"}]},  # not placeable
        {"status": "fail", "error": "Bad request"},
        {},
    ],
)
def test_a_record_an_unclear_answer_does_not_account_for_has_an_unknown_outcome(
    answer: dict[str, Any],
) -> None:
    assert [(f.index, f.code) for f in failures(answer)] == [
        (0, UNKNOWN_OUTCOME),
        (1, UNKNOWN_OUTCOME),
        (2, UNKNOWN_OUTCOME),
    ]


def test_a_partial_answer_placing_one_refusal_leaves_the_others_unknown_without_a_count() -> None:
    answer = {
        "status": "partial",
        "unprocessed": [{"code": 1, "error": "Skipped record number : 1"}],
    }
    assert [(f.index, f.code) for f in failures(answer)] == [
        (0, 1),
        (1, UNKNOWN_OUTCOME),
        (2, UNKNOWN_OUTCOME),
    ]


def test_a_token_refusal_echoing_its_record_is_matched_by_its_token_not_only_its_user() -> None:
    echoed = {"type": "token", "objectId": "__g1", "tokenData": {"id": "t2", "type": "fcm"}}
    answer = {
        "status": "partial",
        "processed": 1,
        "unprocessed": [{"code": 531, "error": "invalid token data", "record": echoed}],
    }
    assert failures(answer, TOKENS) == [RecordFailure(1, 531, "invalid token data")]
