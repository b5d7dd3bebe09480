//! Proxmox VE tasks: the UPID a worker-starting call returns, and the exit status that decides
//! success (`OK` or `WARNINGS: n`) once `status` is `stopped`.

use serde_json::Value;

use crate::error::{Error, Result};

/// The node a UPID belongs to (`UPID:<node>:...`).
pub(crate) fn upid_node(upid: &str) -> Option<&str> {
    let mut parts = upid.split(':');
    if parts.next() != Some("UPID") {
        return None;
    }
    parts.next().filter(|n| !n.is_empty())
}

/// What a `tasks/{upid}/status` answer says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TaskState {
    Running,
    Ok,
    Failed(String),
}

pub(crate) fn task_state(status: &Value) -> TaskState {
    let state = status.get("status").and_then(Value::as_str).unwrap_or("");
    if state != "stopped" {
        return TaskState::Running;
    }
    let exit = status
        .get("exitstatus")
        .and_then(super::envelope::lenient_string)
        .unwrap_or_default();
    if exit == "OK" || exit.starts_with("WARNINGS") {
        TaskState::Ok
    } else if exit.is_empty() {
        TaskState::Failed("stopped without an exit status".into())
    } else {
        TaskState::Failed(exit)
    }
}

pub(crate) fn task_error(upid: &str, exitstatus: String) -> Error {
    Error::Task {
        upid: upid.to_string(),
        exitstatus,
    }
}

/// The UPID out of a worker-starting call's `data`.
pub(crate) fn upid_from(data: &Value) -> Result<String> {
    data.as_str()
        .filter(|s| upid_node(s).is_some())
        .map(str::to_string)
        .ok_or_else(|| {
            Error::Refused(format!(
                "Proxmox VE answered {data} where a task id (UPID) was expected"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn upids_name_their_node() {
        let upid = "UPID:pve2:0000C530:0001B2A9:65F1A2B3:qmstart:102:root@pam:";
        assert_eq!(upid_node(upid), Some("pve2"));
        assert_eq!(upid_node("pve2:x"), None);
        assert_eq!(upid_from(&json!(upid)).unwrap(), upid);
        assert!(upid_from(&json!(null)).is_err());
    }

    #[test]
    fn exit_statuses_decide_success() {
        assert_eq!(
            task_state(&json!({"status": "running"})),
            TaskState::Running
        );
        assert_eq!(
            task_state(&json!({"status": "stopped", "exitstatus": "OK"})),
            TaskState::Ok
        );
        assert_eq!(
            task_state(&json!({"status": "stopped", "exitstatus": "WARNINGS: 2"})),
            TaskState::Ok
        );
        assert_eq!(
            task_state(&json!({"status": "stopped", "exitstatus": "VM 100 not running"})),
            TaskState::Failed("VM 100 not running".into())
        );
        assert!(matches!(
            task_state(&json!({"status": "stopped"})),
            TaskState::Failed(_)
        ));
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use crate::props::json;
    use proptest::prelude::*;
    use serde_json::json;

    proptest! {
        #[test]
        fn upids_give_their_node_back(
            node in "[a-z][a-z0-9-]{0,20}",
            pid in any::<u32>(),
            kind in "[a-z]{2,10}",
            id in "[0-9]{0,9}",
        ) {
            let upid = format!("UPID:{node}:{pid:08X}:0012AB34:65F1A2B3:{kind}:{id}:root@pam:");
            prop_assert_eq!(upid_node(&upid), Some(node.as_str()));
            prop_assert_eq!(upid_from(&json!(upid.clone())).unwrap(), upid);
        }

        #[test]
        fn any_text_or_status_is_judged_without_panic(s in any::<String>(), v in json()) {
            let _ = upid_node(&s);
            let _ = upid_from(&v);
            let _ = task_state(&v);
        }

        #[test]
        fn exit_status_decides(exit in any::<String>()) {
            let state = task_state(&json!({"status": "stopped", "exitstatus": exit.clone()}));
            let expected = if exit == "OK" || exit.starts_with("WARNINGS") {
                TaskState::Ok
            } else if exit.is_empty() {
                TaskState::Failed("stopped without an exit status".into())
            } else {
                TaskState::Failed(exit.clone())
            };
            prop_assert_eq!(state, expected);
            prop_assert_eq!(task_state(&json!({"status": "running", "exitstatus": exit})), TaskState::Running);
        }
    }
}
