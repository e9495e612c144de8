"""A pytest plugin: the run fails when a test is skipped without an explicit, named reason.

A skip is explained when its reason starts with a name listed in `NAMED_SKIPS` and a colon, as
`skip_reason` writes it: "postgresql-unavailable: initdb not found". Every other skip fails the run,
listed at the end: a bare `@pytest.mark.skip` ("unconditional skip"), pytest's own skips
(`importorskip`'s "could not import ...", an empty parametrize), and free-text reasons. So a test
that quietly stops running because something it needs moved away turns the run red, not yellow.
A new named reason is added here, with the one situation it covers, in review.
"""

from __future__ import annotations

import pytest

NAMED_SKIPS = {
    "postgresql-unavailable": (
        "PostgreSQL's server binaries (initdb, pg_ctl, postgres) are not installed, or, as root, "
        "there is no 'postgres' OS user to run them as: the end-to-end tests that need a database "
        "cannot run. CI installs them (.ci/run)."
    ),
}


def skip_reason(name: str, detail: str) -> str:
    """The reason a test gives to `pytest.skip`: a name from `NAMED_SKIPS`, then the detail."""
    if name not in NAMED_SKIPS:
        raise ValueError(f"{name!r} is not a named skip reason; add it to NAMED_SKIPS")
    return f"{name}: {detail}"


def is_explained(reason: str) -> bool:
    name, colon, _ = reason.partition(":")
    return bool(colon) and name in NAMED_SKIPS


class SkipPolicy:
    """Notes every skip without a named reason, fails the session and lists them."""

    def __init__(self) -> None:
        self.unexplained: list[str] = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self._note(report)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        self._note(report)  # a module skipped as a whole

    def _note(self, report: pytest.TestReport | pytest.CollectReport) -> None:
        if not report.skipped or hasattr(report, "wasxfail"):
            return
        reason = _reason_of(report)
        if not is_explained(reason):
            self.unexplained.append(f"{report.nodeid}: {reason}")

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        passing = (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED)
        if self.unexplained and session.exitstatus in passing:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if not self.unexplained:
            return
        terminalreporter.section("skipped without a named reason (this fails the run)", red=True)
        for line in self.unexplained:
            terminalreporter.write_line(line)
        terminalreporter.write_line(
            f"A skip must give tests.skip_policy.skip_reason(name, detail), name one of: "
            f"{', '.join(NAMED_SKIPS)}."
        )


def _reason_of(report: pytest.TestReport | pytest.CollectReport) -> str:
    longrepr = report.longrepr
    text = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    return text.removeprefix("Skipped: ")


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(SkipPolicy(), "skip-policy")
