"""The test command fails on a skip without a named reason (tests/skip_policy.py), in a pytest
session of its own."""

from __future__ import annotations

import pytest

from tests.skip_policy import skip_reason

NAMED = skip_reason("postgresql-unavailable", "initdb not found")


def _run(pytester: pytest.Pytester, source: str) -> pytest.RunResult:
    pytester.makepyfile(test_example=source)
    # The other plugins of the environment play no part; left out, each session takes far less.
    quiet = ["-p", "no:hypothesispytest", "-p", "no:singer_testing", "-p", "no:requests_mock"]
    return pytester.runpytest("-p", "tests.skip_policy", *quiet)


def test_a_skip_with_a_named_reason_passes(pytester: pytest.Pytester) -> None:
    result = _run(
        pytester,
        f"""
import pytest

def test_one():
    pytest.skip({NAMED!r})

@pytest.mark.skip(reason={NAMED!r})
def test_two():
    pass

def test_three():
    pass
""",
    )

    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=1, skipped=2)
    assert "without a named reason" not in result.stdout.str()


@pytest.mark.parametrize(
    ("source", "shown"),
    [
        (
            "import pytest\n\ndef test_it():\n    pytest.skip('the data is elsewhere')\n",
            "elsewhere",
        ),
        (
            "import pytest\n\n@pytest.mark.skip\ndef test_it():\n    pass\n",
            "unconditional skip",
        ),
        (
            "import pytest\n\n@pytest.mark.skip(reason='nope: no such name')\n"
            "def test_it():\n    pass\n",
            "nope: no such name",
        ),
        (
            "import pytest\n\npytest.skip('no files', allow_module_level=True)\n\n"
            "def test_it():\n    pass\n",
            "no files",
        ),
        (
            "import pytest\n\n@pytest.mark.parametrize('x', [])\ndef test_it(x):\n    pass\n",
            "got empty parameter set",
        ),
        ("import pytest\n\npytest.importorskip('no_such_module_here')\n", "could not import"),
    ],
    ids=["free-text", "bare-mark", "unknown-name", "module-level", "empty-parametrize", "import"],
)
def test_a_skip_without_a_named_reason_fails_the_run(
    pytester: pytest.Pytester, source: str, shown: str
) -> None:
    result = _run(pytester, source)

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    summary = result.stdout.str()
    assert "skipped without a named reason (this fails the run)" in summary
    assert shown in summary.split("skipped without a named reason")[1]


def test_a_failing_run_keeps_its_failure(pytester: pytest.Pytester) -> None:
    result = _run(
        pytester,
        "import pytest\n\ndef test_a():\n    pytest.skip('x')\n\ndef test_b():\n    assert 0\n",
    )

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(failed=1, skipped=1)


def test_an_unknown_name_cannot_be_written() -> None:
    with pytest.raises(ValueError, match="not a named skip reason"):
        skip_reason("whatever", "detail")
