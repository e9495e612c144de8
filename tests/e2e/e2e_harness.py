"""One test's world: its sandbox process, rejects file and Meltano system database."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from e2e_meltano import Meltano
from e2e_samples import REPO_ROOT, Row
from e2e_sandbox import ACCOUNT_ID, PASSCODE, SandboxProcess, Stored

# Few, immediate retries keep the failing-run test quick. Whole numbers: Meltano 4.4 cannot pass
# a fractional setting from an env var (see meltano.yml).
FAST_RETRIES = {"max_retries": 2, "retry_backoff_seconds": 0, "request_timeout": 10}


def loader_config_in_meltano_yml() -> dict[str, Any]:
    project = yaml.safe_load((REPO_ROOT / "meltano.yml").read_text())
    (loader,) = (p for p in project["plugins"]["loaders"] if p["name"] == "target-clevertap")
    return dict(loader["config"])


@dataclass
class Harness:
    """One test's sandbox, rejects file and Meltano system database, all under tmp_path."""

    tmp_path: Path
    sandbox: SandboxProcess
    base_meltano: Meltano
    started: list[SandboxProcess] = field(default_factory=list)

    @property
    def rejects_file(self) -> Path:
        return self.tmp_path / "rejected_records.jsonl"

    @property
    def meltano(self) -> Meltano:
        settings = {f"TARGET_CLEVERTAP_{k.upper()}": str(v) for k, v in FAST_RETRIES.items()}
        return self.base_meltano.with_env(
            MELTANO_DATABASE_URI=f"sqlite:///{self.tmp_path / 'meltano.db'}",
            CLEVERTAP_SANDBOX_PORT=str(self.sandbox.port),
            TARGET_CLEVERTAP_REJECTED_RECORDS_PATH=str(self.rejects_file),
            **settings,
        )

    def restart_sandbox(self, **faults: str | None) -> None:
        self.sandbox = self.sandbox.restarted(**faults)
        self.started.append(self.sandbox)

    def stored(self) -> Stored:
        return Stored.read(self.sandbox.db)

    def rejected(self) -> list[Row]:
        if not self.rejects_file.exists():
            return []
        lines = self.rejects_file.read_text().splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def target_config(self) -> dict[str, Any]:
        """meltano.yml's loader config for the sandbox, as a plain config.json."""
        return {
            **loader_config_in_meltano_yml(),
            **FAST_RETRIES,
            "retry_backoff_seconds": 0.05,  # a fraction: singer-sdk reads it as a Decimal
            "account_id": ACCOUNT_ID,
            "passcode": PASSCODE,
            "api_url": self.sandbox.url,
            "rejected_records_path": str(self.rejects_file),
        }

    def stop(self) -> None:
        for process in self.started:
            process.stop()
