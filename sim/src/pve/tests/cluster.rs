//! `/version`, `/nodes`, `/cluster/status`, `/cluster/resources`.

use super::util::*;

#[test]
fn version_and_nodes() {
    let shared = shared(fast());
    let client = login(&shared);
    let v = data(&client.get("/version"));
    assert_eq!(
        (v["version"].as_str(), v["release"].as_str()),
        (Some("9.1.2"), Some("9.1"))
    );
    let nodes = data(&client.get("/nodes"));
    let names: Vec<&str> = nodes
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["node"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["pve1", "pve2"]);
    assert_eq!(nodes[0]["status"], "online");
    assert_eq!(nodes[0]["ssl_fingerprint"].as_str().unwrap().len(), 95);
    let status = data(&client.get("/cluster/status"));
    assert_eq!(status[0]["name"], "simcluster");
    assert_eq!(status[0]["quorate"], 1);
    assert_eq!(status[1]["local"], 1);
}

#[test]
fn cluster_resources_by_type() {
    let shared = shared(fast());
    let client = login(&shared);
    let vms = data(&client.get("/cluster/resources?type=vm"));
    let vms = vms.as_array().unwrap();
    assert_eq!(vms.len(), 7);
    let web01 = vms.iter().find(|v| v["vmid"] == 100).unwrap();
    assert_eq!(web01["id"], "qemu/100");
    assert_eq!(web01["type"], "qemu");
    assert_eq!(web01["node"], "pve1");
    assert_eq!(web01["name"], "web01");
    assert_eq!(web01["status"], "running");
    assert_eq!(web01["maxdisk"], 32u64 << 30);
    let ct = vms.iter().find(|v| v["vmid"] == 200).unwrap();
    assert_eq!(
        (ct["id"].as_str(), ct["node"].as_str()),
        (Some("lxc/200"), Some("pve2"))
    );
    assert_eq!(
        vms.iter().find(|v| v["vmid"] == 102).unwrap()["status"],
        "stopped"
    );

    let storages = data(&client.get("/cluster/resources?type=storage"));
    let storages = storages.as_array().unwrap();
    // Five storages, available on both nodes.
    assert_eq!(storages.len(), 10);
    let local = storages
        .iter()
        .find(|s| s["id"] == "storage/pve2/local")
        .unwrap();
    assert_eq!(local["plugintype"], "dir");
    assert_eq!(local["status"], "available");
    let ontap = storages
        .iter()
        .find(|s| s["id"] == "storage/pve1/ONTAP01")
        .unwrap();
    assert_eq!(
        (ontap["shared"].as_u64(), ontap["content"].as_str()),
        (Some(1), Some("images,rootdir"))
    );

    let nodes = data(&client.get("/cluster/resources?type=node"));
    assert_eq!(nodes.as_array().unwrap().len(), 2);
    let all = data(&client.get("/cluster/resources"));
    assert_eq!(all.as_array().unwrap().len(), 19);
    let resp = client.get("/cluster/resources?type=bogus");
    assert_eq!(resp.status, 400);
}

#[test]
fn storages_restricted_to_nodes_appear_only_there() {
    let shared = shared(fast());
    let client = login(&shared);
    data(&client.put("/storage/local", &[("nodes", "pve2")]));
    let storages = data(&client.get("/cluster/resources?type=storage"));
    let ids: Vec<&str> = storages
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["storage"] == "local")
        .map(|s| s["node"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["pve2"]);
}

#[test]
fn resources_show_the_qmp_status_of_paused_vms() {
    let shared = shared(fast());
    let client = login(&shared);
    client.task("/nodes/pve1/qemu/100/status/suspend", &[]);
    let vms = data(&client.get("/cluster/resources?type=vm"));
    let web01 = vms
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["vmid"] == 100)
        .unwrap();
    assert_eq!(web01["status"], "paused");
}
