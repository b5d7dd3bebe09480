//! Guest creation and config changes: `POST /nodes/{node}/qemu` (a new VM on existing volumes,
//! waited for as a task), `DELETE /nodes/{node}/qemu/{vmid}` and `PUT .../config` (set and
//! delete keys, synchronous).

use std::time::Duration;

use super::client::{FormValue, PveClient};
use super::{tasks, Guest, GuestConfig};
use crate::error::Result;
use crate::http::percent_encode;

impl PveClient {
    /// `POST /nodes/{node}/qemu` with `vmid` and every config key; waits for the `qmcreate` task.
    pub(super) fn post_create_vm(
        &self,
        node: &str,
        vmid: u32,
        config: &GuestConfig,
        wait: Duration,
    ) -> Result<()> {
        let mut form: Vec<(&str, FormValue)> = vec![("vmid", FormValue::Text(vmid.to_string()))];
        form.extend(
            config
                .iter()
                .map(|(k, v)| (k.as_str(), FormValue::Text(v.clone()))),
        );
        let data = self.call(
            "POST",
            &format!("/nodes/{}/qemu", percent_encode(node)),
            &[],
            Some(&form),
        )?;
        let upid = tasks::upid_from(&data)?;
        self.wait_task(&upid, wait)
    }

    /// `DELETE /nodes/{node}/qemu/{vmid}`; waits for the `qmdestroy` task.
    pub(super) fn delete_vm(&self, guest: &Guest, wait: Duration) -> Result<()> {
        let path = format!("/nodes/{}/qemu/{}", percent_encode(&guest.node), guest.vmid);
        let data = self.call("DELETE", &path, &[], None)?;
        let upid = tasks::upid_from(&data)?;
        self.wait_task(&upid, wait)
    }

    /// `PUT .../config`: set `set`, delete `delete` (comma-separated, as Proxmox takes it).
    pub(super) fn put_config(
        &self,
        guest: &Guest,
        set: &[(String, String)],
        delete: &[String],
    ) -> Result<()> {
        let mut form: Vec<(&str, FormValue)> = set
            .iter()
            .map(|(k, v)| (k.as_str(), FormValue::Text(v.clone())))
            .collect();
        let joined = delete.join(",");
        if !delete.is_empty() {
            form.push(("delete", FormValue::Text(joined)));
        }
        let path = format!(
            "/nodes/{}/{}/{}/config",
            percent_encode(&guest.node),
            guest.guest_type.as_str(),
            guest.vmid
        );
        self.call("PUT", &path, &[], Some(&form))?;
        Ok(())
    }
}
