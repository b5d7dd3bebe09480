"""Fidelity check: NetApp's official `netapp-ontap` client and `proxmoxer` drive pve-ontap-sim.

Each check performs a call this tool makes, through the third-party client, and asserts on the
result. Where a client and the simulator disagree, the simulator is wrong. Prints one line per
check and a closing `N passed, N failed` line; exits non-zero on any failure.
"""

import json
import os
import subprocess
import sys
import tempfile
import traceback
from urllib.parse import urlparse

import urllib3
from netapp_ontap import HostConnection, NetAppRestError, config, utils
from netapp_ontap.resources import (
    CLI,
    Cluster,
    FileClone,
    FileInfo,
    IpInterface,
    Job,
    Snapshot,
    Svm,
    Volume,
)
from proxmoxer import ProxmoxAPI

urllib3.disable_warnings()

ONTAP_USER = "admin"
ONTAP_PASS = 'Ontap-Pa55;#"\\=x'
PVE_USER = "root@pam"
PVE_PASS = 'Pve-Pa55;#"\\=x'
PVE_TOKEN = ("snap", "5ec2e7a0-6d1c-4d5e-9a55-0b5e1e7f2c11")

RESULTS = []


def check(name):
    def wrap(fn):
        try:
            fn()
            RESULTS.append((name, None))
            print(f"ok   {name}", flush=True)
        except Exception as exc:  # noqa: BLE001 - report every failure and go on
            RESULTS.append((name, exc))
            print(f"FAIL {name}: {exc!r}", flush=True)
            traceback.print_exc()
        return fn

    return wrap


