"""The HTTP client reads proxies and the CA bundle from the environment once, as requests would."""

from __future__ import annotations

import logging

import pytest
import requests_mock

from target_clevertap.client import UploadClient
from target_clevertap.config import Settings
from target_clevertap.lanes import UPLOADS

URL = "https://api.clevertap.com"


def client() -> UploadClient:
    settings = Settings(account_id="acc", passcode="secret", base_url=URL, max_retries=0)
    return UploadClient(settings, logging.getLogger("test"))


def upload_and_get_request(monkeypatch: pytest.MonkeyPatch, **env: str) -> requests_mock.Mocker:
    for name in ("HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy", "REQUESTS_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    sender = client()
    with requests_mock.Mocker() as mock:
        mock.post(f"{URL}/1/upload", json={"status": "success", "processed": 1, "unprocessed": []})
        sender.send(UPLOADS, [{"type": "profile", "identity": "u1", "profileData": {}}], "users")
        return mock


def test_a_proxy_from_the_environment_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    mock = upload_and_get_request(monkeypatch, HTTPS_PROXY="http://proxy.internal:3128")
    assert mock.last_request is not None
    assert mock.last_request.proxies.get("https") == "http://proxy.internal:3128"


def test_no_proxy_exempts_the_host(monkeypatch: pytest.MonkeyPatch) -> None:
    mock = upload_and_get_request(
        monkeypatch, HTTPS_PROXY="http://proxy.internal:3128", NO_PROXY="clevertap.com"
    )
    assert mock.last_request is not None
    assert not mock.last_request.proxies.get("https")


def test_a_ca_bundle_from_the_environment_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    mock = upload_and_get_request(monkeypatch, REQUESTS_CA_BUNDLE="/etc/ssl/corporate.pem")
    assert mock.last_request is not None
    assert mock.last_request.verify == "/etc/ssl/corporate.pem"
