#!/usr/bin/env bash
# A short tour of pve-ontap-snapshot against the simulator (no ONTAP or Proxmox needed).
# Usage: examples/demo.sh [DIR with pve-ontap-snapshot and pve-ontap-sim]  (make demo builds them first)
set -euo pipefail
bin=${1:-target/release}
tool="$bin/pve-ontap-snapshot"
work=$(mktemp -d)
cfg="$work/config.ini"
"$bin/pve-ontap-sim" --write-config "$cfg" >"$work/ready" &
sim=$!
trap 'kill $sim 2>/dev/null || true; wait $sim 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 200); do [ -s "$work/ready" ] && break; sleep 0.05; done
if [ ! -s "$work/ready" ]; then
    echo "demo: the simulator $bin/pve-ontap-sim did not start (build it with: make demo)" >&2
    exit 1
fi
echo "simulator: $(cat "$work/ready")"

run() {
    printf '\n\033[1m$ pve-ontap-snapshot %s\033[0m\n' "$*"
    "$tool" --config "$cfg" "$@"
}
json() { "$tool" --config "$cfg" --output json "$@"; }
field() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

run check
run storage list --storage ONTAP01 --all
run storage create --storage ONTAP01 --label demo
snap=$(json storage list --storage ONTAP01 | field '[-1]["name"]')
run storage mount --storage ONTAP01 --snapshot "$snap"
run storage list --storage ONTAP01
run storage unmount --storage ONTAP01-CLONE
run storage show --storage ONTAP02
run vm create --vm 100 --freeze
run vm list --vm 100
run storage prune --storage ONTAP01 --keep-last 1 --label demo --dry-run
printf '\n\033[1m$ pve-ontap-snapshot.py-style command line (the original tool'"'"'s options)\033[0m\n'
"$tool" -config "$cfg" storage list -storage ONTAP01
printf '\nDemo finished: the simulator is stopped and its temporary config removed.\n'
