#!/usr/bin/env bash
# Runs conformance.py (netapp-ontap and proxmoxer against pve-ontap-sim) in a virtualenv under target/,
# then prometheus_textfile.py (the tool's `status --format prometheus` through prometheus-client's parser).
# Usage: tests/conformance/run.sh [path/to/pve-ontap-sim [path/to/pve-ontap-snapshot]]
#        (default: builds both into target/debug)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
venv="$root/target/conformance-venv"
sim=${1:-}
tool=${2:-}
if [ -z "$sim" ]; then
    cargo build --quiet -p pve-ontap-sim --manifest-path "$root/Cargo.toml"
    sim="$root/target/debug/pve-ontap-sim"
fi
if [ -z "$tool" ]; then
    cargo build --quiet -p pve-ontap-snapshot --manifest-path "$root/Cargo.toml"
    tool="$root/target/debug/pve-ontap-snapshot"
fi
req="$root/tests/conformance/requirements.txt"
if [ ! -x "$venv/bin/python" ] || ! cmp -s "$req" "$venv/requirements.txt"; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req"
    cp "$req" "$venv/requirements.txt"
fi
fifo=$(mktemp -u)
mkfifo "$fifo"
"$sim" >"$fifo" &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -f "$fifo"' EXIT
PVE_ONTAP_SIM="$sim" "$venv/bin/python" "$root/tests/conformance/conformance.py" <"$fifo"
kill $pid 2>/dev/null || true
wait $pid 2>/dev/null || true

# The Prometheus textfile of `status`, parsed by the official client library.
work=$(mktemp -d)
"$sim" --write-config "$work/config.ini" >"$fifo" &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -f "$fifo"; rm -rf "$work"' EXIT
"$venv/bin/python" "$root/tests/conformance/prometheus_textfile.py" "$tool" "$work" <"$fifo"
