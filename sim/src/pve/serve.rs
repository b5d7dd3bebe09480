//! Serving one Proxmox VE API request: the `/api2/<format>` prefix, settling due tasks and routing
//! under the world lock (Proxmox state plus ONTAP's exports), then the auth-failure delay outside it.

use std::time::{Duration, Instant};

use super::envelope::{self, Format, PveError};
use super::router;
use crate::http::{Request, Response};
use crate::job_fault::JobFault;
use crate::world::Shared;

/// Serve one Proxmox VE API request (`/api2/json/...`).
pub fn handle(shared: &Shared, req: &Request, job_fault: Option<&JobFault>) -> Response {
    let now = Instant::now();
    let message_in_body = shared
        .world
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .pve
        .message_in_body;
    let segments = &req.segments;
    if segments.first().map(String::as_str) != Some("api2") || segments.len() < 2 {
        return envelope::render(Format::Json, Err(bare(501, "no such uri")), message_in_body);
    }
    let format = match segments[1].as_str() {
        "json" => Format::Json,
        "extjs" => Format::Extjs,
        other => {
            let rel = format!("/{}", segments[2..].join("/"));
            return envelope::render(
                Format::Json,
                Err(bare(501, &format!("no formatter for uri {rel}, {other}"))),
                message_in_body,
            );
        }
    };
    let (result, delay) = {
        let mut guard = shared.world.lock().unwrap_or_else(|e| e.into_inner());
        let world = &mut *guard;
        world.pve.advance(now);
        let result = router::dispatch(
            &mut world.pve,
            &world.ontap,
            req,
            &segments[2..],
            job_fault,
            now,
        );
        let auth_delay = Duration::from_millis(world.pve.timing.auth_failure_delay_ms);
        let delay = match &result {
            Ok(reply) => reply.delay,
            Err(PveError::Die { status: 401, .. } | PveError::Bare { status: 401, .. }) => {
                Some(auth_delay)
            }
            Err(_) => None,
        };
        (result, delay)
    };
    // Never sleep while holding the state lock.
    if let Some(delay) = delay.filter(|d| !d.is_zero()) {
        std::thread::sleep(delay);
    }
    envelope::render(format, result, message_in_body)
}

fn bare(status: u16, message: &str) -> PveError {
    PveError::Bare {
        status,
        reason: message.to_string(),
        body: message.to_string(),
    }
}
