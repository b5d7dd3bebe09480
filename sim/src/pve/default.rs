//! The built-in default Proxmox scenario: cluster `simcluster` (9.1.2) with nodes pve1/pve2, the
//! storages local, local-lvm, ONTAP01-03, guests 100-105 and 200, and the root@pam account.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::access::AccessSpec;
use super::scenario::{
    AgentSpec, FileSpec, GuestSpec, GuestType, NodeSpec, RunStatus, Scenario, StorageSpec, Timing,
    TokenSpec, UserSpec,
};

/// Password of `root@pam` in the default scenario (16 characters, quotes and backslash included).
pub const ROOT_PASSWORD: &str = r#"Pve-Pa55;#"\=x"#;
/// The default API token `root@pam!snap` and its secret.
pub const TOKEN_NAME: &str = "snap";
pub const TOKEN_SECRET: &str = "5ec2e7a0-6d1c-4d5e-9a55-0b5e1e7f2c11";

const GIB: u64 = 1 << 30;
const MIB: u64 = 1 << 20;

impl Default for Scenario {
    fn default() -> Scenario {
        Scenario {
            cluster_name: "simcluster".into(),
            version: "9.1.2".into(),
            release: String::new(),
            repoid: "b86f0a5a".into(),
            local_node: None,
            nodes: vec![node("pve1", "10.10.10.11"), node("pve2", "10.10.10.12")],
            storages: default_storages(),
            guests: default_guests(),
            access: AccessSpec::default(),
            http_server_version: String::new(),
            users: vec![UserSpec {
                userid: "root@pam".into(),
                password: Some(ROOT_PASSWORD.into()),
                enabled: true,
                tokens: vec![TokenSpec {
                    name: TOKEN_NAME.into(),
                    secret: TOKEN_SECRET.into(),
                    expire: 0,
                    // Full rights, as the scenario has always given this token.
                    privsep: false,
                }],
            }],
            timing: Timing::default(),
        }
    }
}

fn node(name: &str, ip: &str) -> NodeSpec {
    NodeSpec {
        name: name.into(),
        ip: ip.into(),
        ..NodeSpec::default()
    }
}

fn storage(id: &str, storage_type: &str, options: Value) -> StorageSpec {
    let options = match options {
        Value::Object(map) => map.into_iter().collect(),
        _ => BTreeMap::new(),
    };
    StorageSpec {
        storage: id.into(),
        storage_type: storage_type.into(),
        files: Vec::new(),
        total: None,
        options,
    }
}

fn default_storages() -> Vec<StorageSpec> {
    let mut local = storage(
        "local",
        "dir",
        json!({"path": "/var/lib/vz", "content": "iso,vztmpl,backup,snippets"}),
    );
    local.files = vec![FileSpec {
        path: "template/iso/debian-13.iso".into(),
        size: 600 * MIB,
    }];
    local.total = Some(100 * GIB);
    let mut lvm = storage(
        "local-lvm",
        "lvmthin",
        json!({"vgname": "pve", "thinpool": "data", "content": "images,rootdir"}),
    );
    lvm.files = vec![FileSpec {
        path: "vm-101-disk-1".into(),
        size: 4 * GIB,
    }];
    lvm.total = Some(200 * GIB);
    let mut ontap01 = storage(
        "ONTAP01",
        "nfs",
        json!({"server": "127.0.10.1", "export": "/ONTAP01", "path": "/mnt/pve/ONTAP01",
               "content": "images,rootdir", "options": "vers=4.2,nconnect=16"}),
    );
    ontap01.total = Some(1 << 40);
    let mut ontap02 = storage(
        "ONTAP02",
        "nfs",
        json!({"server": "127.0.10.1", "export": "/vmstore2", "path": "/mnt/pve/ONTAP02",
               "content": "images,rootdir", "options": "vers=3"}),
    );
    ontap02.total = Some(500 * GIB);
    let ontap03 = storage(
        "ONTAP03",
        "nfs",
        json!({"server": "127.0.10.1", "export": "/nested/pve", "path": "/mnt/pve/ONTAP03",
               "content": "images"}),
    );
    vec![local, lvm, ontap01, ontap02, ontap03]
}

