"""The live page's federation picture, from the server's records and the roles' milestones:
every site of any number, its state, and the links of the step in progress."""

from medperf_lite.simulator import picture


def world(n_sites: int, progress=None, failures=(), status="OPEN") -> dict:
    users = {1: {"email": "testmo@example.com"}, **{i + 2: {"email": f"site{i}@example.com"} for i in range(n_sites)}}
    state = {
        "users": users,
        "experiments": {1: {"name": "trainexp", "owner": 1, "state": "OPERATION", "plan": {"num_rounds": 3},
                            "flow": "nvflare"}},
        "aggregators": {1: {"name": "agg", "owner": 1, "address": "127.0.0.1", "fl_port": 8102}},
        "associations": {1: {"kind": "aggregator", "entity": 1, "experiment": 1, "status": "APPROVED", "owner": 1}},
        "datasets": {},
        "events": {1: {"name": "event1", "experiment": 1, "status": status, "failures": list(failures),
                       "participants": {f"site{i}@example.com": f"site{i}@example.com" for i in range(n_sites)},
                       "progress": progress, "report": None}},
    }
    return state


def states(picture_data):
    return {n["id"]: n["state"] for n in picture_data["nodes"]}


def test_many_sites_each_with_its_state_and_the_rounds_links_light():
    progress = {"num_rounds": 3, "rounds_done": 1, "sites_connected": ["site0@example.com", "site1@example.com"],
                "job": {"id": "j", "status": "RUNNING"}}
    roles = [{"command": "dataset train", "user": "site0@example.com", "log": ["x", "training node: round 1 of 3 sent"]},
             {"command": "aggregator start", "user": "testmo@example.com", "log": ["aggregator: round 1 of 3 done"]}]
    data = picture.federation(world(5, progress), roles, {"command": None})
    found = states(data)
    assert len(data["nodes"]) == 3 + 5
    assert found["aggregator"] == "training" and found["admin"] == "done"
    assert found["site:site0@example.com"] == found["site:site1@example.com"] == "training"
    assert found["site:site4@example.com"] == "not started"
    by_id = {n["id"]: n for n in data["nodes"]}
    assert by_id["site:site0@example.com"]["milestone"] == "round 1 of 3 sent"
    assert by_id["aggregator"]["milestone"] == "round 1 of 3 done"
    rounds = [link for link in data["links"] if link["kind"] == "round"]
    assert len(rounds) == 5 and all(link["active"] for link in rounds)
    assert data["rounds"] == {"done": 1, "total": 3}


def test_a_failed_site_is_red_with_its_diagnosis_and_submit_job_lights_the_admin():
    failure = {"role": "training node", "site": "site1@example.com", "text": "NameError: x (at custom/train.py:5)"}
    data = picture.federation(world(2, {"sites_connected": ["site0@example.com"]}, [failure]), [],
                              {"command": "training submit_job"})
    by_id = {n["id"]: n for n in data["nodes"]}
    assert by_id["site:site1@example.com"]["state"] == "failed"
    assert "NameError: x" in by_id["site:site1@example.com"]["milestone"]
    assert by_id["site:site0@example.com"]["state"] == "waiting"
    assert [link["active"] for link in data["links"] if link["kind"] == "job"] == [True]


def test_hostile_progress_is_typed_and_a_closed_event_is_done():
    data = picture.federation(world(1, {"rounds_done": "3<script>", "sites_connected": "all", "job": "x"},
                                    status="FINISHED"), [])
    assert states(data)["site:site0@example.com"] == "done" and data["rounds"] == {"done": 0, "total": 3}


def test_no_experiment_yet_is_only_the_server():
    data = picture.federation({"experiments": {}, "users": {}}, [])
    assert [n["id"] for n in data["nodes"]] == ["server"] and data["links"] == []
    assert [t["table"] for t in picture.records({})] == ["experiments", "containers", "aggregators", "datasets",
                                                           "associations", "events"]


def test_sites_are_matched_by_their_kits_site_name():
    """The FL framework names sites as their kits do (col1): the kit record maps it to the e-mail."""
    state = world(2, {"sites_connected": ["col1"], "job": {"id": "j"}, "rounds_done": 1, "num_rounds": 3})
    state["kits"] = {1: {"experiment": 1, "role": "client", "email": "site0@example.com", "site": "col1"}}
    data = picture.federation(state, [])
    by_id = {n["id"]: n for n in data["nodes"]}
    assert by_id["site:site0@example.com"]["state"] == "training" and by_id["site:site0@example.com"]["label"] == "site col1"
    assert by_id["site:site1@example.com"]["state"] == "not started"
