"""medperf-lite: a single-host simulator of MedPerf's federated training with NVIDIA FLARE."""

__version__ = "0.1.0"
