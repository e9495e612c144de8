"""Delivery through the real target against a scripted upload endpoint."""

from __future__ import annotations

from typing import Any

import pytest

from tests import singer
from tests.upload_api import PASSCODE, UploadApi, rejected_lines


def partial(failing: dict[int, tuple[int, str]]) -> Any:
    """A CleverTap answer refusing the given 1-based record numbers, as CleverTap words it."""

    def respond(records: list[dict[str, Any]]) -> tuple[int, Any]:
        unprocessed = [
            {
                "status": "fail",
                "code": code,
                "error": f"{text}Skipped record number : {n}",
                "record": records[n - 1],
            }
            for n, (code, text) in failing.items()
        ]
        status = "partial" if len(failing) < len(records) else "fail"
        return 200, {
            "status": status,
            "processed": len(records) - len(failing),
            "unprocessed": unprocessed,
        }

    return respond


def status(code: int, body: Any = None) -> Any:
    return lambda records: (
        code,
        body if body is not None else {"status": "fail", "error": "x", "code": code},
    )


def test_batches_hold_at_most_1000_records(
    upload_api: UploadApi, config: dict, run_target: Any
) -> None:
    result = run_target(
        config,
        singer.lines(singer.schema("users", singer.PROFILE_SCHEMA), singer.profiles("users", 2500)),
    )

    assert result.exit_code == 0
    assert sorted(len(body) for body in upload_api.bodies) == [500, 1000, 1000]
    sent = sorted(r["identity"] for body in upload_api.bodies for r in body)
    assert sent == sorted(f"u{i}" for i in range(2500))


def test_batch_size_rows_is_clamped_to_cleverTaps_limit(
    upload_api: UploadApi, config: dict, run_target: Any
) -> None:
    config["batch_size_rows"] = 5000
    run_target(
        config,
        singer.lines(singer.schema("users", singer.PROFILE_SCHEMA), singer.profiles("users", 1001)),
    )

    assert sorted(len(body) for body in upload_api.bodies) == [1, 1000]


def test_request_carries_credentials_and_the_d_envelope(
    upload_api: UploadApi, config: dict, run_target: Any
) -> None:
    run_target(
        config,
        singer.lines(singer.schema("users", singer.PROFILE_SCHEMA), singer.profiles("users", 1)),
    )

    request = upload_api.requests[0]
    assert request.headers["X-CleverTap-Account-Id"] == "acc-1"
    assert request.headers["X-CleverTap-Passcode"] == PASSCODE
    assert request.headers["Content-Type"] == "application/json; charset=utf-8"
    assert upload_api.bodies == [
        [
            {
                "type": "profile",
                "identity": "u0",
                "profileData": {"Name": "User 0", "Email": "u0@example.com"},
            }
        ]
    ]


def test_partial_answer_rejects_exactly_the_refused_records(
    upload_api: UploadApi, config: dict, run_target: Any
) -> None:
    upload_api.script = [
        partial(
            {2: (515, "Profile data is incorrect. Email is not valid."), 4: (516, "Phone bad. ")}
        )
    ]

    result = run_target(
        config,
        singer.users_then_state(5, {"n": 5}),
    )

    assert result.exit_code == 0
    rejected = rejected_lines(config)
    assert [(r["record"]["identity"], r["code"], r["source"]) for r in rejected] == [
        ("u1", 515, "clevertap"),
        ("u3", 516, "clevertap"),
    ]
    assert rejected[0]["payload"]["profileData"]["Email"] == "u1@example.com"
    assert (
        rejected[0]["error"]
        == "Profile data is incorrect. Email is not valid.Skipped record number : 2"
    )
    assert len(upload_api.requests) == 1, "a partial answer must never resend the batch"
    assert result.states == [{"n": 5}]


def test_text_a_request_cannot_carry_rejects_that_record_and_the_rest_are_sent(
    upload_api: UploadApi, config: dict, run_target: Any
) -> None:
    upload_api.script = [partial({3: (515, "Email is not valid. ")})]
    users = singer.profiles("users", 5)
    users[1] = singer.record("users", {"identity": "u1", "name": "half \ud800 a pair"})
    singer_input = singer.lines(
        singer.schema("users", singer.PROFILE_SCHEMA), users, singer.state({"n": 5})
    )

    result = run_target(config, singer_input)

    assert result.exit_code == 0
    (body,) = upload_api.bodies
    assert [r["identity"] for r in body] == ["u0", "u2", "u3", "u4"]
    rejected = rejected_lines(config)
    assert [(r["record"]["identity"], r["code"], r["source"]) for r in rejected] == [
        ("u3", 515, "clevertap"),  # the 3rd record sent is the 4th read
        ("u1", "text_invalid", "local"),
    ]
    assert rejected[1]["record"]["name"] == "half \ud800 a pair"
    assert result.states == [{"n": 5}]


