//! Power actions as UPID tasks: lifecycle running → stopped, task errors, sync refusals,
//! pause/resume, hibernation, LXC checkpoint/restore, shutdown timeouts, injected faults.

use super::util::*;
use crate::job_fault::JobFault;

fn upid_fields(upid: &str) -> Vec<String> {
    upid.split(':').map(str::to_string).collect()
}

#[test]
fn stop_task_runs_then_stops_the_vm() {
    let shared = shared(slow());
    let client = login(&shared);
    let upid = client.task("/nodes/pve1/qemu/100/status/stop", &[]);
    let f = upid_fields(&upid);
    assert_eq!(f.len(), 9);
    assert_eq!((f[0].as_str(), f[1].as_str()), ("UPID", "pve1"));
    assert!(f[2].len() == 8 && f[3].len() >= 8 && f[4].len() == 8);
    assert_eq!(
        (f[5].as_str(), f[6].as_str(), f[7].as_str(), f[8].as_str()),
        ("qmstop", "100", "root@pam", "")
    );
    let status = client.task_status(&upid);
    assert_eq!(status["status"], "running");
    assert!(status.get("exitstatus").is_none());
    assert_eq!(status["type"], "qmstop");
    assert_eq!(status["id"], "100");
    assert_eq!(status["node"], "pve1");
    assert_eq!(status["upid"], upid.as_str());
    assert_eq!(client.current("pve1", "qemu", 100)["status"], "running");
    advance(&shared, 3601);
    let status = client.task_status(&upid);
    assert_eq!(status["status"], "stopped");
    assert_eq!(status["exitstatus"], "OK");
    let current = client.current("pve1", "qemu", 100);
    assert_eq!(
        (current["status"].as_str(), current["qmpstatus"].as_str()),
        (Some("stopped"), Some("stopped"))
    );
    let log = data(&client.get(&format!("/nodes/pve1/tasks/{}/log", encode(&upid))));
    assert_eq!(log.as_array().unwrap().last().unwrap()["t"], "TASK OK");
}

#[test]
fn start_of_a_running_vm_fails_in_the_task() {
    let shared = shared(fast());
    let client = login(&shared);
    let upid = client.task("/nodes/pve1/qemu/100/status/start", &[]);
    let status = client.task_status(&upid);
    assert_eq!(status["status"], "stopped");
    assert_eq!(status["exitstatus"], "VM 100 already running");
    let log = data(&client.get(&format!("/nodes/pve1/tasks/{}/log", encode(&upid))));
    assert_eq!(
        log.as_array().unwrap().last().unwrap()["t"],
        "TASK ERROR: VM 100 already running"
    );
}

#[test]
fn start_of_a_stopped_vm_and_lock_checks() {
    let shared = shared(fast());
    let client = login(&shared);
    let upid = client.task("/nodes/pve2/qemu/102/status/start", &[]);
    assert_eq!(client.task_status(&upid)["exitstatus"], "OK");
    let current = client.current("pve2", "qemu", 102);
    assert_eq!(current["status"], "running");
    assert_eq!(current["agent"], 1);
    assert!(current["pid"].as_u64().is_some());
    // Stopping a locked VM fails inside the task.
    shared
        .world
        .lock()
        .unwrap()
        .pve
        .guests
        .get_mut(&102)
        .unwrap()
        .config
        .insert("lock".into(), "migrate".into());
    let upid = client.task("/nodes/pve2/qemu/102/status/stop", &[]);
    assert_eq!(
        client.task_status(&upid)["exitstatus"],
        "VM is locked (migrate)"
    );
    let upid = client.task("/nodes/pve2/qemu/102/status/stop", &[("skiplock", "1")]);
    assert_eq!(client.task_status(&upid)["exitstatus"], "OK");
}

#[test]
fn suspend_and_resume_of_stopped_vms_are_refused_synchronously() {
    let shared = shared(fast());
    let client = login(&shared);
    for cmd in ["suspend", "resume"] {
        let resp = client.post(&format!("/nodes/pve2/qemu/102/status/{cmd}"), &[]);
        assert_eq!(
            failure(&resp),
            (
                500,
                "VM 102 not running".into(),
                "VM 102 not running\n".into()
            )
        );
    }
    // Stop of a stopped VM is fine.
    let upid = client.task("/nodes/pve2/qemu/102/status/stop", &[]);
    assert_eq!(client.task_status(&upid)["exitstatus"], "OK");
}

