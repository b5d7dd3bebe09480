//! Authentication, roles, generic request rules, cluster/SVM/LIF resources, export mapping.

use serde_json::json;

use super::*;
use crate::ontap::{Account, OntapState, Role};

#[test]
fn missing_or_wrong_credentials_get_401_with_an_ontap_error() {
    let sh = shared();
    for user in [None, Some(("admin", "wrong")), Some(("nobody", ADMIN.1))] {
        let (s, v, r) = send(&sh, &request_as(user, "GET", "/api/cluster", None));
        assert_eq!(s, 401, "{user:?}");
        assert!(v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Authentication failed"));
        assert!(r.headers.iter().any(|(k, _)| k == "WWW-Authenticate"));
    }
    let (s, v, _) = send(&sh, &request_as(Some(ADMIN), "GET", "/api/cluster", None));
    assert_eq!(s, 200, "{v}");
}

#[test]
fn utf8_credentials_and_roles() {
    let mut sc = scenario();
    sc.accounts.push(Account {
        name: "jürgen".into(),
        password: "pässwörd:1".into(),
        role: Role::Readonly,
    });
    sc.accounts.push(Account {
        name: "vsadmin".into(),
        password: "v".into(),
        role: Role::Vsadmin,
    });
    let sh = shared_with(sc);
    let ro = Some(("jürgen", "pässwörd:1"));
    let (s, _, _) = send(&sh, &request_as(ro, "GET", "/api/storage/volumes", None));
    assert_eq!(s, 200);
    let vol = vol_uuid(&sh, "ONTAP01");
    let target = format!("/api/storage/volumes/{vol}/snapshots");
    let (s, v, _) = send(
        &sh,
        &request_as(ro, "POST", &target, Some(json!({"name": "x"}))),
    );
    assert_eq!((s, err_code(&v)), (403, "6"), "{v}");
    let vs = Some(("vsadmin", "v"));
    let (s, v, _) = send(&sh, &request_as(vs, "GET", "/api/cluster", None));
    assert_eq!((s, err_code(&v)), (403, "6"));
    let (s, _, _) = send(
        &sh,
        &request_as(
            vs,
            "GET",
            "/api/network/ip/interfaces?ip.address=127.0.10.1",
            None,
        ),
    );
    assert_eq!(s, 403);
    let (s, _, _) = send(&sh, &request_as(vs, "GET", "/api/storage/volumes", None));
    assert_eq!(s, 200);
    assert_eq!(get(&sh, &target).get("num_records"), Some(&json!(2)));
}

#[test]
fn cluster_version_and_fields() {
    let sh = shared();
    let v = get(&sh, "/api/cluster?fields=version");
    assert_eq!(v["version"]["generation"], 9);
    assert_eq!(v["version"]["major"], 14);
    assert_eq!(v["version"]["minor"], 1);
    assert!(v["version"]["full"]
        .as_str()
        .unwrap()
        .starts_with("NetApp Release 9.14.1"));
    assert!(v.get("name").is_none());
    let v = get(&sh, "/api/cluster");
    assert_eq!(v["name"], "sim-cluster");
    assert!(v["uuid"].as_str().unwrap().len() == 36);
    let sh = shared_with(Scenario {
        version: "9.8.0P5".into(),
        ..scenario()
    });
    let v = get(&sh, "/api/cluster?fields=version.major,version.full");
    assert_eq!(v["version"]["major"], 8);
    assert!(v["version"].get("generation").is_none());
    assert!(v["version"]["full"].as_str().unwrap().contains("9.8.0P5"));
}

#[test]
fn svms_and_lif_lookup() {
    let sh = shared();
    let v = get(&sh, "/api/svm/svms");
    assert_eq!(names(&v), ["svm1", "svm2"]);
    let uuid = v["records"][1]["uuid"].as_str().unwrap().to_string();
    assert_eq!(get(&sh, &format!("/api/svm/svms/{uuid}"))["name"], "svm2");
    let v = get(
        &sh,
        "/api/network/ip/interfaces?ip.address=127.0.10.1&fields=name,uuid,ip.address,svm.name,svm.uuid",
    );
    assert_eq!(v["num_records"], 1);
    let r = &v["records"][0];
    assert_eq!(r["name"], "lif_svm1_nfs");
    assert_eq!(r["ip"]["address"], "127.0.10.1");
    assert_eq!(r["svm"]["name"], "svm1");
    assert_eq!(
        r["svm"]["uuid"],
        get(&sh, "/api/svm/svms?name=svm1")["records"][0]["uuid"]
    );
    assert!(r.get("services").is_none());
    let v = get(&sh, "/api/network/ip/interfaces?ip.address=10.9.9.9");
    assert_eq!(v["num_records"], 0);
    let v = get(&sh, "/api/protocols/nfs/export-policies?svm.name=svm1");
    assert_eq!(names(&v), ["default", "pve_hosts"]);
}

#[test]
fn unknown_query_parameter_and_body_field_are_262179() {
    let sh = shared();
    let (s, v) = call(&sh, "GET", "/api/storage/volumes?bogus=1", None);
    assert_eq!((s, err_code(&v)), (400, "262179"));
    assert_eq!(v["error"]["target"], "bogus");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("\"bogus\""));
    let vol = vol_uuid(&sh, "ONTAP01");
    let (s, v) = call(
        &sh,
        "PATCH",
        &format!("/api/storage/volumes/{vol}?frob=1"),
        Some(json!({})),
    );
    assert_eq!((s, err_code(&v)), (400, "262179"));
    let (s, v) = call(
        &sh,
        "POST",
        &format!("/api/storage/volumes/{vol}/snapshots"),
        Some(json!({"name": "s1", "colour": "red"})),
    );
    assert_eq!((s, err_code(&v)), (400, "262179"));
    assert_eq!(v["error"]["target"], "colour");
    assert_eq!(
        get(&sh, &format!("/api/storage/volumes/{vol}/snapshots"))["num_records"],
        2
    );
}

