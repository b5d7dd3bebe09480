//! The Proxmox VE HTTP client: implements `Pve` over `/api2/json` (form-encoded requests, envelope
//! decoding, tasks waited for with a bound). Authentication lives in `auth.rs`.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::{Connection, Login};
use crate::error::{Api, Error, Result, TransportKind};
use crate::http::{percent_encode, Backoff, Body, Transport};

use super::auth::{Auth, API_PREFIX};
use super::denied;
use super::envelope::{self, bool_field, lenient_u64, str_field};
use super::tasks::{self, TaskState};
use super::{
    Guest, GuestConfig, GuestStatus, GuestType, NewNfsStorage, Pve, StorageConfig, CLONE_OPTIONS,
};

/// A form value: text, or a boolean sent as `1`/`0` (the Proxmox schema rejects `true`/`false`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormValue {
    Text(String),
    Bool(bool),
}

/// `application/x-www-form-urlencoded`, every key and value percent-encoded (`+` stays a plus).
pub fn encode_form(pairs: &[(&str, FormValue)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            let v = match v {
                FormValue::Text(t) => percent_encode(t),
                FormValue::Bool(b) => if *b { "1" } else { "0" }.to_string(),
            };
            format!("{}={v}", percent_encode(k))
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Talks to one Proxmox VE API endpoint (any node of the cluster).
pub struct PveClient {
    http: Transport,
    auth: Auth,
    /// Who the client logs in as (named in permission errors; the secret is never shown).
    login: Login,
}

impl std::fmt::Debug for PveClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PveClient")
            .field("http", &self.http)
            .finish_non_exhaustive()
    }
}

impl PveClient {
    /// Builds the transport (TLS per config); no connection is opened until the first call.
    pub fn new(connection: &Connection) -> Result<PveClient> {
        Ok(PveClient {
            http: Transport::new(Api::Proxmox, &connection.endpoint)?,
            auth: Auth::new(&connection.auth),
            login: connection.auth.clone(),
        })
    }

