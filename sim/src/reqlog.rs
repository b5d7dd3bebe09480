//! The request log (`/_sim/requests`): one entry per API request, in arrival order; control-API
//! calls are not logged. A dropped connection is logged with status 0.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::world::Api;

/// One logged API request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestLogEntry {
    /// Arrival order, counting from 1 for the life of the simulator.
    pub seq: u64,
    /// Arrival time, RFC 3339 UTC with milliseconds.
    pub time: String,
    pub api: Api,
    pub method: String,
    /// The path as sent (percent-encoded), without the query.
    pub path: String,
    /// The query string as sent, without `?` (empty when none).
    pub query: String,
    /// The status answered; 0 when the connection was dropped.
    pub status: u16,
    /// From the end of the request to the answer (fault delays and latency included).
    pub duration_ms: u64,
}

/// A request being served; turned into a log entry when it is answered.
#[derive(Debug)]
pub struct Pending {
    seq: u64,
    time: String,
    started: Instant,
}

/// The log keeps at most this many entries (the oldest go first), so a simulator left running
/// does not grow without bound.
pub const MAX_ENTRIES: usize = 100_000;

#[derive(Debug, Default)]
pub struct RequestLog {
    next_seq: AtomicU64,
    entries: Mutex<VecDeque<RequestLogEntry>>,
}

const TIME_FORMAT: &[time::format_description::FormatItem<'static>] = time::macros::format_description!(
    "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
);

/// Now, RFC 3339 UTC with milliseconds (`2026-03-01T12:00:00.123Z`).
pub fn now_rfc3339_ms() -> String {
    time::OffsetDateTime::now_utc()
        .format(TIME_FORMAT)
        .unwrap_or_default()
}

impl RequestLog {
    /// Note the arrival of a request.
    pub fn begin(&self) -> Pending {
        Pending {
            seq: self.next_seq.fetch_add(1, Ordering::Relaxed) + 1,
            time: now_rfc3339_ms(),
            started: Instant::now(),
        }
    }

    /// Record the answer to a request.
    pub fn finish(
        &self,
        pending: Pending,
        api: Api,
        method: &str,
        path: &str,
        query: &str,
        status: u16,
    ) {
        let entry = RequestLogEntry {
            seq: pending.seq,
            time: pending.time,
            api,
            method: method.to_string(),
            path: path.to_string(),
            query: query.to_string(),
            status,
            duration_ms: u64::try_from(pending.started.elapsed().as_millis()).unwrap_or(u64::MAX),
        };
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let at = entries.partition_point(|e| e.seq < entry.seq);
        entries.insert(at, entry);
        while entries.len() > MAX_ENTRIES {
            entries.pop_front();
        }
    }

    /// Every entry, in arrival order.
    pub fn entries(&self) -> Vec<RequestLogEntry> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.iter().cloned().collect()
    }

    /// Forget every entry; returns how many there were.
    pub fn clear(&self) -> usize {
        std::mem::take(&mut *self.entries.lock().unwrap_or_else(|e| e.into_inner())).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_come_back_in_arrival_order() {
        let log = RequestLog::default();
        let a = log.begin();
        let b = log.begin();
        log.finish(b, Api::Pve, "GET", "/api2/json/version", "", 200);
        log.finish(
            a,
            Api::Ontap,
            "POST",
            "/api/storage/file/clone",
            "return_timeout=0",
            0,
        );
        let e = log.entries();
        assert_eq!(e.len(), 2);
        assert_eq!((e[0].seq, e[0].status, e[0].api), (1, 0, Api::Ontap));
        assert_eq!(e[1].path, "/api2/json/version");
        assert_eq!(log.clear(), 2);
        assert!(log.entries().is_empty());
        let c = log.begin();
        log.finish(c, Api::Pve, "GET", "/", "", 200);
        assert_eq!(log.entries()[0].seq, 3);
    }

    #[test]
    fn keeps_the_newest_entries() {
        let log = RequestLog::default();
        for _ in 0..MAX_ENTRIES + 3 {
            let p = log.begin();
            log.finish(p, Api::Pve, "GET", "/", "", 200);
        }
        let e = log.entries();
        assert_eq!(e.len(), MAX_ENTRIES);
        assert_eq!(e[0].seq, 4);
    }

    #[test]
    fn time_is_rfc3339_with_milliseconds() {
        let t = now_rfc3339_ms();
        assert_eq!(t.len(), "2026-03-01T12:00:00.123Z".len(), "{t}");
        assert!(t.ends_with('Z') && t.as_bytes()[10] == b'T' && t.as_bytes()[19] == b'.');
        let json = serde_json::to_value(RequestLogEntry {
            seq: 1,
            time: t,
            api: Api::Ontap,
            method: "GET".into(),
            path: "/api/cluster".into(),
            query: String::new(),
            status: 200,
            duration_ms: 3,
        })
        .unwrap();
        let mut keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "api",
                "duration_ms",
                "method",
                "path",
                "query",
                "seq",
                "status",
                "time"
            ]
        );
        assert_eq!(json["api"], "ontap");
    }
}
