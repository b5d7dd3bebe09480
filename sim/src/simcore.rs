//! The simulator core every connection shares: the world, the fault rules, the request log and
//! the API handler, plus running side code so that a panic becomes a message, not a dead thread.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::faults::FaultSet;
use crate::http::{Request, Response};
use crate::job_fault::JobFault;
use crate::reqlog::RequestLog;
use crate::world::{Api, Shared};

/// Serves one API request: `(api, shared, request, job fault) -> response`.
pub type Handler = fn(Api, &Shared, &Request, Option<&JobFault>) -> Response;

/// Everything a connection needs: the world plus the simulator's own bookkeeping.
#[derive(Debug)]
pub struct Core {
    pub shared: Arc<Shared>,
    pub faults: Mutex<FaultSet>,
    pub log: RequestLog,
    pub(crate) handler: Handler,
}

impl Core {
    /// A core whose API requests go to `handler` (tests of the server itself).
    pub fn with_handler(shared: Arc<Shared>, handler: Handler) -> Core {
        Core {
            shared,
            faults: Mutex::new(FaultSet::default()),
            log: RequestLog::default(),
            handler,
        }
    }

    pub fn faults(&self) -> MutexGuard<'_, FaultSet> {
        self.faults.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Back to the scenario's world, no fault rules, empty request log.
    pub fn reset(&self) {
        self.shared.reset_world();
        self.faults().clear();
        self.log.clear();
    }
}

/// Run `f`, turning a panic into its message (side code must not take a connection down).
pub fn guarded<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|panic| {
        panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default()
    })
}
