"""The pytest plugin, used as another project's suite would: a test file outside this
repository, run by pytest in a subprocess, with the plugin loaded from its entry point."""

import shutil
import xml.etree.ElementTree as ET

from medperf_lite.files import FIXTURES

OUTSIDE_SUITE = '''
import pathlib

def test_cli_acts_as_the_given_user(medperf_cli):
    assert medperf_cli("auth status", user="testdo@example.com").stdout.strip() == "testdo@example.com"
    refused = medperf_cli.as_user("testdo@example.com")("dataset prepare -d 42")
    assert refused.exit_code != 0 and refused.stderr.startswith("Error:")

def test_my_prep_passes_the_data_owner_steps(medperf_scenario):
    report = medperf_scenario("data_owners", containers={"prep": "my_prep"})
    assert [c["name"] for c in report["steps"] if c["kind"] == "check"] == [
        "testdo@example.com's dataset operational", "testdo2@example.com's dataset operational"]

def test_my_broken_prep(medperf_scenario):
    medperf_scenario("data_owners", containers={"prep": "broken_prep"})
'''


def test_an_outside_suite_uses_the_fixtures(pytester):
    for name in ("my_prep", "broken_prep"):
        shutil.copytree(FIXTURES / "containers" / "chestxray_prep", pytester.path / name,
                        ignore=shutil.ignore_patterns("__pycache__"))
    prep = pytester.path / "broken_prep" / "project" / "prep.py"
    broken = "def main() -> int:\n    raise SystemExit('prep broke on purpose')\n\n\ndef _main() -> int:"
    prep.write_text(prep.read_text().replace("def main() -> int:", broken, 1))
    pytester.makepyfile(test_outside=OUTSIDE_SUITE)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--junitxml=junit.xml")
    result.assert_outcomes(passed=2, failed=1)
    (case,) = [c for c in ET.parse(pytester.path / "junit.xml").iter("testcase") if c.find("failure") is not None]
    failure = case.find("failure")
    assert case.get("name") == "test_my_broken_prep"
    message = failure.get("message") + failure.text
    assert "failed at step" in message and "prepares and joins" in message, message
    assert "prep broke on purpose" in message, message  # the role's log tail
