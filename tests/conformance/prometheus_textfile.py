"""Prometheus check: `pve-ontap-snapshot status --format prometheus` parses with the official
`prometheus-client` text parser and carries the expected series, after one good schedule run and
one failed hook (an injected ONTAP fault) against pve-ontap-sim.

Usage: prometheus_textfile.py TOOL WORKDIR < ready-line-of-pve-ontap-sim-started-with---write-config
Exits non-zero on any failure.
"""

import json
import os
import subprocess
import sys
import urllib.request
import ssl

from prometheus_client.parser import text_string_to_metric_families


def fail(msg):
    print(f"FAIL prometheus textfile: {msg}", flush=True)
    sys.exit(1)


def control(base, method, path, body=None):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, context=ctx) as r:
        return json.loads(r.read() or b"{}")


def main():
    tool, work = sys.argv[1], sys.argv[2]
    ready = json.loads(sys.stdin.readline())
    config = ready["config"]
    # The system paths (locks, journal) go below the work dir: the test root of a debug build,
    # the same seam the integration tests use (a directory holding the marker file).
    open(os.path.join(work, ".pve-ontap-snapshot-test-root"), "w").close()
    with open(config, encoding="utf-8") as f:
        text = f.read()
    # A schedule and a failing hook phase.
    text += ("\n[schedule:hourly]\nstorages = ONTAP01\nlabel = hourly\nmax-age = 2h\n"
             "\n[hook:100]\npost-stop = storage-snapshot\npost-stop.label = poststop\n")
    with open(config, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(config, 0o600)
    env = dict(os.environ, PVE_ONTAP_SNAPSHOT_SYSLOG_SOCKET="none",
               PVE_ONTAP_SNAPSHOT_TEST_ROOT=work)

    def run(*args, ok=True):
        p = subprocess.run([tool, "--config", config, *args], env=env, capture_output=True,
                           text=True, timeout=120)
        if ok and p.returncode != 0:
            fail(f"{' '.join(args)} exited {p.returncode}: {p.stderr}")
        return p

    run("run", "hourly")
    control(ready["ontap"], "POST", "/_sim/faults",
            {"api": "ontap", "method": "POST", "path": "/api/storage/volumes/*/snapshots",
             "status": 500, "body": {"error": {"message": "injected", "code": "524479"}},
             "count": 1})
    run("hook", "100", "post-stop")  # fails open: exit 0, the failure goes to the journal
    p = run("status", "--format", "prometheus", ok=False)
    if p.returncode != 1:
        fail(f"status with a failed hook exited {p.returncode}, expected 1: {p.stderr}")

    families = {f.name: f for f in text_string_to_metric_families(p.stdout)}
    want = [
        "pve_ontap_snapshot_last_success_timestamp_seconds",
        "pve_ontap_snapshot_last_run_success",
        "pve_ontap_snapshot_volume_snapshots",
        "pve_ontap_snapshot_volume_snapshot_bytes",
        "pve_ontap_snapshot_problems",
    ]
    for name in want:
        if name not in families:
            fail(f"no metric family {name}; got {sorted(families)}")
        if families[name].type != "gauge" or not families[name].documentation:
            fail(f"{name} lacks TYPE gauge or HELP")
    last = {(s.labels["storage"], s.labels["label"]): s.value
            for s in families["pve_ontap_snapshot_last_success_timestamp_seconds"].samples}
    if ("ONTAP01", "hourly") not in last or last[("ONTAP01", "hourly")] < 1e9:
        fail(f"no last success for ONTAP01/hourly: {last}")
    runs = {(s.labels["trigger"], s.labels["source"]): s.value
            for s in families["pve_ontap_snapshot_last_run_success"].samples}
    if runs.get(("schedule", "hourly")) != 1.0:
        fail(f"schedule hourly not recorded as a success: {runs}")
    if runs.get(("hook", "post-stop")) != 0.0:
        fail(f"failed hook not recorded as a failure: {runs}")
    problems = families["pve_ontap_snapshot_problems"].samples[0].value
    if problems < 1:
        fail(f"pve_ontap_snapshot_problems = {problems}")
    print(f"ok   prometheus textfile: {len(families)} metric families parsed", flush=True)


if __name__ == "__main__":
    main()