    /// One API call; `path` is below `/api2/json`, with segments already encoded. Returns `data`.
    /// GETs are retried twice on a dropped connection; a 401 with a ticket logs in again once.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        form: Option<&[(&str, FormValue)]>,
    ) -> Result<Value> {
        let mut target = format!("{API_PREFIX}{path}");
        if !query.is_empty() {
            let q: Vec<String> = query
                .iter()
                .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
                .collect();
            target = format!("{target}?{}", q.join("&"));
        }
        let body = form.map(encode_form);
        let mut relogged = false;
        let mut dropped = 0;
        let mut backoff = Backoff::retrying();
        loop {
            let mut headers = self.auth.headers(&self.http, method)?;
            headers.push(("Accept", "application/json".into()));
            let header_refs: Vec<(&str, &str)> =
                headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let sent = self.http.send(
                method,
                &target,
                &header_refs,
                body.as_ref().map(|b| Body {
                    content_type: "application/x-www-form-urlencoded",
                    bytes: b.as_bytes(),
                }),
            );
            let response = match sent {
                Err(Error::Transport {
                    kind: TransportKind::Connect | TransportKind::Protocol,
                    ..
                }) if method == "GET" && dropped < 2 => {
                    dropped += 1;
                    backoff.wait(Instant::now() + Duration::from_secs(2));
                    continue;
                }
                other => other?,
            };
            if response.status == 401 && self.auth.uses_ticket() && !relogged {
                log::debug!("Proxmox VE answered 401; logging in again");
                self.auth.invalidate();
                relogged = true;
                continue;
            }
            return envelope::decode(method, &target, &response).map_err(|e| match e {
                Error::Api(mut api) => {
                    denied::explain(&mut api, &self.login);
                    Error::Api(api)
                }
                e => e,
            });
        }
    }

    fn get(&self, path: &str, query: &[(&str, &str)]) -> Result<Value> {
        self.call("GET", path, query, None)
    }

    fn guest_path(guest: &Guest) -> String {
        format!(
            "/nodes/{}/{}/{}",
            percent_encode(&guest.node),
            guest.guest_type.as_str(),
            guest.vmid
        )
    }

    /// Starts a power action and waits for its task.
    fn power(&self, guest: &Guest, action: &str, wait: Duration) -> Result<()> {
        let data = self.call(
            "POST",
            &format!("{}/status/{action}", Self::guest_path(guest)),
            &[],
            Some(&[][..]),
        )?;
        let upid = tasks::upid_from(&data)?;
        self.wait_task(&upid, wait)
    }

    /// Polls `/nodes/{node}/tasks/{upid}/status` (50 ms doubling to 1 s) until the task stops or
    /// `bound` passes.
    pub fn wait_task(&self, upid: &str, bound: Duration) -> Result<()> {
        let node = tasks::upid_node(upid)
            .ok_or_else(|| Error::Refused(format!("'{upid}' is not a Proxmox task id")))?;
        let path = format!(
            "/nodes/{}/tasks/{}/status",
            percent_encode(node),
            percent_encode(upid)
        );
        let started = Instant::now();
        let deadline = started + bound;
        let mut backoff = Backoff::polling();
        loop {
            let status = self.get(&path, &[])?;
            match tasks::task_state(&status) {
                TaskState::Ok => return Ok(()),
                TaskState::Failed(exit) => return Err(tasks::task_error(upid, exit)),
                TaskState::Running => {}
            }
            if !backoff.wait(deadline) {
                return Err(Error::Timeout {
                    what: format!("Proxmox task {upid}"),
                    waited: started.elapsed(),
                });
            }
        }
    }

    fn agent(&self, guest: &Guest, command: &str) -> Result<Value> {
        if guest.guest_type != GuestType::Qemu {
            return Err(Error::Refused(format!(
                "guest {} is a container; the guest agent is a QEMU feature",
                guest.vmid
            )));
        }
        let data = self.call(
            "POST",
            &format!("{}/agent/{command}", Self::guest_path(guest)),
            &[],
            Some(&[][..]),
        )?;
        Ok(data.get("result").cloned().unwrap_or(data))
    }
}

fn storage_from(v: &Value) -> StorageConfig {
    StorageConfig {
        storage: str_field(v, "storage").unwrap_or_default(),
        storage_type: str_field(v, "type").unwrap_or_default(),
        server: str_field(v, "server"),
        export: str_field(v, "export"),
        path: str_field(v, "path"),
        content: str_field(v, "content"),
        options: str_field(v, "options"),
        nodes: str_field(v, "nodes"),
        content_dirs: str_field(v, "content-dirs"),
        disable: bool_field(v, "disable"),
        snapshot_as_volume_chain: bool_field(v, "snapshot-as-volume-chain"),
        clone_options: CLONE_OPTIONS
            .iter()
            .filter_map(|k| str_field(v, k).map(|value| (k.to_string(), value)))
            .collect(),
    }
}

fn guest_from(v: &Value) -> Option<Guest> {
    let guest_type = match v.get("type").and_then(Value::as_str)? {
        "qemu" => GuestType::Qemu,
        "lxc" => GuestType::Lxc,
        _ => return None,
    };
    Some(Guest {
        vmid: u32::try_from(v.get("vmid").and_then(lenient_u64)?).ok()?,
        node: str_field(v, "node")?,
        guest_type,
        name: str_field(v, "name"),
        status: str_field(v, "status").unwrap_or_else(|| "unknown".into()),
    })
}

fn protocol_error(method: &str, path: &str, what: &str) -> Error {
    Error::Transport {
        api: Api::Proxmox,
        method: method.to_string(),
        path: format!("{API_PREFIX}{path}"),
        kind: TransportKind::Protocol,
        message: what.to_string(),
    }
}

