"""Package data: the shipped scenarios (read with importlib.resources as medperf_lite.scenarios)."""