#[test]
fn pause_and_resume_in_ram() {
    let shared = shared(fast());
    let client = login(&shared);
    let upid = client.task("/nodes/pve1/qemu/100/status/suspend", &[]);
    assert!(upid.contains(":qmpause:100:"));
    assert_eq!(client.task_status(&upid)["exitstatus"], "OK");
    let current = client.current("pve1", "qemu", 100);
    assert_eq!(
        (current["status"].as_str(), current["qmpstatus"].as_str()),
        (Some("running"), Some("paused"))
    );
    // A paused VM cannot be shut down (unless forceStop).
    let resp = client.post("/nodes/pve1/qemu/100/status/shutdown", &[]);
    assert_eq!(failure(&resp).1, "VM is paused - cannot shutdown");
    let upid = client.task("/nodes/pve1/qemu/100/status/resume", &[]);
    assert!(upid.contains(":qmresume:100:"));
    assert_eq!(client.task_status(&upid)["exitstatus"], "OK");
    assert_eq!(client.current("pve1", "qemu", 100)["qmpstatus"], "running");
}

#[test]
fn pause_is_allowed_under_a_backup_lock_but_not_other_locks() {
    let shared = shared(fast());
    let client = login(&shared);
    shared
        .world
        .lock()
        .unwrap()
        .pve
        .guests
        .get_mut(&100)
        .unwrap()
        .config
        .insert("lock".into(), "backup".into());
    let upid = client.task("/nodes/pve1/qemu/100/status/suspend", &[]);
    assert_eq!(client.task_status(&upid)["exitstatus"], "OK");
    let upid = client.task("/nodes/pve1/qemu/100/status/resume", &[]);
    assert_eq!(client.task_status(&upid)["exitstatus"], "OK");
    let upid = client.task("/nodes/pve1/qemu/100/status/suspend", &[("todisk", "1")]);
    assert_eq!(
        client.task_status(&upid)["exitstatus"],
        "cannot suspend to disk during backup"
    );
    shared
        .world
        .lock()
        .unwrap()
        .pve
        .guests
        .get_mut(&100)
        .unwrap()
        .config
        .insert("lock".into(), "snapshot".into());
    let upid = client.task("/nodes/pve1/qemu/100/status/suspend", &[]);
    assert_eq!(
        client.task_status(&upid)["exitstatus"],
        "VM is locked (snapshot)"
    );
}

#[test]
fn hibernation_stops_the_vm_with_a_state_volume_and_resume_starts_it() {
    let shared = shared(fast());
    let client = login(&shared);
    let upid = client.task("/nodes/pve1/qemu/100/status/suspend", &[("todisk", "1")]);
    assert!(upid.contains(":qmsuspend:100:"));
    assert_eq!(client.task_status(&upid)["exitstatus"], "OK");
    let current = client.current("pve1", "qemu", 100);
    assert_eq!(
        (current["status"].as_str(), current["lock"].as_str()),
        (Some("stopped"), Some("suspended"))
    );
    let conf = data(&client.get("/nodes/pve1/qemu/100/config"));
    let vmstate = conf["vmstate"].as_str().unwrap();
    assert!(
        vmstate.starts_with("ONTAP01:100/vm-100-state-suspend-") && vmstate.ends_with(".raw"),
        "{vmstate}"
    );
    let upid = client.task("/nodes/pve1/qemu/100/status/resume", &[]);
    assert_eq!(client.task_status(&upid)["exitstatus"], "OK");
    let current = client.current("pve1", "qemu", 100);
    assert_eq!(current["status"], "running");
    assert!(current.get("lock").is_none());
    assert!(data(&client.get("/nodes/pve1/qemu/100/config"))
        .get("vmstate")
        .is_none());
}

#[test]
fn shutdown_and_guests_that_ignore_it() {
    let mut scenario = fast();
    scenario
        .guests
        .iter_mut()
        .find(|g| g.vmid == 101)
        .unwrap()
        .ignores_shutdown = true;
    let shared = shared(scenario);
    let client = login(&shared);
    let upid = client.task("/nodes/pve2/qemu/103/status/shutdown", &[]);
    assert!(upid.contains(":qmshutdown:103:"));
    assert_eq!(client.task_status(&upid)["exitstatus"], "OK");
    assert_eq!(client.current("pve2", "qemu", 103)["status"], "stopped");
    let upid = client.task("/nodes/pve1/qemu/101/status/shutdown", &[]);
    assert_eq!(
        client.task_status(&upid)["exitstatus"],
        "VM quit/powerdown failed - got timeout"
    );
    assert_eq!(client.current("pve1", "qemu", 101)["status"], "running");
    let upid = client.task(
        "/nodes/pve1/qemu/101/status/shutdown",
        &[("forceStop", "1")],
    );
    assert_eq!(client.task_status(&upid)["exitstatus"], "OK");
    assert_eq!(client.current("pve1", "qemu", 101)["status"], "stopped");
}