impl Pve for PveClient {
    fn storage(&self, id: &str) -> Result<StorageConfig> {
        let path = format!("/storage/{}", percent_encode(id));
        match self.get(&path, &[]) {
            Ok(v) if v.is_object() => {
                let mut s = storage_from(&v);
                if s.storage.is_empty() {
                    s.storage = id.to_string();
                }
                Ok(s)
            }
            Ok(_) => Err(protocol_error(
                "GET",
                &path,
                "storage answer is not an object",
            )),
            Err(Error::Api(e)) if envelope::is_does_not_exist(&e) => Err(Error::NotFound {
                what: format!("Proxmox VE storage '{id}'"),
            }),
            Err(e) => Err(e),
        }
    }

    fn storages(&self) -> Result<Vec<StorageConfig>> {
        let data = self.get("/storage", &[])?;
        Ok(data
            .as_array()
            .map(|a| a.iter().map(storage_from).collect())
            .unwrap_or_default())
    }

    fn create_nfs_storage(&self, spec: &NewNfsStorage) -> Result<()> {
        let mut form = vec![
            ("storage", FormValue::Text(spec.storage.clone())),
            ("type", FormValue::Text("nfs".into())),
            ("server", FormValue::Text(spec.server.clone())),
            ("export", FormValue::Text(spec.export.clone())),
        ];
        for (key, value) in [
            ("content", &spec.content),
            ("options", &spec.options),
            ("nodes", &spec.nodes),
        ] {
            if let Some(v) = value {
                form.push((key, FormValue::Text(v.clone())));
            }
        }
        for (key, value) in &spec.more {
            form.push((key.as_str(), FormValue::Text(value.clone())));
        }
        self.call("POST", "/storage", &[], Some(&form))?;
        Ok(())
    }

    fn delete_storage(&self, id: &str) -> Result<()> {
        let path = format!("/storage/{}", percent_encode(id));
        match self.call("DELETE", &path, &[], None) {
            Ok(_) => Ok(()),
            Err(Error::Api(e)) if envelope::is_does_not_exist(&e) => Err(Error::NotFound {
                what: format!("Proxmox VE storage '{id}'"),
            }),
            Err(e) => Err(e),
        }
    }

    fn guests(&self) -> Result<Vec<Guest>> {
        let data = self.get("/cluster/resources", &[("type", "vm")])?;
        let mut guests: Vec<Guest> = data
            .as_array()
            .map(|a| a.iter().filter_map(guest_from).collect())
            .unwrap_or_default();
        guests.sort_by_key(|g| g.vmid);
        Ok(guests)
    }

    fn guest(&self, vmid: u32) -> Result<Guest> {
        self.guests()?
            .into_iter()
            .find(|g| g.vmid == vmid)
            .ok_or_else(|| Error::NotFound {
                what: format!("guest {vmid}"),
            })
    }

