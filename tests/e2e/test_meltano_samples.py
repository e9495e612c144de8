"""`meltano run` of the repository's own project: the sample files into the sandbox."""

from __future__ import annotations

import pytest
from e2e_checks import assert_events, assert_profiles, assert_rejected
from e2e_harness import Harness
from e2e_meltano import last_state, state_id
from e2e_samples import sample_erasures, sample_events, sample_users, split_events, split_users

pytestmark = pytest.mark.e2e

SAMPLE_JOB = "samples-to-clevertap"
SAMPLE_TAPS = ("tap-samples-users", "tap-samples-events", "tap-samples-erasures")


def test_meltano_job_loads_samples_and_stores_the_taps_bookmarks(harness: Harness) -> None:
    meltano = harness.meltano

    finished = meltano.run(SAMPLE_JOB)

    assert finished.returncode == 0, finished.explain()
    users, events = split_users(sample_users()), split_events(sample_events())
    erased = sample_erasures()
    stored = harness.stored()
    assert_profiles(stored, [row for row in users.good if row["id"] not in erased])
    assert_events(stored, [row for row in events.good if row["user_id"] not in erased])
    assert stored.deleted == erased
    assert_rejected(harness.rejected(), users.bad, events.bad)
    for tap in SAMPLE_TAPS:
        bookmark = last_state(meltano.check("invoke", tap).stdout)
        assert meltano.state(state_id(tap)) == {"singer_state": bookmark}, tap