@pytest.mark.parametrize("transient", [429, 500, 502, 503, 504])
def test_transient_status_is_retried_then_delivered(
    upload_api: UploadApi, config: dict, run_target: Any, transient: int
) -> None:
    upload_api.script = [
        status(transient),
        status(transient, "<html><body>Bad gateway</body></html>"),
    ]

    result = run_target(
        config,
        singer.users_then_state(3, {"n": 3}),
    )

    assert result.exit_code == 0
    assert len(upload_api.requests) == 3
    assert upload_api.bodies[0] == upload_api.bodies[2]
    assert result.states == [{"n": 3}]


def test_retries_exhausted_fails_the_run_and_writes_no_state_past_it(
    upload_api: UploadApi, config: dict, run_target: Any
) -> None:
    config["max_retries"] = 2
    upload_api.default = status(503)

    result = run_target(
        config,
        singer.users_then_state(3, {"n": 3}),
    )

    assert result.exit_code == 1
    assert len(upload_api.requests) == 3
    assert result.states == []
    assert "Stream 'users': a batch of 3 records could not be delivered: HTTP 503" in result.log
    assert "gave up after 3 attempts" in result.log


def test_unauthorised_fails_at_once_without_showing_the_passcode(
    upload_api: UploadApi, config: dict, run_target: Any
) -> None:
    upload_api.default = status(
        401, {"status": "fail", "error": "Account ID is not valid", "code": 401}
    )

    result = run_target(
        config,
        singer.lines(singer.schema("users", singer.PROFILE_SCHEMA), singer.profiles("users", 3)),
    )

    assert result.exit_code == 1
    assert len(upload_api.requests) == 1
    assert "account 'acc-1'" in result.log
    assert "region" in result.log
    assert PASSCODE not in result.log


def test_whole_batch_refused_as_malformed_is_split_down_to_the_culprit(
    upload_api: UploadApi, config: dict, run_target: Any
) -> None:
    def refuse_u5(records: list[dict[str, Any]]) -> tuple[int, Any]:
        if any(r["identity"] == "u5" for r in records):
            return 400, {"status": "fail", "error": "Malformed request", "code": 400}
        return 200, {"status": "success", "processed": len(records), "unprocessed": []}

    upload_api.default = refuse_u5

    result = run_target(
        config,
        singer.users_then_state(8, {"n": 8}),
    )

    assert result.exit_code == 0
    delivered = {
        r["identity"]
        for status_body in upload_api.bodies
        if "u5" not in {x["identity"] for x in status_body}
        for r in status_body
    }
    assert delivered == {f"u{i}" for i in range(8)} - {"u5"}
    assert [(r["record"]["identity"], r["code"]) for r in rejected_lines(config)] == [("u5", 400)]
    assert result.states == [{"n": 8}]


def test_dry_run_sends_with_dry_run_flag_and_writes_no_state(
    upload_api: UploadApi, config: dict, run_target: Any
) -> None:
    config["dry_run"] = True

    result = run_target(
        config,
        singer.users_then_state(2, {"n": 2}),
    )

    assert result.exit_code == 0
    assert upload_api.requests[0].qs == {"dryrun": ["1"]}
    assert result.states == []


def test_fail_on_rejected_turns_rejections_into_a_failed_run(
    upload_api: UploadApi, config: dict, run_target: Any
) -> None:
    config["fail_on_rejected"] = True
    bad = singer.record("users", {"identity": "u9", "email": "not-an-email"})

    result = run_target(
        config,
        singer.lines(
            singer.schema("users", singer.PROFILE_SCHEMA),
            singer.profiles("users", 2),
            bad,
            singer.state({"n": 3}),
        ),
    )

    assert result.exit_code == 1
    assert "1 records were rejected" in result.log
    assert result.states == [{"n": 3}], (
        "state is still safe: every record was delivered or rejected"
    )


def test_redirect_is_not_followed_with_the_credentials(
    upload_api: UploadApi, config: dict, run_target: Any
) -> None:
    def redirect(records: list[dict[str, Any]]) -> tuple[int, Any]:
        return 302, {"status": "moved"}

    upload_api.default = redirect

    result = run_target(config, singer.users_then_state(2, {"n": 2}))

    assert result.exit_code == 1
    assert len(upload_api.requests) == 1
    assert "redirect (HTTP 302)" in result.log
    assert result.states == []
