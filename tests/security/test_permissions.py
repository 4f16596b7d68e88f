"""The permission matrix, generated from the rules: for every state-changing (or owner-only)
command and every seeded user, the pure rule decides whether the user may; every user it
refuses is refused by the real CLI too, with one line and a byte-identical server folder.
The visibility matrix: who sees a dataset's private fields and an experiment's plan."""

import shutil
import subprocess

import pytest
import yaml

from medperf_lite import rules, world
from medperf_lite.commands import tutorial
from medperf_lite.errors import Refused
from medperf_lite.home import Home
from tests.helpers import PORTS, cli_env, settings_for, tree_digest
from tests.scenarios.test_tutorial_sections import DO, DO2, MO, admin_setup, run_ok


def seeded_users() -> list[str]:
    return [record["email"] for table, _, record in world.seed() if table == "users"]


PARTICIPANTS = {DO: DO, DO2: DO2}
# (the CLI command, the rule it must obey, the rule's arguments)
MATRIX = [
    ("training approve -t 2", rules.decide_experiment, (2, True)),
    ("training reject -t 2", rules.decide_experiment, (2, False)),
    ("ca associate -t 1 -c 1 -y", rules.associate_ca, (1, 1)),
    ("aggregator associate -a 1 -t 1", rules.associate_aggregator, (1, 1)),
    ("training set_aggregator -t 1 -a 1", rules.associate_aggregator, (1, 1)),
    ("training set_plan -t 1 -c medperf_tutorial/training_config -y", rules.check_set_plan, (1,)),
    ("training start_event -n e -t 1 -p medperf_tutorial/cols_list.yaml -y", rules.event_participants,
     (1, PARTICIPANTS)),
    ("dataset prepare -d 1", rules.check_prepare, (1,)),
    ("dataset set_operational -d 1 -y", rules.set_operational, (1, {})),
    ("dataset associate -d 1 -t 1 -y", rules.associate_dataset, (1, 1)),
    ("association approve -t 1 -d 1", rules.decide_association, ("dataset", 1, 1, True)),
    ("association reject -t 1 -d 1", rules.decide_association, ("dataset", 1, 1, False)),
    ("training submit_job -t 1", rules.check_submit_job, (1,)),
    ("training close_event -t 1 -y", rules.check_event_owner, (1,)),
    ("training cancel_event -t 1 -r medperf_tutorial/cols_list.yaml -y", rules.check_event_owner, (1,)),
    ("training update_plan -t 1 -f num_rounds -v 4", rules.check_event_owner, (1,)),
    ("training get_experiment_status -t 1", rules.check_event_owner, (1,)),
    ("aggregator start -t 1 -p 127.0.0.1", rules.check_aggregator_start, (1,)),
    ("dataset train -d 1 -t 1 -y", rules.check_train, (1, 1)),
    ("certificate get_server_certificate -t 1", rules.read_kit, (1, "server")),
    ("certificate get_client_certificate -t 1", rules.read_kit, (1, "client")),
]


@pytest.fixture(scope="module")
def stages(tmp_path_factory):
    """'before': the tutorial up to set_plan, testdo's dataset 1 prepared, testdo's own
    experiment 2 waiting for approval; 'event': then dataset 1 operational, the event open,
    dataset 1 joined."""
    before = tmp_path_factory.mktemp("before")
    tutorial.init(Home(settings_for()), before, images=20, ports=PORTS)
    home = before / "home"
    admin_setup(home, before)
    run_ok("dataset submit -p 2 -d medperf_tutorial/col1 -l medperf_tutorial/col1 -n d1 --description d "
           "--location here -y", home, before, user=DO)
    run_ok("dataset prepare -d 1", home, before, user=DO)
    run_ok("training submit -n mine -d d -p 2 -m 3", home, before, user=DO)
    event = tmp_path_factory.mktemp("event")
    shutil.copytree(before, event, dirs_exist_ok=True)
    home = event / "home"
    run_ok("dataset set_operational -d 1 -y", home, event, user=DO)
    run_ok("training start_event -n e1 -t 1 -p medperf_tutorial/cols_list.yaml -y", home, event, user=MO)
    run_ok("dataset associate -d 1 -t 1 -y", home, event, user=DO)
    return {"before": before, "event": event}


def refused_users(state, rule, args) -> list[str]:
    out = []
    for user in seeded_users():
        try:
            rule(state, user, *args)
        except Refused:
            out.append(user)
    return out


@pytest.mark.slow  # about 300 CLI calls
@pytest.mark.parametrize("stage", ["before", "event"])
@pytest.mark.parametrize("command,rule,args", MATRIX, ids=[m[0].split(" -")[0] for m in MATRIX])
def test_every_user_the_rules_refuse_is_refused(stages, stage, command, rule, args, tmp_path):
    root = stages[stage]
    state = Home(root / "home").store.state()
    refused = refused_users(state, rule, args)
    for user in refused:
        home = tmp_path / user
        shutil.copytree(root / "home", home)
        before = tree_digest(home / "server")
        result = subprocess.run(["bash", "-c", f"medperf {command}"], env=cli_env(home, user), cwd=root,
                                capture_output=True, text=True, timeout=120, input="")
        assert result.returncode == 1, (command, user, result.stderr)
        assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1, (command, user, result.stderr)
        assert tree_digest(home / "server") == before, (command, user, "the server folder changed")


def test_the_matrix_refuses_someone_at_every_command(stages):
    """Every command of the matrix is refused to someone at some stage (a matrix that refuses
    nobody tests nothing)."""
    for command, rule, args in MATRIX:
        assert any(refused_users(Home(stages[s] / "home").store.state(), rule, args) for s in stages), command


VISIBILITY = [  # (viewer, stage, sees dataset 1's private fields, sees experiment 1's plan)
    (DO, "before", True, False),
    (DO2, "before", False, False),
    (MO, "before", False, True),
    ("testao@example.com", "before", False, False),
    (DO, "event", True, True),
    (DO2, "event", False, True),  # a participant of the event sees the plan
    (MO, "event", True, True),  # dataset 1 joined MO's experiment
    ("testbo@example.com", "event", False, False),
]


@pytest.mark.parametrize("viewer,stage,sees_dataset,sees_plan", VISIBILITY)
def test_visibility_matrix(stages, viewer, stage, sees_dataset, sees_plan):
    root = stages[stage]
    dataset = yaml.safe_load(run_ok("dataset view 1", root / "home", root, user=viewer))
    for field in ("statistics", "data_hash", "location"):
        assert (dataset[field] != "(hidden)") == sees_dataset, (viewer, stage, field)
    plan = yaml.safe_load(run_ok("training view 1", root / "home", root, user=viewer))["plan"]
    assert (plan != "(hidden)") == sees_plan, (viewer, stage)
