//! The simulator's infrastructure over real HTTPS, in-process: TLS and fingerprints, HTTP/1.1
//! framing and keep-alive, 200 concurrent connections, the request log, fault rules, reset, stop.

mod common;

use std::net::TcpStream;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use common::{agent, call, call_json, RawConn};
use pve_ontap_sim::http::{Request, Response};
use pve_ontap_sim::{Api, FaultRule, JobFault, Shared, Sim, SimOptions};
use serde_json::json;

/// Echoes what the handler was given; `?status=N` picks the status, `?sleep_ms=N` waits first.
fn echo(api: Api, _: &Shared, req: &Request, fault: Option<&JobFault>) -> Response {
    if let Some(ms) = req.query_param("sleep_ms") {
        std::thread::sleep(Duration::from_millis(ms.parse().unwrap_or(0)));
    }
    let status = req
        .query_param("status")
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    Response::json(
        status,
        &json!({
            "api": api,
            "method": req.method,
            "raw_path": req.raw_path,
            "segments": req.segments,
            "query": req.query,
            "body": String::from_utf8_lossy(&req.body),
            "content_type": req.header("Content-Type"),
            "job_fault": fault,
        }),
    )
}

fn start() -> Sim {
    Sim::start_with_handler(SimOptions::default(), echo).unwrap()
}

#[test]
fn serves_both_apis_over_tls_pinned_by_fingerprint() {
    let started = Instant::now();
    let sim = start();
    eprintln!("in-process start-up: {:?}", started.elapsed());
    assert!(sim.pve_url().starts_with("https://127.0.0.1:"));
    assert!(sim.ontap_url().starts_with("https://127.0.0.1:"));
    assert_ne!(sim.pve_url(), sim.ontap_url());
    for fp in [sim.pve_fingerprint(), sim.ontap_fingerprint()] {
        assert_eq!(fp.len(), 32 * 3 - 1, "{fp}");
        assert!(fp.split(':').all(|b| b.len() == 2
            && b.chars()
                .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())));
    }
    assert_ne!(sim.pve_fingerprint(), sim.ontap_fingerprint());

    // Pinned by fingerprint: each listener serves its own API.
    let mut pve = RawConn::connect(sim.pve_addr(), sim.pve_fingerprint()).unwrap();
    assert_eq!(pve.get("/api2/json/version", "").json()["api"], "pve");
    let mut ontap = RawConn::connect(sim.ontap_addr(), sim.ontap_fingerprint()).unwrap();
    assert_eq!(ontap.get("/api/cluster", "").json()["api"], "ontap");
    // TLS 1.3 by default, TLS 1.2 for older clients.
    assert_eq!(pve.tls_version(), Some(rustls::ProtocolVersion::TLSv1_3));
    let tls12 = common::pinned_config_for(sim.pve_fingerprint(), &[&rustls::version::TLS12]);
    let mut old = RawConn::connect_with(sim.pve_addr(), tls12).unwrap();
    assert_eq!(old.tls_version(), Some(rustls::ProtocolVersion::TLSv1_2));
    assert_eq!(old.get("/api2/json/version", "").status, 200);
    // The other listener's fingerprint is refused.
    assert!(RawConn::connect(sim.pve_addr(), sim.ontap_fingerprint()).is_err());

    // Normal certificate validation trusting the PEM: CA:FALSE leaf, SANs 127.0.0.1 and localhost.
    let agent = agent(&sim);
    let (status, body) = call_json(
        &agent,
        "GET",
        &format!("{}/api/cluster", sim.ontap_url()),
        None,
    );
    assert_eq!((status, body["api"].as_str()), (200, Some("ontap")));
    let local = sim.pve_url().replace("127.0.0.1", "localhost");
    let (status, _) = call(&agent, "GET", &format!("{local}/api2/json/version"), None);
    assert_eq!(status, 200);
    // An agent that trusts only the ONTAP certificate cannot talk to the Proxmox listener.
    let ontap_only = ureq::AgentBuilder::new()
        .tls_config(common::trusting_config(&[sim.ontap_cert_pem()]))
        .build();
    let err = ontap_only
        .get(&format!("{}/api2/json/version", sim.pve_url()))
        .call()
        .unwrap_err();
    assert!(matches!(err, ureq::Error::Transport(_)), "{err}");
}