    fn guest_config(&self, guest: &Guest) -> Result<GuestConfig> {
        let path = format!("{}/config", Self::guest_path(guest));
        let data = self.get(&path, &[("current", "1")])?;
        let map = data
            .as_object()
            .ok_or_else(|| protocol_error("GET", &path, "guest config is not an object"))?;
        Ok(map
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), envelope::lenient_string(v)?)))
            .collect())
    }

    fn guest_status(&self, guest: &Guest) -> Result<GuestStatus> {
        let path = format!("{}/status/current", Self::guest_path(guest));
        let v = self.get(&path, &[])?;
        Ok(GuestStatus {
            status: str_field(&v, "status")
                .ok_or_else(|| protocol_error("GET", &path, "guest status has no 'status'"))?,
            qmpstatus: str_field(&v, "qmpstatus"),
            agent: bool_field(&v, "agent"),
            lock: str_field(&v, "lock").filter(|l| !l.is_empty()),
        })
    }

    fn suspend(&self, guest: &Guest, wait: Duration) -> Result<()> {
        self.power(guest, "suspend", wait)
    }

    fn resume(&self, guest: &Guest, wait: Duration) -> Result<()> {
        self.power(guest, "resume", wait)
    }

    fn shutdown(&self, guest: &Guest, wait: Duration) -> Result<()> {
        self.power(guest, "shutdown", wait)
    }

    fn start(&self, guest: &Guest, wait: Duration) -> Result<()> {
        self.power(guest, "start", wait)
    }

    fn agent_ping(&self, guest: &Guest) -> Result<()> {
        self.agent(guest, "ping").map(|_| ())
    }

    fn fsfreeze_freeze(&self, guest: &Guest) -> Result<u64> {
        let v = self.agent(guest, "fsfreeze-freeze")?;
        Ok(lenient_u64(&v).unwrap_or(0))
    }

    fn fsfreeze_thaw(&self, guest: &Guest) -> Result<u64> {
        let v = self.agent(guest, "fsfreeze-thaw")?;
        Ok(lenient_u64(&v).unwrap_or(0))
    }

    fn fsfreeze_status(&self, guest: &Guest) -> Result<String> {
        let v = self.agent(guest, "fsfreeze-status")?;
        envelope::lenient_string(&v).ok_or_else(|| {
            protocol_error(
                "POST",
                &format!("{}/agent/fsfreeze-status", Self::guest_path(guest)),
                "fsfreeze-status answer is not a string",
            )
        })
    }

    fn create_vm(&self, node: &str, vmid: u32, config: &GuestConfig, wait: Duration) -> Result<()> {
        self.post_create_vm(node, vmid, config, wait)
    }

    fn destroy_vm(&self, guest: &Guest, wait: Duration) -> Result<()> {
        self.delete_vm(guest, wait)
    }

    fn set_config(&self, guest: &Guest, set: &[(String, String)], delete: &[String]) -> Result<()> {
        self.put_config(guest, set, delete)
    }

    fn version(&self) -> Result<String> {
        let v = self.get("/version", &[])?;
        str_field(&v, "version")
            .ok_or_else(|| protocol_error("GET", "/version", "no 'version' in the answer"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn forms_encode_booleans_as_digits_and_escape_everything_else() {
        let form = encode_form(&[
            ("storage", FormValue::Text("ONTAP01-CLONE".into())),
            ("options", FormValue::Text("vers=4.2,nconnect=16".into())),
            (
                "volume",
                FormValue::Text("ONTAP01:100/vm-100-disk-0+1.raw".into()),
            ),
            ("disable", FormValue::Bool(false)),
            ("shared", FormValue::Bool(true)),
        ]);
        assert_eq!(
            form,
            "storage=ONTAP01-CLONE&options=vers%3D4.2%2Cnconnect%3D16&volume=ONTAP01%3A100%2Fvm-100-disk-0%2B1.raw&disable=0&shared=1"
        );
    }

    #[test]
    fn storages_and_guests_decode_perl_values() {
        let s = storage_from(&json!({
            "storage": "ONTAP01", "type": "nfs", "server": "127.0.10.1", "export": "/ONTAP01",
            "content": "images,rootdir", "shared": 1, "disable": "0",
            "snapshot-as-volume-chain": "1", "content-dirs": "images=img"
        }));
        assert_eq!(s.storage_type, "nfs");
        assert_eq!(s.export.as_deref(), Some("/ONTAP01"));
        assert!(!s.disable);
        assert!(s.snapshot_as_volume_chain);
        assert_eq!(s.content_dirs.as_deref(), Some("images=img"));
        let g = guest_from(&json!({"id": "qemu/100", "vmid": "100", "type": "qemu", "node": "pve1", "status": "running", "name": "web01"})).unwrap();
        assert_eq!(g.vmid, 100);
        assert_eq!(g.guest_type, GuestType::Qemu);
        assert!(guest_from(&json!({"type": "storage", "node": "pve1"})).is_none());
    }
}
