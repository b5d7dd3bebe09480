//! End to end with the simulated ONTAP cluster: nfs storage content derived from the exported
//! volume files, mounting on create, and guest writes bumping file generations.

use serde_json::json;

use super::util::*;
use crate::pve::guest_write;

fn volids(list: &serde_json::Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|v| v["volid"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn nfs_content_comes_from_the_exported_volume() {
    let shared = shared(fast());
    let client = login(&shared);
    let list = data(&client.get("/nodes/pve1/storage/ONTAP01/content?vmid=100"));
    assert_eq!(
        volids(&list),
        [
            "ONTAP01:100/vm-100-cloudinit.qcow2",
            "ONTAP01:100/vm-100-disk-0.qcow2",
            "ONTAP01:100/vm-100-disk-1.raw",
            "ONTAP01:100/vm-100-disk-2.raw",
            "ONTAP01:100/vm-100-disk-3.raw",
            "ONTAP01:100/vm-100-disk-9.raw",
        ]
    );
    let disk0 = &list[1];
    assert_eq!(
        (
            disk0["format"].as_str(),
            disk0["size"].as_u64(),
            disk0["vmid"].as_u64(),
            disk0["content"].as_str()
        ),
        (Some("qcow2"), Some(32 << 30), Some(100), Some("images"))
    );
    // The container's volume is `rootdir` content, not `images`.
    let all = data(&client.get("/nodes/pve1/storage/ONTAP01/content"));
    let ct = all
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["vmid"] == 200)
        .unwrap();
    assert_eq!(
        (ct["volid"].as_str(), ct["content"].as_str()),
        (Some("ONTAP01:200/vm-200-disk-1.raw"), Some("rootdir"))
    );
    let images = data(&client.get("/nodes/pve1/storage/ONTAP01/content?content=images"));
    assert!(images.as_array().unwrap().iter().all(|v| v["vmid"] != 200));
    // ONTAP02 exports /vmstore2 of volume pve_vmstore2 on svm1, not svm2's vmstore2.
    let ontap02 = data(&client.get("/nodes/pve2/storage/ONTAP02/content"));
    assert_eq!(
        volids(&ontap02),
        [
            "ONTAP02:103/vm-103-disk-0.raw",
            "ONTAP02:200/vm-200-disk-0.raw"
        ]
    );
    // ONTAP03 exports a directory below the junction.
    let ontap03 = data(&client.get("/nodes/pve2/storage/ONTAP03/content"));
    assert_eq!(volids(&ontap03), ["ONTAP03:105/vm-105-disk-0.raw"]);
    let status = data(&client.get("/nodes/pve1/storage/ONTAP01/status"));
    assert_eq!(status["active"], 1);
    assert!(status["used"].as_u64().unwrap() > 32 << 30);
    let resources = data(&client.get("/cluster/resources?type=storage"));
    let entry = resources
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "storage/pve1/ONTAP01")
        .unwrap();
    assert_eq!(entry["status"], "available");
}

#[test]
fn creating_an_nfs_storage_mounts_an_existing_export() {
    let shared = shared(fast());
    let client = login(&shared);
    let resp = client.post(
        "/storage",
        &[
            ("storage", "SVM2"),
            ("type", "nfs"),
            ("server", "127.0.20.1"),
            ("export", "/vmstore2"),
            ("content", "images"),
        ],
    );
    assert_eq!(data(&resp), json!({"storage": "SVM2", "type": "nfs"}));
    let list = data(&client.get("/nodes/pve1/storage/SVM2/content"));
    assert_eq!(volids(&list), ["SVM2:999/vm-999-disk-0.raw"]);
}

#[test]
fn guest_writes_bump_the_generation_of_disk_files_only() {
    let shared = shared(fast());
    let mut world = shared.world.lock().unwrap();
    let generation = |world: &crate::world::World, file: &str| {
        world
            .ontap
            .exported_files("127.0.10.1", "/ONTAP01")
            .unwrap()
            .into_iter()
            .find(|f| f.path == file)
            .map(|f| f.generation)
            .unwrap()
    };
    let disk0 = generation(&world, "images/100/vm-100-disk-0.qcow2");
    let unused = generation(&world, "images/100/vm-100-disk-9.raw");
    let cloudinit = generation(&world, "images/100/vm-100-cloudinit.qcow2");
    // scsi0, virtio0, efidisk0, tpmstate0; not the cloud-init CD-ROM, the ISO or unused0.
    assert_eq!(guest_write(&mut world, 100), Ok(4));
    assert!(generation(&world, "images/100/vm-100-disk-0.qcow2") > disk0);
    assert_eq!(generation(&world, "images/100/vm-100-disk-9.raw"), unused);
    assert_eq!(
        generation(&world, "images/100/vm-100-cloudinit.qcow2"),
        cloudinit
    );
    // rootfs on ONTAP02 and mp0 on ONTAP01; sata0 on ONTAP01 but not scsi1 on local-lvm; ONTAP03.
    assert_eq!(guest_write(&mut world, 200), Ok(2));
    assert_eq!(guest_write(&mut world, 101), Ok(1));
    assert_eq!(guest_write(&mut world, 105), Ok(1));
}