#[test]
fn parses_paths_queries_and_bodies() {
    let sim = start();
    let mut conn = RawConn::connect(sim.ontap_addr(), sim.ontap_fingerprint()).unwrap();
    let resp = conn.get(
        "/api/storage/volumes/u-1/files/images%2F100%2Fvm-100-disk-0.raw?fields=name,size&name=a+b%7Cc",
        "",
    );
    let echo = resp.json();
    assert_eq!(
        echo["raw_path"],
        "/api/storage/volumes/u-1/files/images%2F100%2Fvm-100-disk-0.raw"
    );
    assert_eq!(
        echo["segments"],
        json!([
            "api",
            "storage",
            "volumes",
            "u-1",
            "files",
            "images/100/vm-100-disk-0.raw"
        ])
    );
    assert_eq!(
        echo["query"],
        json!([["fields", "name,size"], ["name", "a b|c"]])
    );

    // Content-Length body.
    conn.send(b"POST /api/storage/file/clone HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"a\":\"bc\"}\n");
    let echo = conn.read_response().unwrap().json();
    assert_eq!(echo["body"], "{\"a\":\"bc\"}\n");
    assert_eq!(echo["content_type"], "application/json");

    // Chunked body.
    conn.send(b"PATCH /api/x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext\r\n world\r\n0\r\n\r\n");
    assert_eq!(conn.read_response().unwrap().json()["body"], "hello world");

    // Expect: 100-continue gets the interim answer before the body is sent.
    conn.send(b"POST /api/y HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
    let interim = conn.read_response().unwrap();
    assert_eq!(interim.status, 100);
    conn.send(b"data");
    assert_eq!(conn.read_response().unwrap().json()["body"], "data");

    // The handler's status and reason reach the status line; HEAD gets no body.
    let resp = conn.get("/api/z?status=404", "");
    assert_eq!((resp.status, resp.reason.as_str()), (404, "Not Found"));
    conn.send(b"HEAD /api/z HTTP/1.1\r\n\r\nGET /api/after-head HTTP/1.1\r\n\r\n");
    let head = conn.read_head_response().unwrap();
    assert_eq!(head.status, 200);
    assert_ne!(head.header("content-length"), Some("0"));
    let after = conn.read_response().unwrap();
    assert_eq!(after.json()["raw_path"], "/api/after-head");
}

#[test]
fn keeps_connections_alive_until_asked_to_close() {
    let sim = start();
    let mut conn = RawConn::connect(sim.pve_addr(), sim.pve_fingerprint()).unwrap();
    for i in 0..5 {
        let resp = conn.get(&format!("/api2/json/n{i}"), "");
        assert_eq!(resp.status, 200);
        assert_eq!(resp.header("connection"), Some("keep-alive"));
    }
    // Pipelined requests are answered in order.
    conn.send(b"GET /p1 HTTP/1.1\r\n\r\nGET /p2 HTTP/1.1\r\n\r\n");
    assert_eq!(conn.read_response().unwrap().json()["raw_path"], "/p1");
    assert_eq!(conn.read_response().unwrap().json()["raw_path"], "/p2");
    let last = conn.get("/api2/json/last", "Connection: close\r\n");
    assert_eq!(last.status, 200);
    assert_eq!(last.header("connection"), Some("close"));
    assert!(conn.is_closed());
    assert_eq!(sim.requests().len(), 8);

    // HTTP/1.0 closes unless asked to keep alive.
    let mut conn = RawConn::connect(sim.pve_addr(), sim.pve_fingerprint()).unwrap();
    conn.send(b"GET /old HTTP/1.0\r\n\r\n");
    assert_eq!(
        conn.read_response().unwrap().header("connection"),
        Some("close")
    );
    assert!(conn.is_closed());
}

#[test]
fn rejects_malformed_and_oversized_requests() {
    let sim = start();
    let mut conn = RawConn::connect(sim.ontap_addr(), sim.ontap_fingerprint()).unwrap();
    conn.send(b"NONSENSE\r\n\r\n");
    assert_eq!(conn.read_response().unwrap().status, 400);
    assert!(conn.is_closed());

    let mut conn = RawConn::connect(sim.ontap_addr(), sim.ontap_fingerprint()).unwrap();
    let mut big = b"GET /api/cluster HTTP/1.1\r\nX-Big: ".to_vec();
    big.extend(std::iter::repeat_n(b'a', 70 * 1024));
    big.extend_from_slice(b"\r\n\r\n");
    conn.send(&big);
    assert_eq!(conn.read_response().unwrap().status, 431);

    let mut conn = RawConn::connect(sim.ontap_addr(), sim.ontap_fingerprint()).unwrap();
    conn.send(b"POST /api/x HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n");
    assert_eq!(conn.read_response().unwrap().status, 413);
    assert!(
        sim.requests().is_empty(),
        "unreadable requests reach no handler"
    );
}

#[test]
fn serves_200_concurrent_connections() {
    const N: usize = 200;
    let sim = start();
    let addr = sim.pve_addr();
    let fp = sim.pve_fingerprint().to_string();
    let barrier = Arc::new(Barrier::new(N + 1));
    let threads: Vec<_> = (0..N)
        .map(|i| {
            let (barrier, fp) = (barrier.clone(), fp.clone());
            std::thread::spawn(move || -> Result<u16, String> {
                let conn = RawConn::connect(addr, &fp).map_err(|e| format!("connect {i}: {e}"));
                // Every connection is open and past its handshake before any request is sent.
                barrier.wait();
                let mut conn = conn?;
                let resp = conn.get(&format!("/api2/json/c{i}?sleep_ms=50"), "");
                if resp.json()["raw_path"] != format!("/api2/json/c{i}") {
                    return Err(format!("request {i} got another answer"));
                }
                Ok(resp.status)
            })
        })
        .collect();
    barrier.wait();
    let started = Instant::now();
    let results: Vec<Result<u16, String>> =
        threads.into_iter().map(|t| t.join().unwrap()).collect();
    eprintln!(
        "{N} concurrent connections (handler sleeping 50 ms each) answered in {:?}",
        started.elapsed()
    );
    let errors: Vec<&String> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(errors.is_empty(), "errors: {errors:?}");
    assert!(results.iter().all(|r| r == &Ok(200)));
    assert_eq!(sim.requests().len(), N);
}

#[test]
fn logs_every_api_request_but_not_control_calls() {
    let sim = start();
    let agent = agent(&sim);
    call(
        &agent,
        "GET",
        &format!("{}/api/cluster?fields=version", sim.ontap_url()),
        None,
    );
    call(
        &agent,
        "POST",
        &format!("{}/api2/json/access/ticket?status=401", sim.pve_url()),
        Some("{}"),
    );
    call(
        &agent,
        "GET",
        &format!("{}/_sim/state", sim.pve_url()),
        None,
    );
    let (status, log) = call_json(
        &agent,
        "GET",
        &format!("{}/_sim/requests", sim.ontap_url()),
        None,
    );
    assert_eq!(status, 200);
    let log = log.as_array().unwrap().clone();
    assert_eq!(log.len(), 2, "{log:?}");
    assert_eq!(log[0]["api"], "ontap");
    assert_eq!(log[0]["method"], "GET");
    assert_eq!(log[0]["path"], "/api/cluster");
    assert_eq!(log[0]["query"], "fields=version");
    assert_eq!(log[0]["status"], 200);
    assert_eq!(log[1]["api"], "pve");
    assert_eq!(log[1]["status"], 401);
    assert!(log[0]["seq"].as_u64().unwrap() < log[1]["seq"].as_u64().unwrap());
    assert!(log[0]["duration_ms"].is_u64());
    let time = log[0]["time"].as_str().unwrap();
    assert!(
        time.len() == 24 && time.ends_with('Z') && &time[19..20] == ".",
        "{time}"
    );
    // Keys in the documented order.
    let (_, raw) = call(
        &agent,
        "GET",
        &format!("{}/_sim/requests", sim.ontap_url()),
        None,
    );
    assert!(raw.starts_with(r#"[{"seq":"#), "{raw}");
    assert!(raw.contains(r#""time":"#) && raw.contains(r#""duration_ms":"#));

    assert_eq!(sim.requests().len(), 2);
    let (status, cleared) = call_json(
        &agent,
        "DELETE",
        &format!("{}/_sim/requests", sim.pve_url()),
        None,
    );
    assert_eq!((status, cleared["cleared"].as_u64()), (200, Some(2)));
    assert!(sim.requests().is_empty());
}

#[test]
fn status_and_body_faults_answer_instead_of_the_handler() {
    let sim = start();
    let agent = agent(&sim);
    let rule = json!({"api": "ontap", "method": "POST", "path": "/api/storage/file/clone",
                      "status": 500, "reason": "Simulated failure",
                      "body": {"error": {"message": "boom", "code": "13565952"}}});
    let (status, id) = call_json(
        &agent,
        "POST",
        &format!("{}/_sim/faults", sim.pve_url()),
        Some(&rule.to_string()),
    );
    assert_eq!(status, 200);
    assert!(id["id"].as_u64().is_some());

    let url = format!("{}/api/storage/file/clone", sim.ontap_url());
    // Other methods, and the other API, are untouched.
    assert_eq!(call(&agent, "GET", &url, None).0, 200);
    let pve_same_path = format!("{}/api/storage/file/clone", sim.pve_url());
    assert_eq!(call(&agent, "POST", &pve_same_path, Some("{}")).0, 200);

    let mut conn = RawConn::connect(sim.ontap_addr(), sim.ontap_fingerprint()).unwrap();
    conn.send(b"POST /api/storage/file/clone HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}");
    let resp = conn.read_response().unwrap();
    assert_eq!(
        (resp.status, resp.reason.as_str()),
        (500, "Simulated failure")
    );
    assert_eq!(
        resp.json(),
        json!({"error": {"message": "boom", "code": "13565952"}})
    );
    // Count 1 (the default): spent, so the next one reaches the handler.
    assert_eq!(call(&agent, "POST", &url, Some("{}")).0, 200);
    let statuses: Vec<u16> = sim.requests().iter().map(|e| e.status).collect();
    assert_eq!(statuses, [200, 200, 500, 200]);
    let faults = sim.faults();
    assert_eq!((faults[0].applied, faults[0].spent), (1, true));
}

#[test]
fn skip_and_count_pick_the_requests_that_fail() {
    let sim = start();
    let agent = agent(&sim);
    sim.add_fault(
        FaultRule::new("GET", "/api2/json/nodes/*/status")
            .skip(2)
            .count(2)
            .status(503),
    );
    let statuses: Vec<u16> = (0..6)
        .map(|_| {
            call(
                &agent,
                "GET",
                &format!("{}/api2/json/nodes/pve1/status", sim.pve_url()),
                None,
            )
            .0
        })
        .collect();
    assert_eq!(statuses, [200, 200, 503, 503, 200, 200]);
    // count 0: every matching request until the rules are cleared.
    sim.add_fault(
        FaultRule::new("GET", "/api2/json/version")
            .count(0)
            .status(500),
    );
    for _ in 0..3 {
        assert_eq!(
            call(
                &agent,
                "GET",
                &format!("{}/api2/json/version", sim.pve_url()),
                None
            )
            .0,
            500
        );
    }
    let (status, cleared) = call_json(
        &agent,
        "DELETE",
        &format!("{}/_sim/faults", sim.ontap_url()),
        None,
    );
    assert_eq!((status, cleared["cleared"].as_u64()), (200, Some(2)));
    assert_eq!(
        call(
            &agent,
            "GET",
            &format!("{}/api2/json/version", sim.pve_url()),
            None
        )
        .0,
        200
    );
}

#[test]
fn delay_and_latency_hold_the_answer_back() {
    let sim = Sim::start_with_handler(
        SimOptions {
            latency_ms: 40,
            ..SimOptions::default()
        },
        echo,
    )
    .unwrap();
    let agent = agent(&sim);
    sim.add_fault(FaultRule::new("GET", "/api/slow").delay_ms(300));
    assert_eq!(
        call(
            &agent,
            "GET",
            &format!("{}/api/slow", sim.ontap_url()),
            None
        )
        .0,
        200
    );
    assert_eq!(
        call(
            &agent,
            "GET",
            &format!("{}/api/fast", sim.ontap_url()),
            None
        )
        .0,
        200
    );
    call(
        &agent,
        "GET",
        &format!("{}/_sim/state", sim.ontap_url()),
        None,
    );
    let log = sim.requests();
    assert_eq!(log.len(), 2);
    assert!(log[0].duration_ms >= 340, "delay + latency: {:?}", log[0]);
    assert!(log[1].duration_ms >= 40, "latency: {:?}", log[1]);
}

#[test]
fn drop_closes_the_connection_without_an_answer() {
    let sim = start();
    sim.add_fault(
        FaultRule::new("POST", "/api/storage/volumes")
            .api(Api::Ontap)
            .drop_connection(),
    );
    let mut conn = RawConn::connect(sim.ontap_addr(), sim.ontap_fingerprint()).unwrap();
    conn.send(b"POST /api/storage/volumes HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}");
    assert!(conn.read_response().is_none());
    let log = sim.requests();
    assert_eq!((log.len(), log[0].status), (1, 0));
    // Spent: a new connection gets an answer.
    let mut conn = RawConn::connect(sim.ontap_addr(), sim.ontap_fingerprint()).unwrap();
    conn.send(b"POST /api/storage/volumes HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}");
    assert_eq!(conn.read_response().unwrap().status, 200);
}

#[test]
fn fail_job_is_handed_to_the_handler() {
    let sim = start();
    let agent = agent(&sim);
    let rule = r#"{"method":"POST","path":"/api/storage/file/clone","fail_job":{"code":13565952,"message":"Clone operation failed"}}"#;
    assert_eq!(
        call(
            &agent,
            "POST",
            &format!("{}/_sim/faults", sim.ontap_url()),
            Some(rule)
        )
        .0,
        200
    );
    let url = format!("{}/api/storage/file/clone", sim.ontap_url());
    let (status, first) = call_json(&agent, "POST", &url, Some("{}"));
    assert_eq!(status, 200);
    assert_eq!(
        first["job_fault"],
        json!({"code": 13565952, "message": "Clone operation failed"})
    );
    let (_, second) = call_json(&agent, "POST", &url, Some("{}"));
    assert_eq!(second["job_fault"], json!(null));
}

#[test]
fn invalid_fault_rules_are_refused_with_400() {
    let sim = start();
    let agent = agent(&sim);
    let url = format!("{}/_sim/faults", sim.pve_url());
    for (body, needle) in [
        (r#"{"path":"/a","stauts":500}"#, "unknown field `stauts`"),
        (
            r#"{"path":"/a","status":500,"drop":true}"#,
            "drop cannot be combined",
        ),
        (r#"{"path":"/a"}"#, "no effect"),
        (
            r#"{"api":"vmware","status":500}"#,
            "unknown variant `vmware`",
        ),
        ("not json", "invalid fault rule"),
    ] {
        let (status, resp) = call_json(&agent, "POST", &url, Some(body));
        assert_eq!(status, 400, "{body}");
        assert!(
            resp["error"].as_str().unwrap().contains(needle),
            "{body}: {resp}"
        );
    }
    assert!(sim.faults().is_empty());
    assert!(sim.try_add_fault(FaultRule::new("GET", "/a")).is_err());
}

#[test]
fn control_api_answers_on_both_ports() {
    let sim = start();
    let agent = agent(&sim);
    for base in [sim.pve_url(), sim.ontap_url()] {
        let (status, state) = call_json(&agent, "GET", &format!("{base}/_sim/state"), None);
        assert_eq!(status, 200);
        assert!(
            state.get("ontap").is_some() && state.get("pve").is_some(),
            "{state}"
        );
        assert_eq!(
            call(&agent, "GET", &format!("{base}/_sim/nope"), None).0,
            404
        );
        assert_eq!(
            call(&agent, "PUT", &format!("{base}/_sim/reset"), Some("{}")).0,
            405
        );
        assert_eq!(
            call(
                &agent,
                "POST",
                &format!("{base}/_sim/guests/abc/write"),
                None
            )
            .0,
            400
        );
    }
    assert!(sim.requests().is_empty());
}

#[test]
fn reset_clears_faults_and_log() {
    let sim = start();
    let agent = agent(&sim);
    sim.add_fault(FaultRule::new("GET", "/api/*").status(500).count(0));
    assert_eq!(
        call(
            &agent,
            "GET",
            &format!("{}/api/cluster", sim.ontap_url()),
            None
        )
        .0,
        500
    );
    let before = sim.shared().lock().dump();
    let (status, _) = call_json(
        &agent,
        "POST",
        &format!("{}/_sim/reset", sim.pve_url()),
        None,
    );
    assert_eq!(status, 200);
    assert!(sim.faults().is_empty());
    assert!(sim.requests().is_empty());
    assert_eq!(sim.shared().lock().dump(), before);
    assert_eq!(
        call(
            &agent,
            "GET",
            &format!("{}/api/cluster", sim.ontap_url()),
            None
        )
        .0,
        200
    );
    sim.add_fault(FaultRule::new("GET", "/api/*").status(500));
    sim.reset();
    assert!(sim.faults().is_empty());
    assert!(sim.requests().is_empty());
}

#[test]
fn drop_stops_listeners_and_open_connections() {
    let sim = start();
    let (pve, ontap) = (sim.pve_addr(), sim.ontap_addr());
    let mut idle = RawConn::connect(pve, sim.pve_fingerprint()).unwrap();
    assert_eq!(idle.get("/x", "").status, 200);
    let started = Instant::now();
    drop(sim);
    eprintln!("stopped in {:?}", started.elapsed());
    assert!(idle.is_closed(), "an idle keep-alive connection is closed");
    assert!(TcpStream::connect(pve).is_err(), "pve listener closed");
    assert!(TcpStream::connect(ontap).is_err(), "ontap listener closed");
}

#[test]
fn busy_ports_and_equal_ports_are_refused() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let err = Sim::start(SimOptions {
        ontap_port: port,
        ..SimOptions::default()
    })
    .err()
    .unwrap();
    assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
    assert!(
        err.to_string().contains(&format!(
            "cannot listen on 127.0.0.1:{port} for the ontap API"
        )),
        "{err}"
    );
    let err = Sim::start(SimOptions {
        pve_port: 40000,
        ontap_port: 40000,
        ..SimOptions::default()
    })
    .err()
    .unwrap();
    assert!(err.to_string().contains("must differ"), "{err}");
}

#[test]
fn sim_can_be_shared_between_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Sim>();
    let sim = Arc::new(start());
    let worker = {
        let sim = sim.clone();
        std::thread::spawn(move || sim.add_fault(FaultRule::new("GET", "/x").status(500)))
    };
    let id = worker.join().unwrap();
    assert_eq!(sim.faults()[0].id, id);
}

#[test]
fn config_text_logs_in_with_password_or_token() {
    let sim = start();
    let password = sim.config_ini();
    assert!(password.contains(&format!(
        "proxmox_host = 127.0.0.1:{}\n",
        sim.pve_addr().port()
    )));
    assert!(password.contains("proxmox_user = root@pam\n") && !password.contains("proxmox_token"));
    let token = sim.config_ini_with_token();
    assert!(
        token.contains("proxmox_token = root@pam!snap=5ec2e7a0-6d1c-4d5e-9a55-0b5e1e7f2c11\n"),
        "{token}"
    );
    assert!(!token.contains("proxmox_pass"));
    let extra = sim.config_ini_with(pve_ontap_sim::PveLogin::Password, &[("lock_dir", "/tmp/l")]);
    let proxmox_section = extra.split("\n\n").next().unwrap();
    assert!(proxmox_section.ends_with("\nlock_dir = /tmp/l"), "{extra}");
    assert!(extra.contains(&format!(
        "[ONTAP01]\nhost = 127.0.0.1:{}\nuser = admin\n",
        sim.ontap_addr().port()
    )));
}
