"""The peer Singer target, `target-jsonl` from PyPI, in its own venv (it pins old libraries)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PEER_PACKAGE = "target-jsonl==0.1.4"
PEER_VENV = Path(__file__).resolve().parent / ".venv-peers"
INSTALL_SECONDS = 600


def peer_executable() -> Path:
    """Where `target-jsonl` lives once installed."""
    return PEER_VENV / "bin" / "target-jsonl"


def ensure_peer() -> Path | None:
    """Install `target-jsonl` into benchmarks/.venv-peers once; None (and why) if that fails."""
    executable = peer_executable()
    if executable.exists():
        return executable
    print(f"Installing {PEER_PACKAGE} into {PEER_VENV} ...", file=sys.stderr)
    steps = [
        [sys.executable, "-m", "venv", "--clear", str(PEER_VENV)],
        [str(PEER_VENV / "bin" / "pip"), "install", "--quiet", PEER_PACKAGE],
    ]
    for step in steps:
        try:
            subprocess.run(step, check=True, timeout=INSTALL_SECONDS)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
            print(f"Could not install the peer target ({exc}); skipping it.", file=sys.stderr)
            return None
    return executable


def peer_versions() -> str:
    """`target-jsonl 0.1.4 (singer-python 5.8.0, jsonschema 2.6.0)`, or why it is missing."""
    python = PEER_VENV / "bin" / "python"
    if not python.exists():
        return "target-jsonl not installed"
    code = (
        "from importlib.metadata import version as v; "
        "print(f\"target-jsonl {v('target-jsonl')} (singer-python {v('singer-python')}, "
        "jsonschema {v('jsonschema')})\")"
    )
    done = subprocess.run(
        [str(python), "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    return done.stdout.strip() or "target-jsonl version unknown"
