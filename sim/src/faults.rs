//! Fault rules (`/_sim/faults`): which API requests they match (api, method, path pattern, skip,
//! count) and what they do to them (canned status/body, delay, dropped connection, failed job).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::http::{canonical_reason, Request, Response};
use crate::job_fault::JobFault;
use crate::world::Api;

/// One fault rule, as posted to `/_sim/faults` (every field optional).
///
/// A request matches when `api`, `method` (case-insensitive) and `path` (a pattern where `*`
/// matches any run of characters, tested against the path as sent and against its decoded form;
/// a pattern containing `?` is tested against `path?query`) all match; absent fields match
/// anything. The first `skip` matching requests pass untouched, the next `count` get the fault
/// (`count` 0: every later matching request), then the rule is spent. With `probability`, each
/// matching request after the skipped ones gets the fault only with that probability, decided by
/// a pseudo-random sequence started from `seed` (same seed and request order, same decisions);
/// `count` then counts the requests that got it.
///
/// Effects: `delay_ms` waits before anything else; then `drop` closes the connection without an
/// answer, or `status` (with optional `reason` and JSON `body`) answers instead of the handler,
/// or `fail_job` lets the handler run and asks it to make the request's job/task fail;
/// `answer_delay_ms` waits after the handler ran, before the answer goes out (the change is made,
/// the client hears of it late). When
/// several rules match one request, delays add up, a drop wins, then the first canned answer,
/// then the first job failure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultRule {
    pub api: Option<Api>,
    pub method: Option<String>,
    pub path: Option<String>,
    pub skip: u32,
    pub count: u32,
    pub status: Option<u16>,
    pub reason: Option<String>,
    pub body: Option<Value>,
    pub delay_ms: u64,
    /// Wait this long between running the handler and sending its answer.
    #[serde(skip_serializing_if = "is_zero")]
    pub answer_delay_ms: u64,
    pub drop: bool,
    pub fail_job: Option<JobFault>,
    /// Chance (0 < p <= 1) that a matching request gets the fault; absent: every one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
    /// Start of the pseudo-random sequence that `probability` draws from.
    #[serde(skip_serializing_if = "is_zero")]
    pub seed: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Default for FaultRule {
    fn default() -> Self {
        FaultRule {
            api: None,
            method: None,
            path: None,
            skip: 0,
            count: 1,
            status: None,
            reason: None,
            body: None,
            delay_ms: 0,
            answer_delay_ms: 0,
            drop: false,
            fail_job: None,
            probability: None,
            seed: 0,
        }
    }
}

/// Longest accepted `delay_ms` (ten minutes).
pub const MAX_DELAY_MS: u64 = 600_000;

impl FaultRule {
    /// A rule for `method` (`*` or empty: any) on `path` (pattern); add an effect with the
    /// builder methods below.
    pub fn new(method: &str, path: &str) -> FaultRule {
        FaultRule {
            method: (!method.is_empty() && method != "*").then(|| method.to_string()),
            path: Some(path.to_string()),
            ..FaultRule::default()
        }
    }

    pub fn api(mut self, api: Api) -> Self {
        self.api = Some(api);
        self
    }

    pub fn skip(mut self, n: u32) -> Self {
        self.skip = n;
        self
    }

    pub fn count(mut self, n: u32) -> Self {
        self.count = n;
        self
    }

    pub fn status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    pub fn reason(mut self, reason: &str) -> Self {
        self.reason = Some(reason.to_string());
        self
    }

    pub fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    pub fn delay_ms(mut self, ms: u64) -> Self {
        self.delay_ms = ms;
        self
    }

    /// Answer `ms` late, after the handler has run.
    pub fn answer_delay_ms(mut self, ms: u64) -> Self {
        self.answer_delay_ms = ms;
        self
    }

    pub fn drop_connection(mut self) -> Self {
        self.drop = true;
        self
    }

    /// Apply the fault to a matching request only with chance `p`, drawn from a sequence
    /// started at `seed`.
    pub fn probability(mut self, p: f64, seed: u64) -> Self {
        self.probability = Some(p);
        self.seed = seed;
        self
    }

    pub fn fail_job(mut self, code: u64, message: &str) -> Self {
        self.fail_job = Some(JobFault {
            code,
            message: message.to_string(),
        });
        self
    }

