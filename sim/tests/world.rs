//! The control API against the real ONTAP and Proxmox sides: state dump, reset, guest writes,
//! and a fault rule failing one ONTAP file-clone job end to end.

mod common;

use common::{agent, call, call_json};
use pve_ontap_sim::{FaultRule, Sim, SimOptions};
use serde_json::{json, Value};

const ONTAP_AUTH: &str = "admin:Ontap-Pa55;#\"\\=x";

fn base64(input: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// An authenticated ONTAP call: status and JSON body.
fn ontap(sim: &Sim, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let req = agent(sim)
        .request(method, &format!("{}{path}", sim.ontap_url()))
        .set(
            "Authorization",
            &format!("Basic {}", base64(ONTAP_AUTH.as_bytes())),
        );
    let result = match body {
        Some(b) => req.send_json(b),
        None => req.call(),
    };
    let resp = match result {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{method} {path}: {e}"),
    };
    (resp.status(), resp.into_json().unwrap_or(Value::Null))
}

fn volume_uuid(sim: &Sim, name: &str) -> String {
    let (status, body) = ontap(
        sim,
        "GET",
        &format!("/api/storage/volumes?name={name}"),
        None,
    );
    assert_eq!(status, 200, "{body}");
    body["records"][0]["uuid"].as_str().unwrap().to_string()
}

fn snapshot_names(sim: &Sim, volume: &str) -> Vec<String> {
    let shared = sim.shared();
    let mut world = shared.lock();
    world.settle();
    let v = world
        .ontap
        .volumes
        .iter()
        .find(|v| v.name == volume)
        .unwrap();
    v.snapshots.iter().map(|s| s.name.clone()).collect()
}

#[test]
fn base64_matches_the_rfc_examples() {
    assert_eq!(base64(b"f"), "Zg==");
    assert_eq!(base64(b"fo"), "Zm8=");
    assert_eq!(base64(b"foobar"), "Zm9vYmFy");
}

#[test]
fn reset_brings_back_the_scenario() {
    let sim = Sim::start(SimOptions::default()).unwrap();
    let uuid = volume_uuid(&sim, "ONTAP01");
    let before = snapshot_names(&sim, "ONTAP01");
    let (status, body) = ontap(
        &sim,
        "POST",
        &format!("/api/storage/volumes/{uuid}/snapshots?return_timeout=30"),
        Some(json!({"name": "made_in_test"})),
    );
    assert_eq!(status, 201, "{body}");
    assert!(snapshot_names(&sim, "ONTAP01").contains(&"made_in_test".to_string()));
    let (status, _) = call_json(
        &agent(&sim),
        "POST",
        &format!("{}/_sim/reset", sim.pve_url()),
        None,
    );
    assert_eq!(status, 200);
    assert_eq!(snapshot_names(&sim, "ONTAP01"), before);
    assert!(sim.requests().is_empty());
}

#[test]
fn state_dump_and_guest_writes() {
    let sim = Sim::start(SimOptions::default()).unwrap();
    let agent = agent(&sim);
    let (status, state) = call_json(
        &agent,
        "GET",
        &format!("{}/_sim/state", sim.ontap_url()),
        None,
    );
    assert_eq!(status, 200);
    let text = state.to_string();
    assert!(text.contains("ONTAP01") && text.contains("web01"), "{text}");

    let (status, body) = call_json(
        &agent,
        "POST",
        &format!("{}/_sim/guests/100/write", sim.pve_url()),
        None,
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["vmid"], 100);
    assert!(body["files"].as_u64().unwrap() >= 4, "{body}");
    let (status, body) = call(
        &agent,
        "POST",
        &format!("{}/_sim/guests/4242/write", sim.pve_url()),
        None,
    );
    assert_eq!(status, 404);
    assert!(body.contains("4242"), "{body}");
}

#[test]
fn fail_job_fails_exactly_one_file_clone() {
    let sim = Sim::start(SimOptions::default()).unwrap();
    let uuid = volume_uuid(&sim, "ONTAP01");
    sim.add_fault(
        FaultRule::new("POST", "/api/storage/file/clone")
            .fail_job(13565952, "Clone operation failed"),
    );
    let clone = |dest: &str| {
        ontap(
            &sim,
            "POST",
            "/api/storage/file/clone?return_timeout=30",
            Some(json!({
                "volume": {"name": "ONTAP01", "uuid": uuid},
                "source_path": "images/100/vm-100-disk-1.raw",
                "destination_path": dest,
            })),
        )
    };
    let (status, body) = clone("images/100/copy-a.raw");
    assert!(status >= 400, "the faulted job fails: {status} {body}");
    assert!(
        body.to_string().contains("Clone operation failed"),
        "{body}"
    );
    let (status, body) = clone("images/100/copy-b.raw");
    assert!(status < 300, "the next clone works: {status} {body}");
    let shared = sim.shared();
    let mut world = shared.lock();
    world.settle();
    let v = world
        .ontap
        .volumes
        .iter()
        .find(|v| v.name == "ONTAP01")
        .unwrap();
    let files: Vec<&String> = v.tree.files().map(|(p, _, _)| p).collect();
    assert!(!files.iter().any(|p| p.ends_with("copy-a.raw")));
    assert!(files.iter().any(|p| p.ends_with("copy-b.raw")));
}