#[test]
fn bad_json_get_with_body_wrong_method_and_unknown_paths() {
    let sh = shared();
    let vol = vol_uuid(&sh, "ONTAP01");
    let mut req = request(
        "POST",
        &format!("/api/storage/volumes/{vol}/snapshots"),
        None,
    );
    req.body = b"{\"name\": ".to_vec();
    let (s, v, _) = send(&sh, &req);
    assert_eq!((s, err_code(&v)), (400, "262199"), "{v}");
    let (s, v) = call(
        &sh,
        "GET",
        "/api/storage/volumes",
        Some(json!({"name": "x"})),
    );
    assert_eq!((s, err_code(&v)), (400, "262198"));
    let (s, _) = call(&sh, "GET", "/api/storage/volumes", Some(json!({})));
    assert_eq!(s, 200);
    let (s, v, r) = send(&sh, &request("PUT", "/api/storage/volumes", None));
    assert_eq!((s, err_code(&v)), (405, "3"));
    assert!(r
        .headers
        .iter()
        .any(|(k, val)| k == "Allow" && val.contains("POST")));
    let (s, _) = call(&sh, "DELETE", "/api/cluster", None);
    assert_eq!(s, 405);
    let (s, v) = call(&sh, "GET", "/api/storage/frobs", None);
    assert_eq!((s, err_code(&v)), (404, "4"));
    let (s, v) = call(
        &sh,
        "GET",
        "/api/storage/volumes/00000000-0000-4000-8000-000000000000",
        None,
    );
    assert_eq!((s, err_code(&v)), (404, "4"));
    assert_eq!(v["error"]["target"], "uuid");
    let (s, v) = call(&sh, "GET", "/api/storage/volumes/nope/snapshots", None);
    assert_eq!((s, err_code(&v)), (404, "918235"));
    let (s, v) = call(&sh, "GET", "/api/storage/volumes/nope/files/images", None);
    assert_eq!((s, err_code(&v)), (404, "918235"));
    let (s, v, _) = send(&sh, &request("HEAD", "/api/cluster", None));
    assert_eq!((s, v), (200, serde_json::Value::Null));
}

#[test]
fn exported_files_follow_the_lif_and_the_longest_junction() {
    let st = OntapState::new(&scenario());
    let f = st.exported_files("127.0.10.1", "/vmstore2").unwrap();
    let paths: Vec<_> = f.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "images/103/vm-103-disk-0.raw",
            "images/200/vm-200-disk-0.raw"
        ]
    );
    let f = st.exported_files("127.0.20.1", "/vmstore2").unwrap();
    assert_eq!(f[0].path, "images/999/vm-999-disk-0.raw");
    let f = st.exported_files("127.0.10.1", "/nested/pve").unwrap();
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].path, "images/105/vm-105-disk-0.raw");
    assert_eq!(f[0].size, 2 << 30);
    let f = st.exported_files("127.0.10.1", "/ONTAP01/").unwrap();
    assert_eq!(f.len(), 10);
    assert!(f.iter().all(|f| f.generation == 1));
    assert!(st.exported_files("127.0.10.1", "/nested/missing").is_none());
    assert!(st.exported_files("10.0.0.1", "/ONTAP01").is_none());
    assert!(st.exported_files("127.0.20.1", "/ONTAP01").is_none());
    assert_eq!(
        st.admin_credentials(),
        (ADMIN.0.to_string(), ADMIN.1.to_string())
    );
}

#[test]
fn write_files_bumps_generations() {
    let mut st = OntapState::new(&scenario());
    let n = st.write_files(
        "127.0.10.1",
        "/ONTAP01",
        &[
            "images/100/vm-100-disk-0.qcow2".into(),
            "images/100/missing.raw".into(),
        ],
    );
    assert_eq!(n, 1);
    let f = st.exported_files("127.0.10.1", "/ONTAP01").unwrap();
    let g = |p: &str| f.iter().find(|x| x.path == p).unwrap().generation;
    assert_eq!(g("images/100/vm-100-disk-0.qcow2"), 2);
    assert_eq!(g("images/100/vm-100-disk-1.raw"), 1);
    assert_eq!(
        st.write_files(
            "127.0.10.1",
            "/nested/pve",
            &["images/105/vm-105-disk-0.raw".into()]
        ),
        1
    );
    let dump = st.dump();
    assert_eq!(dump["volumes"][0]["name"], "ONTAP01");
    assert_eq!(dump["volumes"][3]["files"][0]["generation"], 2);
}

#[test]
fn scenario_problems_are_reported() {
    let mut sc = scenario();
    assert!(sc.validate().is_empty(), "{:?}", sc.validate());
    sc.volumes[0].svm = "svm9".into();
    sc.volumes[1].snapshots.push(crate::ontap::SnapshotSpec {
        name: "s".into(),
        uuid: None,
        create_time: Some("yesterday".into()),
        comment: None,
        snapmirror_label: None,
        expiry_time: None,
        snaplock_expiry_time: None,
        owners: vec![],
        files: None,
    });
    let p = sc.validate();
    assert_eq!(p.len(), 2, "{p:?}");
    assert!(p[0].contains("yesterday") || p[1].contains("yesterday"));
}