    /// Why this rule cannot be used, if it cannot.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(m) = &self.method {
            if m.is_empty() || !m.bytes().all(|b| b.is_ascii_alphabetic()) {
                return Err(format!("method {m:?} is not an HTTP method"));
            }
        }
        if let Some(p) = &self.path {
            if !p.starts_with('/') && !p.starts_with('*') {
                return Err(format!("path {p:?} must start with '/' or '*'"));
            }
        }
        if let Some(s) = self.status {
            if !(200..=599).contains(&s) {
                return Err(format!("status {s} is not between 200 and 599"));
            }
        }
        if self.status.is_none() && (self.reason.is_some() || self.body.is_some()) {
            return Err("reason and body need a status".into());
        }
        if let Some(r) = &self.reason {
            if r.chars().any(char::is_control) {
                return Err("reason must be one line without control characters".into());
            }
        }
        if self.drop && (self.status.is_some() || self.fail_job.is_some()) {
            return Err("drop cannot be combined with status or fail_job".into());
        }
        if self.status.is_some() && self.fail_job.is_some() {
            return Err(
                "status and fail_job exclude each other (a canned answer runs no job)".into(),
            );
        }
        if let Some(p) = self.probability {
            if !(p > 0.0 && p <= 1.0) {
                return Err(format!("probability {p} is not in (0, 1]"));
            }
        }
        if self.delay_ms > MAX_DELAY_MS {
            return Err(format!("delay_ms over {MAX_DELAY_MS}"));
        }
        if self.answer_delay_ms > MAX_DELAY_MS {
            return Err(format!("answer_delay_ms over {MAX_DELAY_MS}"));
        }
        if self.drop && self.answer_delay_ms > 0 {
            return Err("drop cannot be combined with answer_delay_ms (there is no answer)".into());
        }
        if self.status.is_none()
            && !self.drop
            && self.fail_job.is_none()
            && self.delay_ms == 0
            && self.answer_delay_ms == 0
        {
            return Err(
                "the rule has no effect: give status, delay_ms, answer_delay_ms, drop or fail_job"
                    .into(),
            );
        }
        Ok(())
    }

    fn matches(&self, api: Api, req: &Request, raw_query: &str) -> bool {
        if self.api.is_some_and(|a| a != api) {
            return false;
        }
        if self
            .method
            .as_ref()
            .is_some_and(|m| !m.eq_ignore_ascii_case(&req.method))
        {
            return false;
        }
        let Some(pattern) = &self.path else {
            return true;
        };
        let decoded = format!("/{}", req.segments.join("/"));
        if pattern.contains('?') {
            glob_match(pattern, &format!("{}?{raw_query}", req.raw_path))
                || glob_match(pattern, &format!("{decoded}?{raw_query}"))
        } else {
            glob_match(pattern, &req.raw_path) || glob_match(pattern, &decoded)
        }
    }

    /// The answer given instead of the handler's (rules with a `status`).
    fn canned_response(&self, api: Api, status: u16) -> Response {
        let reason = self
            .reason
            .clone()
            .unwrap_or_else(|| canonical_reason(status).to_string());
        let body = self.body.clone().unwrap_or_else(|| match api {
            Api::Ontap => json!({"error": {"message": reason, "code": "0"}}),
            Api::Pve => json!({"data": null, "message": reason}),
        });
        Response::json(status, &body).with_reason(&reason)
    }
}

/// `*` matches any run of characters (including `/`); everything else literally.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&b| b == b'*')
}

/// A rule and how it has fared so far (`GET /_sim/faults`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultStatus {
    pub id: u64,
    pub rule: FaultRule,
    /// Matching requests seen (including skipped ones).
    pub matched: u64,
    /// Requests the fault was applied to.
    pub applied: u64,
    /// No further request will get this fault.
    pub spent: bool,
    /// State of the pseudo-random sequence of a rule with `probability`.
    #[serde(skip)]
    rng: u64,
}

/// A uniform draw in [0, 1) from xorshift64* (never stuck at zero).
fn next_unit(state: &mut u64) -> f64 {
    if *state == 0 {
        *state = 0x9E37_79B9_7F4A_7C15;
    }
    let mut x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
}

