//! ONTAP jobs: the job link in a mutation's answer, the job states, and waiting for a job with
//! backoff (50 ms doubling to 1 s) within a deadline. A job that vanished (404) is reported as such:
//! the caller looks at the resource instead.

use std::time::Instant;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::http::Backoff;

use super::fields;

/// The job uuid of a `job_link_response` (`{"job": {"uuid": ...}}`).
pub(crate) fn job_uuid(body: &Value) -> Option<String> {
    body.get("job")
        .and_then(|j| j.get("uuid"))
        .and_then(Value::as_str)
        .filter(|u| !u.is_empty())
        .map(str::to_string)
}

/// Where a job stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum JobState {
    /// `queued`, `running`, `paused`.
    Pending,
    Success,
    /// `failure` (or any other terminal state): code and message, `error.*` preferred.
    Failure {
        code: String,
        message: String,
    },
}

pub(crate) fn job_state(job: &Value) -> JobState {
    let state = job.get("state").and_then(Value::as_str).unwrap_or("");
    match state {
        "success" => JobState::Success,
        "queued" | "running" | "paused" | "" => JobState::Pending,
        other => {
            let message = job
                .get("error")
                .and_then(|e| e.get("message"))
                .and_then(Value::as_str)
                .or_else(|| job.get("message").and_then(Value::as_str))
                .filter(|m| !m.trim().is_empty())
                .map(|m| m.trim().to_string())
                .unwrap_or_else(|| format!("job ended in state '{other}'"));
            JobState::Failure {
                code: fields::job_code(job).unwrap_or_else(|| "unknown".into()),
                message,
            }
        }
    }
}

/// How a wait ended without an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JobEnd {
    Success,
    /// The job record is gone (404): look at the resource to learn the outcome.
    Vanished,
}

/// Polls `get` (the job record, `None` for 404) until the job ends or `deadline` passes.
pub(crate) fn wait(
    uuid: &str,
    started: Instant,
    deadline: Instant,
    mut get: impl FnMut() -> Result<Option<Value>>,
) -> Result<JobEnd> {
    let mut backoff = Backoff::polling();
    let mut description = String::new();
    loop {
        let Some(job) = get()? else {
            return Ok(JobEnd::Vanished);
        };
        if let Some(d) = job.get("description").and_then(Value::as_str) {
            description = d.to_string();
        }
        match job_state(&job) {
            JobState::Success => return Ok(JobEnd::Success),
            JobState::Failure { code, message } => {
                return Err(Error::Job {
                    uuid: uuid.to_string(),
                    description,
                    code,
                    message,
                })
            }
            JobState::Pending => {}
        }
        if !backoff.wait(deadline) {
            let what = if description.is_empty() {
                format!("ONTAP job {uuid}")
            } else {
                format!("ONTAP job {uuid} ({description})")
            };
            return Err(Error::Timeout {
                what,
                waited: started.elapsed(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::time::Duration;

    #[test]
    fn job_links_and_states_decode() {
        assert_eq!(
            job_uuid(
                &json!({"job": {"uuid": "j1", "_links": {"self": {"href": "/api/cluster/jobs/j1"}}}})
            ),
            Some("j1".into())
        );
        assert_eq!(job_uuid(&json!({"records": []})), None);
        assert_eq!(job_state(&json!({"state": "running"})), JobState::Pending);
        assert_eq!(job_state(&json!({"state": "queued"})), JobState::Pending);
        assert_eq!(
            job_state(&json!({"state": "success", "code": 0})),
            JobState::Success
        );
        // 9.9+: the error object wins over the top-level code and message.
        assert_eq!(
            job_state(
                &json!({"state": "failure", "code": 460770, "message": "Job failed.",
                              "error": {"code": "13565952", "message": "Clone start failed."}})
            ),
            JobState::Failure {
                code: "13565952".into(),
                message: "Clone start failed.".into()
            }
        );
        // 9.8: only code and message.
        assert_eq!(
            job_state(&json!({"state": "failure", "code": 524486, "message": "Volume busy"})),
            JobState::Failure {
                code: "524486".into(),
                message: "Volume busy".into()
            }
        );
        assert!(matches!(
            job_state(&json!({"state": "cancelled"})),
            JobState::Failure { .. }
        ));
    }

    #[test]
    fn waiting_polls_until_success() {
        let mut polls = 0;
        let now = Instant::now();
        let end = wait("j", now, now + Duration::from_secs(10), || {
            polls += 1;
            Ok(Some(if polls < 3 {
                json!({"state": "running", "description": "POST /api/storage/file/clone"})
            } else {
                json!({"state": "success"})
            }))
        })
        .unwrap();
        assert_eq!(end, JobEnd::Success);
        assert_eq!(polls, 3);
    }

    #[test]
    fn failures_name_the_job_and_the_code() {
        let now = Instant::now();
        let e = wait("j9", now, now + Duration::from_secs(10), || {
            Ok(Some(
                json!({"state": "failure", "description": "POST /api/storage/file/clone",
                           "code": 13565952, "message": "Clone start failed."}),
            ))
        })
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "ONTAP job j9 (POST /api/storage/file/clone) failed: Clone start failed. (error 13565952)"
        );
        assert_eq!(e.ontap_code(), Some("13565952"));
    }

    #[test]
    fn vanished_jobs_and_deadlines() {
        let now = Instant::now();
        assert_eq!(
            wait("j", now, now + Duration::from_secs(10), || Ok(None)).unwrap(),
            JobEnd::Vanished
        );
        let mut polls = 0;
        let e = wait(
            "j",
            now,
            Instant::now() + Duration::from_millis(120),
            || {
                polls += 1;
                Ok(Some(
                    json!({"state": "running", "description": "DELETE /api/storage/volumes/x"}),
                ))
            },
        )
        .unwrap_err();
        assert!(matches!(e, Error::Timeout { .. }), "{e}");
        assert!(
            e.to_string().contains("DELETE /api/storage/volumes/x"),
            "{e}"
        );
        assert!(polls >= 2);
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use crate::props::{json, line};
    use proptest::prelude::*;
    use serde_json::json;

    proptest! {
        #[test]
        fn any_record_has_a_state_without_panic(v in json()) {
            let _ = job_uuid(&v);
            let _ = job_state(&v);
        }

        #[test]
        fn job_links_round_trip(uuid in "[0-9a-f-]{1,36}") {
            let body = json!({"job": {"uuid": uuid.clone(), "_links": {"self": {"href": format!("/api/cluster/jobs/{uuid}")}}}});
            prop_assert_eq!(job_uuid(&body), Some(uuid));
        }

        #[test]
        fn failures_keep_code_and_message(code in any::<u32>(), message in line(), legacy in any::<bool>()) {
            let job = if legacy {
                json!({"state": "failure", "code": code, "message": message.clone()})
            } else {
                json!({"state": "failure", "code": 0, "message": "x", "error": {"code": code.to_string(), "message": message.clone()}})
            };
            prop_assert_eq!(job_state(&job), JobState::Failure { code: code.to_string(), message });
            prop_assert_eq!(job_state(&json!({"state": "success", "code": code})), JobState::Success);
        }
    }
}
