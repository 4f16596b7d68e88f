#!/usr/bin/env bash
# The dev container's one set-up step: the README's setup, then the tutorial's workspace.
# Timed on a fresh clone by bench/devcontainer_ready.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
started=$(date +%s)
make setup
tutorial=${MEDPERF_TUTORIAL_DIR:-$HOME/medperf-tutorial}
# ports 8102/8103 as the tutorial uses them; images for the local runner built once here
"$repo/.venv/bin/medperf-lite" tutorial init "$tutorial" --ports 8102,8103
if ! grep -q "medperf-lite dev container" "$HOME/.bashrc" 2>/dev/null; then
  cat >> "$HOME/.bashrc" <<RC
# medperf-lite dev container: the tools on PATH, terminals open in the tutorial's folder
export PATH="$repo/.venv/bin:\$PATH"
[ "\$PWD" = "$repo" ] && cd "$tutorial"
RC
fi
echo "dev container ready in $(( $(date +%s) - started )) s: tutorial workspace in $tutorial"