/// What the matching rules decided for one request.
#[derive(Debug, Default)]
pub struct FaultOutcome {
    pub delay: Duration,
    /// Waited after the handler, before the answer.
    pub answer_delay: Duration,
    pub drop: bool,
    pub response: Option<Response>,
    pub job_fault: Option<JobFault>,
    /// Ids of the rules applied.
    pub rule_ids: Vec<u64>,
}

/// The armed rules, in the order they were added.
#[derive(Debug, Default)]
pub struct FaultSet {
    next_id: u64,
    rules: Vec<FaultStatus>,
}

impl FaultSet {
    /// Validate and arm a rule; returns its id.
    pub fn add(&mut self, mut rule: FaultRule) -> Result<u64, String> {
        rule.validate()?;
        if let Some(m) = &mut rule.method {
            m.make_ascii_uppercase();
        }
        self.next_id += 1;
        let rng = rule.seed;
        self.rules.push(FaultStatus {
            id: self.next_id,
            rule,
            matched: 0,
            applied: 0,
            spent: false,
            rng,
        });
        Ok(self.next_id)
    }

    /// Remove every rule; returns how many there were.
    pub fn clear(&mut self) -> usize {
        std::mem::take(&mut self.rules).len()
    }

    /// Remove one rule.
    pub fn remove(&mut self, id: u64) -> bool {
        let before = self.rules.len();
        self.rules.retain(|r| r.id != id);
        self.rules.len() != before
    }

    pub fn list(&self) -> Vec<FaultStatus> {
        self.rules.clone()
    }

