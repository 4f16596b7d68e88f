#!/usr/bin/env bash
# Time from a dev container's start to ready, as far as this machine can play it: a fresh
# clone, a fresh HOME and image store, then the container's post-create step (the README's
# `make setup` and the tutorial's workspace with its local images). Not counted: pulling the
# dev container's base image, which this offline machine cannot reach.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git clone -q "$repo" "$work/clone"
mkdir -p "$work/home"
started=$(date +%s.%N)
HOME="$work/home" MEDPERF_LITE_HOME="$work/home/.medperf_lite" MEDPERF_LITE_IMAGES="$work/images" \
  PIP_CACHE_DIR="${PIP_CACHE_DIR:-$HOME/.cache/pip}" bash "$work/clone/.devcontainer/post-create.sh"
ended=$(date +%s.%N)
HOME="$work/home" bash -ic 'cd ~ ; medperf --help >/dev/null && test -d ~/medperf-tutorial/medperf_tutorial/col1' \
  && echo "ready: medperf on PATH, workspace laid out"
printf 'devcontainer post-create (fresh clone, fresh venv, fresh image store): %.0f s\n' "$(echo "$ended - $started" | bc)"
