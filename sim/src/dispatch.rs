//! What happens to a parsed request: `/_sim/` goes to the control API; an API request passes the
//! fault rules, reaches the ONTAP or Proxmox handler, gets the configured latency, and is logged.

use std::sync::Arc;

use serde_json::json;

use crate::http::{Request, Response};
use crate::job_fault::JobFault;
use crate::simcore::{guarded, Core};
use crate::world::{Api, Shared};
use crate::{control, ontap, pve};

/// The real handlers: ONTAP requests to `ontap::handle`, Proxmox requests to `pve::handle`.
pub fn api_handler(
    api: Api,
    shared: &Shared,
    req: &Request,
    job_fault: Option<&JobFault>,
) -> Response {
    match api {
        Api::Ontap => ontap::handle(shared, req, job_fault),
        Api::Pve => pve::handle(shared, req, job_fault),
    }
}

/// The server's next move for one request.
#[derive(Debug)]
pub enum Outcome {
    Respond(Response),
    /// Close the connection without an answer.
    Drop,
}

impl Core {
    pub fn new(shared: Arc<Shared>) -> Core {
        Core::with_handler(shared, api_handler)
    }

    /// Serve one request that arrived on the `api` listener.
    pub fn serve(&self, api: Api, req: &Request, raw_query: &str) -> Outcome {
        if req.segments.first().is_some_and(|s| s == "_sim") {
            return Outcome::Respond(control::handle(self, req));
        }
        let pending = self.log.begin();
        let fault = self.faults().check(api, req, raw_query);
        if !fault.delay.is_zero() {
            std::thread::sleep(fault.delay);
        }
        if fault.drop {
            self.log
                .finish(pending, api, &req.method, &req.raw_path, raw_query, 0);
            return Outcome::Drop;
        }
        let resp = match fault.response {
            Some(canned) => canned,
            None => self.call_handler(api, req, fault.job_fault.as_ref()),
        };
        if !fault.answer_delay.is_zero() {
            std::thread::sleep(fault.answer_delay);
        }
        if !self.shared.latency.is_zero() {
            std::thread::sleep(self.shared.latency);
        }
        self.log.finish(
            pending,
            api,
            &req.method,
            &req.raw_path,
            raw_query,
            resp.status,
        );
        Outcome::Respond(resp)
    }

    /// Run the side's handler; a panic becomes a 500 naming it instead of a hung client.
    fn call_handler(&self, api: Api, req: &Request, job_fault: Option<&JobFault>) -> Response {
        guarded(|| (self.handler)(api, &self.shared, req, job_fault)).unwrap_or_else(|what| {
            let message = format!("simulator bug: handler panicked: {what}");
            let body = match api {
                Api::Ontap => json!({"error": {"message": message, "code": "0"}}),
                Api::Pve => json!({"data": null, "message": message}),
            };
            Response::json(500, &body).with_reason(&message)
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::faults::FaultRule;
    use crate::simcore::Handler;
    use crate::world::Scenario;

    /// Answers 200 with the job fault it was given (or null).
    fn echo_fault(_: Api, _: &Shared, _: &Request, fault: Option<&JobFault>) -> Response {
        Response::json(200, &json!({"job_fault": fault}))
    }

    fn panicking(_: Api, _: &Shared, _: &Request, _: Option<&JobFault>) -> Response {
        panic!("boom")
    }

    fn core(handler: Handler) -> Core {
        let shared = Shared::new(Scenario::default(), Duration::ZERO);
        Core::with_handler(Arc::new(shared), handler)
    }

    fn serve(core: &Core, api: Api, method: &str, target: &str) -> Outcome {
        let req = Request::new(method, target, Vec::new(), Vec::new());
        core.serve(api, &req, crate::http::split_target(target).1)
    }

    fn body(outcome: Outcome) -> serde_json::Value {
        match outcome {
            Outcome::Respond(r) => serde_json::from_slice(&r.body).unwrap(),
            Outcome::Drop => panic!("dropped"),
        }
    }

    #[test]
    fn fail_job_reaches_the_handler_once() {
        let core = core(echo_fault);
        core.faults()
            .add(
                FaultRule::new("POST", "/api/storage/file/clone")
                    .fail_job(13565952, "clone failed"),
            )
            .unwrap();
        let first = body(serve(&core, Api::Ontap, "POST", "/api/storage/file/clone"));
        assert_eq!(
            first["job_fault"],
            json!({"code": 13565952, "message": "clone failed"})
        );
        let second = body(serve(&core, Api::Ontap, "POST", "/api/storage/file/clone"));
        assert_eq!(second["job_fault"], json!(null));
    }

    #[test]
    fn drops_are_logged_with_status_zero_and_control_calls_not_at_all() {
        let core = core(echo_fault);
        core.faults()
            .add(FaultRule::new("GET", "/api2/json/version").drop_connection())
            .unwrap();
        assert!(matches!(
            serve(&core, Api::Pve, "GET", "/api2/json/version?x=1"),
            Outcome::Drop
        ));
        let _ = serve(&core, Api::Pve, "GET", "/_sim/requests");
        let log = core.log.entries();
        assert_eq!(log.len(), 1);
        assert_eq!((log[0].status, log[0].query.as_str()), (0, "x=1"));
    }

    /// Counts the calls that reached it.
    fn counting(_: Api, shared: &Shared, _: &Request, _: Option<&JobFault>) -> Response {
        let mut world = shared.lock();
        world.pve.cluster_name.push('+');
        Response::json(200, &json!({"calls": world.pve.cluster_name.len()}))
    }

    #[test]
    fn an_answer_delay_runs_the_handler_first_and_is_logged() {
        let core = core(counting);
        core.faults()
            .add(FaultRule::new("POST", "/x").answer_delay_ms(40))
            .unwrap();
        let before = core.shared.lock().pve.cluster_name.len();
        let started = std::time::Instant::now();
        let Outcome::Respond(resp) = serve(&core, Api::Pve, "POST", "/x") else {
            panic!("dropped");
        };
        assert!(started.elapsed() >= Duration::from_millis(40));
        assert_eq!(resp.status, 200);
        assert_eq!(core.shared.lock().pve.cluster_name.len(), before + 1);
        assert!(core.log.entries()[0].duration_ms >= 40);
    }

    #[test]
    fn a_panicking_handler_answers_500() {
        let core = core(panicking);
        let Outcome::Respond(resp) = serve(&core, Api::Ontap, "GET", "/api/cluster") else {
            panic!("dropped");
        };
        assert_eq!(resp.status, 500);
        assert!(
            resp.reason.contains("handler panicked: boom"),
            "{}",
            resp.reason
        );
        assert_eq!(core.log.entries()[0].status, 500);
    }
}
