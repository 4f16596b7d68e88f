from medperf_lite.cli.common import add_ls_view, group

app = group("event", "Training events: their participants, progress and final report.")
add_ls_view(app, "event")