def main():
    ready = json.loads(sys.stdin.readline())
    ontap = urlparse(ready["ontap"])
    pve = urlparse(ready["pve"])

    config.CONNECTION = HostConnection(
        ontap.hostname,
        username=ONTAP_USER,
        password=ONTAP_PASS,
        verify=False,
        port=ontap.port,
        poll_interval=1,
        poll_timeout=30,
    )

    @check("ontap: cluster version")
    def _():
        cluster = Cluster()
        cluster.get(fields="version")
        assert cluster.version.generation == 9, cluster.version

    @check("ontap: SVMs")
    def _():
        names = {svm.name for svm in Svm.get_collection()}
        assert {"svm1", "svm2"} <= names, names

    @check("ontap: SVM of a data LIF")
    def _():
        lifs = list(IpInterface.get_collection(**{"ip.address": "127.0.10.1"}, fields="svm.name,svm.uuid"))
        assert len(lifs) == 1 and lifs[0].svm.name == "svm1", lifs

    @check("ontap: list volumes with fields")
    def _():
        vols = {v.name: v for v in Volume.get_collection(fields="name,uuid,nas.path,svm.name")}
        assert vols["ONTAP01"].nas.path == "/ONTAP01", vols["ONTAP01"]
        assert vols["pve_vmstore2"].svm.name == "svm1"

    @check("ontap: volume by junction path on one SVM")
    def _():
        vols = list(Volume.get_collection(**{"nas.path": "/vmstore2", "svm.name": "svm1"}, fields="name"))
        assert [v.name for v in vols] == ["pve_vmstore2"], vols

    state = {}

    @check("ontap: create, list and delete a snapshot")
    def _():
        vol = Volume.find(name="ONTAP01", **{"svm.name": "svm1"})
        state["vol"] = vol
        snap = Snapshot(vol.uuid, name="conformance_snap", comment="conformance")
        snap.post(poll=True, poll_interval=1)
        names = [s.name for s in Snapshot.get_collection(vol.uuid, fields="name,create_time")]
        assert "conformance_snap" in names, names
        found = Snapshot.find(vol.uuid, name="conformance_snap")
        found.delete(poll=True, poll_interval=1)
        names = [s.name for s in Snapshot.get_collection(vol.uuid)]
        assert "conformance_snap" not in names, names

    @check("ontap: file clone, directory listing and file delete")
    def _():
        vol = state["vol"]
        clone = FileClone(
            volume={"name": vol.name, "uuid": vol.uuid},
            source_path="images/100/vm-100-disk-1.raw",
            destination_path="images/100/conformance-clone.raw",
        )
        clone.post(poll=True, poll_interval=1)
        names = [f.name for f in FileInfo.get_collection(vol.uuid, "images/100", fields="name,size,type")]
        assert "conformance-clone.raw" in names, names
        FileInfo(vol.uuid, path="images/100/conformance-clone.raw").delete()
        names = [f.name for f in FileInfo.get_collection(vol.uuid, "images/100")]
        assert "conformance-clone.raw" not in names, names

    @check("ontap: FlexClone create, unmount and delete")
    def _():
        vol = state["vol"]
        snap = Snapshot(vol.uuid, name="conformance_base")
        snap.post(poll=True, poll_interval=1)
        clone = Volume(
            name="conformance_clone",
            svm={"name": "svm1"},
            clone={
                "is_flexclone": True,
                "parent_volume": {"name": vol.name},
                "parent_snapshot": {"name": "conformance_base"},
            },
            nas={"path": "/conformance_clone"},
        )
        clone.post(poll=True, poll_interval=1)
        found = Volume.find(name="conformance_clone", fields="clone.is_flexclone,nas.path")
        assert found.clone.is_flexclone, found
        found.nas.path = ""
        found.patch(poll=True, poll_interval=1)
        found.delete(poll=True, poll_interval=1, force=True)
        assert Volume.find(name="conformance_clone") is None
        Snapshot.find(vol.uuid, name="conformance_base").delete(poll=True, poll_interval=1)

    @check("ontap: wait on a job")
    def _():
        vol = state["vol"]
        response = Snapshot(vol.uuid, name="conformance_job").post(poll=False)
        job_link = response.http_response.json()["job"]["_links"]["self"]["href"]
        utils.watch_job(job_link, interval=1, timeout=30)
        job = Job(uuid=job_link.rsplit("/", 1)[-1])
        job.get()
        assert job.state == "success", job.state
        Snapshot.find(vol.uuid, name="conformance_job").delete(poll=True, poll_interval=1)

    @check("ontap: errors come back as NetAppRestError with the ONTAP code")
    def _():
        vol = state["vol"]
        Snapshot(vol.uuid, name="conformance_dup").post(poll=True, poll_interval=1)
        try:
            Snapshot(vol.uuid, name="conformance_dup").post(poll=True, poll_interval=1)
        except NetAppRestError as exc:
            assert "525059" in str(exc) or "already exists" in str(exc), exc
        else:
            raise AssertionError("duplicate snapshot name accepted")
        finally:
            Snapshot.find(vol.uuid, name="conformance_dup").delete(poll=True, poll_interval=1)

    @check("ontap: Volume.post(hydrate=True) reads the new FlexClone back; DELETE sends {}")
    def _():
        vol = state["vol"]
        Snapshot(vol.uuid, name="conformance_hydrate_base").post(poll=True, poll_interval=1)
        clone = Volume(
            name="conformance_hydrate",
            svm={"name": "svm1"},
            clone={
                "is_flexclone": True,
                "parent_volume": {"name": vol.name},
                "parent_snapshot": {"name": "conformance_hydrate_base"},
            },
            nas={"path": "/conformance_hydrate"},
        )
        clone.post(hydrate=True, poll=True, poll_interval=1)
        assert clone.uuid and clone.clone.is_flexclone, clone
        clone.get(fields="nas.path,clone.parent_snapshot.name")
        assert clone.nas.path == "/conformance_hydrate", clone
        assert clone.clone.parent_snapshot.name == "conformance_hydrate_base", clone
        # A record that does not match the query is not found, as ONTAP does.
        try:
            Volume(uuid=clone.uuid).get(name="some_other_name")
        except NetAppRestError as exc:
            assert "404" in str(exc) or "entry doesn't exist" in str(exc), exc
        else:
            raise AssertionError("an instance GET ignored its query")
        clone.nas.path = ""
        clone.patch(poll=True, poll_interval=1)
        # Keep refusing what ONTAP refuses: a mounted volume is not deleted (checked above by the
        # unmount first); netapp-ontap sends DELETE with a {} body.
        clone.delete(poll=True, poll_interval=1, force=True)
        assert Volume.find(name="conformance_hydrate") is None
        Snapshot.find(vol.uuid, name="conformance_hydrate_base").delete(poll=True, poll_interval=1)

    @check("ontap: deleting a still-mounted volume is refused")
    def _():
        vol = state["vol"]
        Snapshot(vol.uuid, name="conformance_mounted_base").post(poll=True, poll_interval=1)
        clone = Volume(
            name="conformance_mounted",
            svm={"name": "svm1"},
            clone={
                "is_flexclone": True,
                "parent_volume": {"name": vol.name},
                "parent_snapshot": {"name": "conformance_mounted_base"},
            },
            nas={"path": "/conformance_mounted"},
        )
        clone.post(hydrate=True, poll=True, poll_interval=1)
        clone.get(fields="nas.path")
        try:
            clone.delete(poll=True, poll_interval=1, force=True)
        except NetAppRestError as exc:
            assert "junction" in str(exc) or "mounted" in str(exc), exc
        else:
            raise AssertionError("a mounted volume was deleted")
        clone.nas.path = ""
        clone.patch(poll=True, poll_interval=1)
        clone.delete(poll=True, poll_interval=1, force=True)
        Snapshot.find(vol.uuid, name="conformance_mounted_base").delete(poll=True, poll_interval=1)

    @check("ontap: Snapshot.post(hydrate=True) and instance GET with the Location query")
    def _():
        vol = state["vol"]
        snap = Snapshot(vol.uuid, name="conformance_hydrate_snap", comment="hydrated")
        snap.post(hydrate=True, poll=True, poll_interval=1)
        assert snap.uuid and snap.comment == "hydrated", snap
        assert snap.create_time is not None, snap
        snap.delete(poll=True, poll_interval=1)

    @check("ontap: Snapshot.get_collection with owners and the release's size fields")
    def _():
        vol = state["vol"]
        fields = "name,owners,snaplock_expiry_time,logical_size,reclaimable_space"
        snaps = list(Snapshot.get_collection(vol.uuid, fields=fields))
        assert snaps, snaps
        for s in snaps:
            assert s.logical_size > 0 and s.reclaimable_space >= 0, s
        # Repeated `fields=` parameters (how `requests` encodes a list) are one list. (netapp-ontap
        # itself sends only the last element of a list given as `fields`.)
        conn = config.CONNECTION
        url = f"{conn.origin}/api/storage/volumes/{vol.uuid}/snapshots"
        body = conn.session.get(url, params=[("fields", "name"), ("fields", "logical_size")]).json()
        assert all("logical_size" in r for r in body["records"]), body

    @check("ontap: directory listing without fields has name, path, type and directory links")
    def _():
        vol = state["vol"]
        entries = list(FileInfo.get_collection(vol.uuid, "images"))
        by_name = {e.name: e for e in entries}
        sub = by_name["100"]
        assert sub.type == "directory" and sub.path == "images", sub
        assert "self" in sub.to_dict()["_links"], sub
        files = list(FileInfo.get_collection(vol.uuid, "images/100"))
        disk = {e.name: e for e in files}["vm-100-disk-0.qcow2"]
        assert disk.type == "file" and disk.path == "images/100", disk
        links = disk.to_dict()["_links"]
        assert "self" not in links and "metadata" in links, disk

    @check("ontap: CLI().execute('volume snapshot restore', ..., force=True)")
    def _():
        vols = {v.name: v for v in Volume.get_collection(name="pve_vmstore2", fields="name,svm.name")}
        vol = vols["pve_vmstore2"]
        Snapshot(vol.uuid, name="conformance_restore_a").post(poll=True, poll_interval=1)
        Snapshot(vol.uuid, name="conformance_restore_b").post(poll=True, poll_interval=1)
        CLI().execute(
            "volume snapshot restore",
            vserver="svm1",
            volume="pve_vmstore2",
            snapshot="conformance_restore_a",
            force=True,
        )
        names = [s.name for s in Snapshot.get_collection(vol.uuid)]
        assert "conformance_restore_a" in names and "conformance_restore_b" not in names, names
        Snapshot.find(vol.uuid, name="conformance_restore_a").delete(poll=True, poll_interval=1)

    @check("ontap: an older release refuses the snapshot fields it does not have")
    def _():
        # The built-in scenario, on 9.9.1: without snapshot locking, which needs 9.12.1.
        scenario = json.loads(
            subprocess.run(
                [os.environ["PVE_ONTAP_SIM"], "--print-scenario"],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
        )
        scenario["ontap"]["version"] = "9.9.1"
        for v in scenario["ontap"]["volumes"]:
            v["snapshot_locking_enabled"] = False
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(scenario, f)
        old = subprocess.Popen(
            [os.environ["PVE_ONTAP_SIM"], "--scenario", f.name], stdout=subprocess.PIPE, text=True
        )
        try:
            url = urlparse(json.loads(old.stdout.readline())["ontap"])
            conn = HostConnection(
                url.hostname, username=ONTAP_USER, password=ONTAP_PASS, verify=False, port=url.port
            )
            with conn:
                vol = Volume.find(name="ONTAP01", **{"svm.name": "svm1"})
                names = [s.name for s in Snapshot.get_collection(vol.uuid, fields="name,owners")]
                assert names, names
                for field in ("logical_size", "reclaimable_space"):
                    try:
                        list(Snapshot.get_collection(vol.uuid, fields=f"name,{field}"))
                    except NetAppRestError as exc:
                        assert "262179" in str(exc) or field in str(exc), exc
                    else:
                        raise AssertionError(f"9.9.1 accepted {field}")
        finally:
            old.terminate()
            old.wait()
            os.unlink(f.name)

    pve_kw = dict(host=pve.hostname, port=pve.port, verify_ssl=False)

    @check("pve: ticket login and version")
    def _():
        api = ProxmoxAPI(user=PVE_USER, password=PVE_PASS, **pve_kw)
        state["pve"] = api
        assert api.version.get()["release"], api.version.get()

    @check("pve: API token auth")
    def _():
        api = ProxmoxAPI(user=PVE_USER, token_name=PVE_TOKEN[0], token_value=PVE_TOKEN[1], **pve_kw)
        assert len(api.nodes.get()) == 2

    @check("pve: cluster resources")
    def _():
        guests = {g["vmid"]: g for g in state["pve"].cluster.resources.get(type="vm")}
        assert guests[100]["node"] == "pve1" and guests[200]["type"] == "lxc", guests

    @check("pve: guest config")
    def _():
        conf = state["pve"].nodes("pve1").qemu(100).config.get()
        assert conf["scsi0"].startswith("ONTAP01:100/vm-100-disk-0.qcow2"), conf

    @check("pve: storage create and delete (CSRF on POST/DELETE)")
    def _():
        api = state["pve"]
        api.storage.post(storage="conformance-nfs", type="nfs", server="127.0.10.1", export="/ONTAP01", content="images")
        assert api.storage("conformance-nfs").get()["type"] == "nfs"
        api.storage("conformance-nfs").delete()
        ids = [s["storage"] for s in api.storage.get()]
        assert "conformance-nfs" not in ids, ids

    @check("pve: a task runs to completion")
    def _():
        api = state["pve"]
        upid = api.nodes("pve1").qemu(101).status.suspend.post()
        for _ in range(100):
            status = api.nodes("pve1").tasks(upid).status.get()
            if status["status"] == "stopped":
                break
            import time

            time.sleep(0.1)
        assert status["exitstatus"] == "OK", status
        upid = api.nodes("pve1").qemu(101).status.resume.post()

    failed = [n for n, e in RESULTS if e is not None]
    print(f"{len(RESULTS) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