    /// Run an API request past every rule, advancing their counters.
    pub fn check(&mut self, api: Api, req: &Request, raw_query: &str) -> FaultOutcome {
        let mut out = FaultOutcome::default();
        for armed in &mut self.rules {
            if armed.spent || !armed.rule.matches(api, req, raw_query) {
                continue;
            }
            armed.matched += 1;
            if armed.matched <= u64::from(armed.rule.skip) {
                continue;
            }
            if let Some(p) = armed.rule.probability {
                if next_unit(&mut armed.rng) >= p {
                    continue;
                }
            }
            armed.applied += 1;
            let count = u64::from(armed.rule.count);
            armed.spent = count != 0 && armed.applied >= count;
            out.rule_ids.push(armed.id);
            let rule = &armed.rule;
            out.delay += Duration::from_millis(rule.delay_ms);
            out.answer_delay += Duration::from_millis(rule.answer_delay_ms);
            out.drop |= rule.drop;
            if let (None, Some(status)) = (&out.response, rule.status) {
                out.response = Some(rule.canned_response(api, status));
            }
            if out.job_fault.is_none() {
                out.job_fault.clone_from(&rule.fail_job);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(method: &str, target: &str) -> Request {
        Request::new(method, target, Vec::new(), Vec::new())
    }

    fn check(set: &mut FaultSet, api: Api, method: &str, target: &str) -> FaultOutcome {
        let r = req(method, target);
        let (_, q) = crate::http::split_target(target);
        set.check(api, &r, q)
    }

    #[test]
    fn glob_matches_stars_anywhere() {
        assert!(glob_match(
            "/api/storage/file/clone",
            "/api/storage/file/clone"
        ));
        assert!(!glob_match(
            "/api/storage/file/clone",
            "/api/storage/file/clones"
        ));
        assert!(glob_match(
            "/api/storage/volumes/*/snapshots",
            "/api/storage/volumes/u-1/snapshots"
        ));
        assert!(glob_match("/api/*", "/api/a/b/c"));
        assert!(glob_match("*", ""));
        assert!(glob_match(
            "*/status/*",
            "/api2/json/nodes/pve1/qemu/100/status/suspend"
        ));
        assert!(!glob_match("/api/*/x", "/api/a/y"));
        assert!(glob_match("a*b*c", "aXXbYYbZc"));
    }

    #[test]
    fn skip_and_count_decide_which_requests_get_the_fault() {
        let mut set = FaultSet::default();
        set.add(
            FaultRule::new("post", "/api/storage/file/clone")
                .skip(1)
                .count(2)
                .status(500),
        )
        .unwrap();
        let statuses: Vec<Option<u16>> = (0..5)
            .map(|_| {
                check(&mut set, Api::Ontap, "POST", "/api/storage/file/clone")
                    .response
                    .map(|r| r.status)
            })
            .collect();
        assert_eq!(statuses, [None, Some(500), Some(500), None, None]);
        let st = &set.list()[0];
        assert_eq!((st.matched, st.applied, st.spent), (3, 2, true));
        // Other methods and paths never count.
        let mut set = FaultSet::default();
        set.add(FaultRule::new("POST", "/a").status(503)).unwrap();
        assert!(check(&mut set, Api::Ontap, "GET", "/a").response.is_none());
        assert!(check(&mut set, Api::Ontap, "POST", "/a/b")
            .response
            .is_none());
        assert_eq!(
            check(&mut set, Api::Ontap, "POST", "/a")
                .response
                .unwrap()
                .status,
            503
        );
    }

    #[test]
    fn count_zero_never_spends_and_api_filters() {
        let mut set = FaultSet::default();
        set.add(FaultRule::new("*", "/x").count(0).delay_ms(5).api(Api::Pve))
            .unwrap();
        for _ in 0..10 {
            assert_eq!(
                check(&mut set, Api::Pve, "GET", "/x").delay,
                Duration::from_millis(5)
            );
        }
        assert_eq!(
            check(&mut set, Api::Ontap, "GET", "/x").delay,
            Duration::ZERO
        );
    }

    #[test]
    fn rules_combine() {
        let mut set = FaultSet::default();
        set.add(FaultRule::new("", "/v/*").delay_ms(10)).unwrap();
        set.add(FaultRule::new("", "/v/*").fail_job(13565952, "clone failed"))
            .unwrap();
        set.add(FaultRule::new("", "/v/*").delay_ms(5)).unwrap();
        let out = check(&mut set, Api::Ontap, "PATCH", "/v/1");
        assert_eq!(out.delay, Duration::from_millis(15));
        assert_eq!(out.job_fault.unwrap().code, 13565952);
        assert_eq!(out.rule_ids, [1, 2, 3]);
        assert!(!out.drop && out.response.is_none());
        // All three were count 1: the next request is untouched.
        let out = check(&mut set, Api::Ontap, "PATCH", "/v/1");
        assert!(out.rule_ids.is_empty());
    }

    #[test]
    fn patterns_match_decoded_paths_and_queries() {
        let mut set = FaultSet::default();
        set.add(FaultRule::new("DELETE", "/api/storage/volumes/*/files/images/100/*").status(404))
            .unwrap();
        let out = check(
            &mut set,
            Api::Ontap,
            "DELETE",
            "/api/storage/volumes/u/files/images%2F100%2Fvm-100-disk-0.raw",
        );
        assert_eq!(out.response.unwrap().status, 404);
        set.add(FaultRule::new("PATCH", "/api/storage/volumes/*?*restore_to*").status(409))
            .unwrap();
        assert!(
            check(&mut set, Api::Ontap, "PATCH", "/api/storage/volumes/u?x=1")
                .response
                .is_none()
        );
        assert_eq!(
            check(
                &mut set,
                Api::Ontap,
                "PATCH",
                "/api/storage/volumes/u?restore_to.snapshot.name=s"
            )
            .response
            .unwrap()
            .status,
            409
        );
    }

    #[test]
    fn canned_answers_have_api_shaped_default_bodies() {
        let mut set = FaultSet::default();
        set.add(
            FaultRule::new("", "/p")
                .status(500)
                .reason("storage is locked")
                .api(Api::Pve),
        )
        .unwrap();
        let r = check(&mut set, Api::Pve, "GET", "/p").response.unwrap();
        assert_eq!(r.reason, "storage is locked");
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(body, json!({"data": null, "message": "storage is locked"}));
        set.add(FaultRule::new("", "/o").status(503)).unwrap();
        let r = check(&mut set, Api::Ontap, "GET", "/o").response.unwrap();
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(body["error"]["message"], "Service Unavailable");
        set.add(
            FaultRule::new("", "/b")
                .status(200)
                .body(json!({"records": []})),
        )
        .unwrap();
        let r = check(&mut set, Api::Ontap, "GET", "/b").response.unwrap();
        assert_eq!(r.body, br#"{"records":[]}"#);
    }

    #[test]
    fn probability_picks_a_reproducible_share_of_the_matches() {
        let run = |seed: u64| -> Vec<bool> {
            let mut set = FaultSet::default();
            set.add(
                FaultRule::new("*", "*")
                    .status(500)
                    .count(0)
                    .skip(2)
                    .probability(0.25, seed),
            )
            .unwrap();
            (0..4000)
                .map(|_| {
                    check(&mut set, Api::Ontap, "GET", "/api/cluster")
                        .response
                        .is_some()
                })
                .collect()
        };
        let hits = run(7);
        assert!(!hits[0] && !hits[1], "skipped requests never get the fault");
        let n = hits.iter().filter(|h| **h).count();
        assert!((850..1150).contains(&n), "{n} of 4000 at p = 0.25");
        assert_eq!(hits, run(7), "same seed, same decisions");
        assert_ne!(hits, run(8));
        // count still bounds how many requests get the fault.
        let mut set = FaultSet::default();
        set.add(
            FaultRule::new("*", "*")
                .status(500)
                .count(3)
                .probability(0.5, 1),
        )
        .unwrap();
        let n = (0..200)
            .filter(|_| check(&mut set, Api::Pve, "GET", "/x").response.is_some())
            .count();
        assert_eq!(n, 3);
        let st = &set.list()[0];
        assert_eq!((st.applied, st.spent), (3, true));
        assert!(st.matched > 3);
        // Probability 1 is the plain rule.
        let mut set = FaultSet::default();
        set.add(
            FaultRule::new("*", "*")
                .status(500)
                .count(0)
                .probability(1.0, 0),
        )
        .unwrap();
        assert!((0..50).all(|_| check(&mut set, Api::Pve, "GET", "/x").response.is_some()));
        let rule: FaultRule = serde_json::from_str(
            r#"{"path":"*","status":503,"count":0,"probability":0.05,"seed":42}"#,
        )
        .unwrap();
        assert_eq!((rule.probability, rule.seed), (Some(0.05), 42));
        assert!(rule.validate().is_ok());
    }

    #[test]
    fn answer_delays_add_up_apart_from_request_delays() {
        let mut set = FaultSet::default();
        set.add(FaultRule::new("POST", "/a").answer_delay_ms(30))
            .unwrap();
        set.add(FaultRule::new("POST", "/a").answer_delay_ms(5).delay_ms(2))
            .unwrap();
        let out = check(&mut set, Api::Pve, "POST", "/a");
        assert_eq!(out.answer_delay, Duration::from_millis(35));
        assert_eq!(out.delay, Duration::from_millis(2));
        assert!(out.response.is_none() && out.job_fault.is_none() && !out.drop);
        assert!(FaultRule::new("GET", "/a")
            .answer_delay_ms(1)
            .drop_connection()
            .validate()
            .is_err());
        let rule: FaultRule =
            serde_json::from_str(r#"{"path":"/a","answer_delay_ms":2500}"#).unwrap();
        assert_eq!(rule.answer_delay_ms, 2500);
        assert!(rule.validate().is_ok());
    }

    #[test]
    fn invalid_rules_are_refused() {
        let bad = [
            FaultRule::new("GET", "/a"),
            FaultRule::new("GET", "a").status(500),
            FaultRule::new("G T", "/a").status(500),
            FaultRule::new("GET", "/a").status(99),
            FaultRule::new("GET", "/a").reason("x"),
            FaultRule::new("GET", "/a").status(500).drop_connection(),
            FaultRule::new("GET", "/a").status(500).fail_job(1, "x"),
            FaultRule::new("GET", "/a").delay_ms(MAX_DELAY_MS + 1),
            FaultRule::new("GET", "/a").status(500).reason("two\nlines"),
            FaultRule::new("GET", "/a").status(500).probability(0.0, 1),
            FaultRule::new("GET", "/a").status(500).probability(1.5, 1),
            FaultRule::new("GET", "/a")
                .status(500)
                .probability(f64::NAN, 1),
        ];
        for rule in bad {
            assert!(rule.validate().is_err(), "{rule:?} should be refused");
        }
        let err = serde_json::from_str::<FaultRule>(r#"{"path":"/a","stauts":500}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field `stauts`"), "{err}");
        let rule: FaultRule = serde_json::from_str(
            r#"{"api":"ontap","method":"POST","path":"/api/storage/file/clone","fail_job":{"code":13565952,"message":"m"}}"#,
        )
        .unwrap();
        assert_eq!(rule.count, 1);
        assert!(rule.validate().is_ok());
    }
}