fn guest(
    vmid: u32,
    guest_type: GuestType,
    node: &str,
    status: RunStatus,
    config: &[(&str, &str)],
) -> GuestSpec {
    GuestSpec {
        vmid,
        guest_type,
        node: node.into(),
        status,
        config: config
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        pending: BTreeMap::new(),
        agent: AgentSpec::default(),
        ignores_shutdown: false,
    }
}

fn default_guests() -> Vec<GuestSpec> {
    use GuestType::{Lxc, Qemu};
    use RunStatus::{Running, Stopped};
    let web01 = guest(
        100,
        Qemu,
        "pve1",
        Running,
        &[
            ("name", "web01"),
            ("memory", "4096"),
            ("cores", "2"),
            ("ostype", "l26"),
            ("boot", "order=scsi0"),
            ("net0", "virtio=BC:24:11:00:01:00,bridge=vmbr0"),
            ("agent", "1"),
            (
                "scsi0",
                "ONTAP01:100/vm-100-disk-0.qcow2,iothread=1,size=32G",
            ),
            ("virtio0", "ONTAP01:100/vm-100-disk-1.raw,size=8G"),
            (
                "efidisk0",
                "ONTAP01:100/vm-100-disk-2.raw,efitype=4m,size=528K",
            ),
            (
                "tpmstate0",
                "ONTAP01:100/vm-100-disk-3.raw,size=4M,version=v2.0",
            ),
            ("ide2", "local:iso/debian-13.iso,media=cdrom,size=600M"),
            ("ide0", "ONTAP01:100/vm-100-cloudinit.qcow2,media=cdrom"),
            ("unused0", "ONTAP01:100/vm-100-disk-9.raw"),
        ],
    );
    let db01 = guest(
        101,
        Qemu,
        "pve1",
        Running,
        &[
            ("name", "db01"),
            ("memory", "8192"),
            ("cores", "4"),
            ("ostype", "l26"),
            ("boot", "order=sata0"),
            ("net0", "virtio=BC:24:11:00:01:01,bridge=vmbr0"),
            ("sata0", "ONTAP01:101/vm-101-disk-0.raw,size=16G"),
            ("scsi1", "local-lvm:vm-101-disk-1,size=4G"),
        ],
    );
    let stopped01 = guest(
        102,
        Qemu,
        "pve2",
        Stopped,
        &[
            ("name", "stopped01"),
            ("memory", "2048"),
            ("cores", "1"),
            ("ostype", "l26"),
            ("boot", "order=scsi0"),
            ("agent", "1"),
            ("scsi0", "ONTAP01:102/vm-102-disk-0.qcow2,size=20G"),
        ],
    );
    let app01 = guest(
        103,
        Qemu,
        "pve2",
        Running,
        &[
            ("name", "app01"),
            ("memory", "2048"),
            ("cores", "2"),
            ("ostype", "l26"),
            ("boot", "order=scsi0"),
            ("agent", "1"),
            ("scsi0", "ONTAP02:103/vm-103-disk-0.raw,size=10G"),
        ],
    );
    let mut noagent01 = guest(
        104,
        Qemu,
        "pve1",
        Running,
        &[
            ("name", "noagent01"),
            ("memory", "1024"),
            ("cores", "1"),
            ("ostype", "l26"),
            ("boot", "order=scsi0"),
            ("agent", "1"),
            ("scsi0", "ONTAP01:104/vm-104-disk-0.raw,size=4G"),
        ],
    );
    noagent01.agent.responding = false;
    let nested01 = guest(
        105,
        Qemu,
        "pve2",
        Stopped,
        &[
            ("name", "nested01"),
            ("memory", "1024"),
            ("cores", "1"),
            ("ostype", "l26"),
            ("boot", "order=scsi0"),
            ("scsi0", "ONTAP03:105/vm-105-disk-0.raw,size=2G"),
        ],
    );
    let ct01 = guest(
        200,
        Lxc,
        "pve2",
        Running,
        &[
            ("arch", "amd64"),
            ("hostname", "ct01"),
            ("memory", "1024"),
            ("swap", "512"),
            ("cores", "1"),
            ("ostype", "debian"),
            ("unprivileged", "1"),
            ("rootfs", "ONTAP02:200/vm-200-disk-0.raw,size=8G"),
            ("mp0", "ONTAP01:200/vm-200-disk-1.raw,mp=/data,size=8G"),
        ],
    );
    vec![web01, db01, stopped01, app01, noagent01, nested01, ct01]
}
