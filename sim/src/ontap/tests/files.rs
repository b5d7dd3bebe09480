//! The files API: listings with `.`/`..`, fields and filters, `.snapshot`, metadata, DELETE.

use serde_json::json;

use super::*;

fn files_url(sh: &Shared) -> String {
    format!("/api/storage/volumes/{}/files", vol_uuid(sh, "ONTAP01"))
}

#[test]
fn lists_a_directory_with_dot_entries() {
    let sh = shared();
    let url = files_url(&sh);
    let v = get(&sh, &format!("{url}/images%2F100?fields=name,type,size"));
    let n = names(&v);
    assert_eq!(&n[..2], [".", ".."]);
    assert_eq!(
        &n[2..],
        [
            "vm-100-cloudinit.qcow2",
            "vm-100-disk-0.qcow2",
            "vm-100-disk-1.raw",
            "vm-100-disk-2.raw",
            "vm-100-disk-3.raw",
            "vm-100-disk-9.raw"
        ]
    );
    let disk0 = &v["records"][3];
    assert_eq!(disk0["type"], "file");
    assert_eq!(disk0["size"], 32u64 << 30);
    // In a listing `path` is the listed directory (netapp-ontap file_info.py example).
    assert_eq!(disk0["path"], "images/100");
    assert!(disk0.get("creation_time").is_none());
    // default fields: name, path and type; self links only for directories
    let v = get(&sh, &format!("{url}/images%2F100"));
    let cloudinit = &v["records"][2];
    assert_eq!(cloudinit["name"], "vm-100-cloudinit.qcow2");
    assert_eq!(cloudinit["path"], "images/100");
    assert_eq!(cloudinit["type"], "file");
    assert!(cloudinit.get("size").is_none());
    assert!(cloudinit["_links"].get("self").is_none());
    assert_eq!(
        cloudinit["_links"]["metadata"]["href"],
        format!("{url}/images%2F100%2Fvm-100-cloudinit%2Eqcow2?return_metadata=true")
    );
    let v = get(&sh, &format!("{url}/images"));
    let dir100 = v["records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "100")
        .unwrap();
    assert_eq!(
        (&dir100["path"], &dir100["type"]),
        (&json!("images"), &json!("directory"))
    );
    assert_eq!(
        dir100["_links"]["self"]["href"],
        format!("{url}/images%2F100")
    );
    // filters and encoded dots
    let v = get(
        &sh,
        &format!("{url}/images%2F100?type=file&name=*%2Eraw&fields=name,size"),
    );
    assert_eq!(names(&v).len(), 4);
    let v = get(&sh, &format!("{url}?fields=name,type"));
    assert_eq!(names(&v), [".", "..", "images", "snippets", "template"]);
    assert_eq!(v["records"][2]["type"], "directory");
    let v = get(
        &sh,
        &format!("{url}/template%2Fiso?fields=is_empty,name&name=.",),
    );
    assert_eq!(v["records"][0]["is_empty"], true);
}

#[test]
fn missing_paths_and_metadata() {
    let sh = shared();
    let url = files_url(&sh);
    let (s, v) = call(&sh, "GET", &format!("{url}/images%2F999"), None);
    assert_eq!((s, err_code(&v)), (404, "6684674"));
    let v = get(
        &sh,
        &format!("{url}/images%2F101%2Fvm-101-disk-0%2Eraw?return_metadata=true&fields=name,path,size,type"),
    );
    assert_eq!(v["num_records"], 1);
    assert_eq!(v["records"][0]["path"], "images/101/vm-101-disk-0.raw");
    assert_eq!(v["records"][0]["size"], 16u64 << 30);
    let v = get(
        &sh,
        &format!("{url}/images?return_metadata=true&fields=type"),
    );
    assert_eq!(v["records"][0]["type"], "directory");
}

#[test]
fn snapshot_directory_is_listable_and_read_only() {
    let sh = shared();
    let url = files_url(&sh);
    let v = get(&sh, &format!("{url}/%2Esnapshot"));
    assert_eq!(
        names(&v),
        [
            ".",
            "..",
            "proxmox_snapshot_2024-03-13_14:42:47+0000",
            "hourly.2026-11-01_0105"
        ]
    );
    let v = get(
        &sh,
        &format!("{url}/%2Esnapshot%2Fhourly%2E2026-11-01_0105%2Fimages%2F101?fields=name,path,is_snapshot&type=file"),
    );
    assert_eq!(v["records"][0]["name"], "vm-101-disk-0.raw");
    assert_eq!(
        v["records"][0]["path"],
        ".snapshot/hourly.2026-11-01_0105/images/101"
    );
    assert_eq!(v["records"][0]["is_snapshot"], true);
    let (s, v) = call(&sh, "GET", &format!("{url}/%2Esnapshot%2Fnope"), None);
    assert_eq!((s, err_code(&v)), (404, "6684674"));
    let (s, v) = call(
        &sh,
        "DELETE",
        &format!(
            "{url}/%2Esnapshot%2Fhourly%2E2026-11-01_0105%2Fimages%2F101%2Fvm-101-disk-0%2Eraw"
        ),
        None,
    );
    assert_eq!((s, err_code(&v)), (400, "131102"));
}

#[test]
fn delete_files_and_directories() {
    let sh = shared();
    let url = files_url(&sh);
    let (s, v) = call(
        &sh,
        "DELETE",
        &format!("{url}/images%2F100%2Fvm-100-disk-9%2Eraw"),
        None,
    );
    assert_eq!(s, 200, "{v}");
    let (s, v) = call(
        &sh,
        "GET",
        &format!("{url}/images%2F100%2Fvm-100-disk-9%2Eraw"),
        None,
    );
    assert_eq!((s, err_code(&v)), (404, "6684674"));
    let (s, v) = call(
        &sh,
        "DELETE",
        &format!("{url}/images%2F100%2Fvm-100-disk-9%2Eraw"),
        None,
    );
    assert_eq!((s, err_code(&v)), (404, "6684674"));
    let (s, v) = call(&sh, "DELETE", &format!("{url}/images%2F102"), None);
    assert_eq!((s, err_code(&v)), (400, "131138"));
    let (s, _) = call(
        &sh,
        "DELETE",
        &format!("{url}/images%2F102?recurse=true"),
        None,
    );
    assert_eq!(s, 200);
    let (s, _) = call(&sh, "DELETE", &format!("{url}/snippets"), None);
    assert_eq!(s, 200, "an empty directory needs no recurse");
    let v = get(&sh, &format!("{url}/images"));
    assert_eq!(names(&v), [".", "..", "100", "101", "104", "200"]);
    // the snapshot still has them
    let v = get(
        &sh,
        &format!("{url}/%2Esnapshot%2Fhourly%2E2026-11-01_0105%2Fimages"),
    );
    assert!(names(&v).contains(&"102".to_string()));
    let (s, v) = call(
        &sh,
        "DELETE",
        &format!("{url}/images%2F100%2Fx?frob=1"),
        None,
    );
    assert_eq!((s, err_code(&v)), (400, "262179"));
    let (s, v) = call(
        &sh,
        "DELETE",
        &format!("{url}/images%2F101%2Fvm-101-disk-0%2Eraw"),
        Some(json!({"a": 1})),
    );
    assert_eq!((s, err_code(&v)), (400, "262198"));
}

#[test]
fn a_faulted_delete_runs_as_a_failing_job() {
    let sh = shared();
    let url = files_url(&sh);
    let fault = JobFault {
        code: 131109,
        message: "Device busy".into(),
    };
    let target = format!("{url}/images%2F104%2Fvm-104-disk-0%2Eraw");
    let (s, v, _) = send_fault(&sh, &request("DELETE", &target, None), Some(&fault));
    assert_eq!(s, 202);
    let j = wait_job(&sh, v["job"]["uuid"].as_str().unwrap());
    assert_eq!(
        (j["state"].as_str(), j["code"].as_u64()),
        (Some("failure"), Some(131109))
    );
    assert_eq!(get(&sh, &target)["num_records"], 1);
}
