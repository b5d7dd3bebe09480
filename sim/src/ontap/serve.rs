//! Serving one ONTAP REST request: settle due jobs and route it under the world lock, then wait for
//! a started job's `return_timeout` with the lock released (other clients keep being served).

use std::time::{Duration, Instant};

use super::job::Outcome;
use super::reply::{Reply, Wait};
use super::router;
use crate::http::{Request, Response};
use crate::job_fault::JobFault;
use crate::world::Shared;

/// Serve one ONTAP REST request (`/api/...`).
pub fn handle(shared: &Shared, req: &Request, job_fault: Option<&JobFault>) -> Response {
    let reply = {
        let mut world = shared.world.lock().unwrap_or_else(|e| e.into_inner());
        let state = &mut world.ontap;
        state.tick();
        router::route(state, req, job_fault)
    };
    let mut response = match reply {
        Reply::Done(r) => r,
        Reply::Wait(w) => wait(shared, w),
    };
    if req.method.eq_ignore_ascii_case("HEAD") {
        response.body.clear();
    }
    response
}

/// What a waiting request saw of its job.
enum Seen {
    Gone,
    Done,
    Failed(Response),
    Running(Instant),
}

/// Wait for a job without holding the world lock.
pub fn wait(shared: &Shared, w: Wait) -> Response {
    loop {
        let ends_at = {
            let mut world = shared.world.lock().unwrap_or_else(|e| e.into_inner());
            let state = &mut world.ontap;
            let now = Instant::now();
            state.run_due(now);
            let seen = match state.job(&w.job) {
                None => Seen::Gone,
                Some(j) => match &j.outcome {
                    Some(Outcome { error: None, .. }) => Seen::Done,
                    Some(Outcome { error: Some(e), .. }) => Seen::Failed(e.response()),
                    None => Seen::Running(j.ends_at),
                },
            };
            state.forget_ended(now);
            match seen {
                Seen::Running(ends_at) => ends_at,
                Seen::Gone => return w.accepted,
                Seen::Done => return w.done,
                Seen::Failed(response) => return response,
            }
        };
        let now = Instant::now();
        if now >= w.deadline {
            return w.accepted;
        }
        let nap = ends_at
            .saturating_duration_since(now)
            .max(Duration::from_millis(1))
            .min(w.deadline - now);
        std::thread::sleep(nap);
    }
}
