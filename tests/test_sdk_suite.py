"""singer-sdk's standard target tests, against a local stand-in for the upload endpoint."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests_mock as rm
from singer_sdk.testing import get_target_test_class

from target_clevertap.target import TargetClevertap
from tests.upload_api import API_URL, PASSCODE, UPLOAD_URL, UploadApi

StandardTargetTests = get_target_test_class(
    TargetClevertap,
    config={
        "account_id": "acc-1",
        "passcode": PASSCODE,
        "api_url": API_URL,
        "retry_backoff_seconds": 0,
        "streams": {"*": {"type": "profile", "identity_field": "id"}},
    },
)


class TestTargetClevertap(StandardTargetTests):  # type: ignore[misc,valid-type]
    """The SDK's suite; every stream is read as profiles keyed by `id`."""

    @pytest.fixture(autouse=True)
    def _upload_api(self) -> Iterator[UploadApi]:
        api = UploadApi()
        with rm.Mocker() as mocker:
            mocker.post(UPLOAD_URL, text=api.answer)
            yield api