#[test]
fn lxc_suspend_fails_without_criu_and_the_container_keeps_running() {
    let shared = shared(fast());
    let client = login(&shared);
    let upid = client.task("/nodes/pve2/lxc/200/status/suspend", &[]);
    assert_eq!(
        client.task_status(&upid)["exitstatus"],
        "command 'lxc-checkpoint -n 200 -s -D /var/lib/vz/dump' failed: exit code 1"
    );
    assert_eq!(client.current("pve2", "lxc", 200)["status"], "running");
    let log = data(&client.get(&format!("/nodes/pve2/tasks/{}/log", encode(&upid))));
    let lines: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l["t"].as_str())
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("execing criu failed, is it installed?")),
        "{lines:?}"
    );
    assert_eq!(
        lines.last(),
        Some(&"TASK ERROR: command 'lxc-checkpoint -n 200 -s -D /var/lib/vz/dump' failed: exit code 1")
    );
}

#[test]
fn a_job_fault_fails_the_task_without_effect() {
    let shared = shared(fast());
    let mut client = login(&shared);
    client.fault = Some(JobFault {
        code: 0,
        message: "simulated failure".into(),
    });
    let upid = client.task("/nodes/pve1/qemu/100/status/suspend", &[]);
    client.fault = None;
    let status = client.task_status(&upid);
    assert_eq!(
        (status["status"].as_str(), status["exitstatus"].as_str()),
        (Some("stopped"), Some("simulated failure"))
    );
    assert_eq!(client.current("pve1", "qemu", 100)["qmpstatus"], "running");
}

#[test]
fn lxc_suspend_checkpoints_and_resume_restores() {
    let mut scenario = fast();
    for node in &mut scenario.nodes {
        node.criu = true;
    }
    let shared = shared(scenario);
    let client = login(&shared);
    let resp = client.post("/nodes/pve2/lxc/200/status/resume", &[]);
    assert_eq!(failure(&resp).1, "CT 200 already running");
    let upid = client.task("/nodes/pve2/lxc/200/status/suspend", &[]);
    assert!(upid.contains(":vzsuspend:200:"));
    assert_eq!(client.task_status(&upid)["exitstatus"], "OK");
    assert_eq!(client.current("pve2", "lxc", 200)["status"], "stopped");
    let upid = client.task("/nodes/pve2/lxc/200/status/resume", &[]);
    assert!(upid.contains(":vzresume:200:"));
    assert_eq!(client.task_status(&upid)["exitstatus"], "OK");
    assert_eq!(client.current("pve2", "lxc", 200)["status"], "running");
    // Without a checkpoint, restore fails.
    let upid = client.task("/nodes/pve2/lxc/200/status/stop", &[]);
    assert_eq!(client.task_status(&upid)["exitstatus"], "OK");
    let upid = client.task("/nodes/pve2/lxc/200/status/resume", &[]);
    assert!(client.task_status(&upid)["exitstatus"]
        .as_str()
        .unwrap()
        .starts_with("command 'lxc-checkpoint -n 200 -r"));
    let resp = client.post("/nodes/pve2/lxc/200/status/stop", &[]);
    assert_eq!(failure(&resp).1, "CT 200 not running");
    let upid = client.task("/nodes/pve2/lxc/200/status/start", &[]);
    assert!(upid.contains(":vzstart:200:"));
    assert_eq!(client.task_status(&upid)["exitstatus"], "OK");
}

#[test]
fn task_lookup_errors() {
    let shared = shared(fast());
    let client = login(&shared);
    let upid = client.task("/nodes/pve1/qemu/100/status/suspend", &[]);
    let resp = client.get(&format!("/nodes/pve2/tasks/{}/status", encode(&upid)));
    assert_eq!(json(&resp)["errors"]["upid"], "no such task");
    let resp = client.get("/nodes/pve1/tasks/garbage/status");
    assert_eq!(json(&resp)["errors"]["upid"], "unable to parse worker upid");
    let list = data(&client.get("/nodes/pve1/tasks?vmid=100"));
    assert_eq!(list[0]["upid"], upid.as_str());
    assert_eq!(list[0]["status"], "OK");
}

#[test]
fn dump_shows_finished_tasks_and_their_effects() {
    let shared = shared(fast());
    let client = login(&shared);
    let upid = client.task("/nodes/pve2/qemu/103/status/stop", &[]);
    let dump = shared.world.lock().unwrap().pve.dump();
    let guest = dump["guests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["vmid"] == 103)
        .unwrap()
        .clone();
    assert_eq!(guest["status"], "stopped");
    let task = dump["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["upid"] == upid.as_str())
        .unwrap()
        .clone();
    assert_eq!(task["exitstatus"], "OK");
    assert!(dump["users"][0].get("password").is_none());
}
