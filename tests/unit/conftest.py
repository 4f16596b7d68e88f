import pytest

from medperf_lite import rules, world


@pytest.fixture
def state():
    """The server's seeded world, as the rules see it (the rules' tests, both flows)."""
    s = {t: {} for t in rules.TABLES}
    for table, i, record in world.seed():
        s[table][i] = record
    return s
