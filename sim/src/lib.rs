//! pve-ontap-sim: a simulated NetApp ONTAP cluster and Proxmox VE cluster over HTTPS, sharing one state.
//! Library so tests can run it in-process (`Sim`); `main.rs` is the `pve-ontap-sim` binary.
//!
//! Why a simulator: neither ONTAP nor Proxmox can run in a test environment, so both APIs are
//! simulated faithfully enough that NetApp's `netapp-ontap` client and `proxmoxer` work against
//! them, with a control API under `/_sim/` (request log, fault rules, state dump, reset, guest
//! writes) that tests use to inject failures and check outcomes.
//!
//! Layers, each importing only the ones above it: leaves (`http`, `wire`, `tls`, `job_fault`); the
//! two APIs' states `ontap` and `pve` (Proxmox reads ONTAP only through `pve::exports::Exports`);
//! `world` (both states behind one lock); `reqlog`, `faults`, `config_ini`; `simcore` (what every
//! connection shares); the API handlers' entry points (`ontap::handle`, `pve::handle`), `control`
//! and `dispatch`; `server`; this file.

pub mod config_ini;
pub mod control;
pub mod dispatch;
pub mod faults;
pub mod http;
pub mod job_fault;
pub mod ontap;
pub mod pve;
pub mod reqlog;
pub mod scale;
pub mod server;
pub mod simcore;
pub mod tls;
pub mod wire;
pub mod world;

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

pub use crate::config_ini::PveLogin;
pub use crate::faults::{FaultRule, FaultStatus};
pub use crate::job_fault::JobFault;
pub use crate::reqlog::RequestLogEntry;
use crate::server::Server;
use crate::simcore::Core;
pub use crate::world::{Api, Scenario, Shared, World};

/// How to start a simulator.
#[derive(Debug, Clone)]
pub struct SimOptions {
    pub scenario: Scenario,
    pub bind: IpAddr,
    /// 0: a free port.
    pub pve_port: u16,
    /// 0: a free port.
    pub ontap_port: u16,
    /// Added to every API response (not to `/_sim/`).
    pub latency_ms: u64,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            scenario: Scenario::default(),
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            pve_port: 0,
            ontap_port: 0,
            latency_ms: 0,
        }
    }
}

/// One listener as clients see it.
#[derive(Debug, Clone)]
struct Endpoint {
    addr: SocketAddr,
    /// `host:port` as clients should write it (loopback for a wildcard bind).
    host: String,
    url: String,
    fingerprint: String,
    cert_pem: String,
}

/// The ready line printed by the binary (field order as documented).
#[derive(Serialize)]
struct ReadyLine<'a> {
    pve: &'a str,
    ontap: &'a str,
    pve_fingerprint: &'a str,
    ontap_fingerprint: &'a str,
    config: Option<String>,
}

/// A running simulator: both HTTPS listeners over one world. Dropping it stops the listeners and
/// closes their connections.
pub struct Sim {
    core: Arc<Core>,
    pve: Endpoint,
    ontap: Endpoint,
    // Dropped last: stops the threads that use `core`.
    _server: Server,
}

fn bind(api: Api, ip: IpAddr, port: u16) -> io::Result<TcpListener> {
    let addr = SocketAddr::new(ip, port);
    TcpListener::bind(addr).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("cannot listen on {addr} for the {} API: {e}", api.as_str()),
        )
    })
}

fn endpoint(addr: SocketAddr, fingerprint: String, cert_pem: String) -> Endpoint {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    let host = SocketAddr::new(ip, addr.port()).to_string();
    Endpoint {
        addr,
        url: format!("https://{host}"),
        host,
        fingerprint,
        cert_pem,
    }
}

impl Sim {
    /// Bind both ports, generate the certificates, build the world, and start serving.
    pub fn start(options: SimOptions) -> io::Result<Sim> {
        Sim::start_with_handler(options, dispatch::api_handler)
    }

    /// Like `start`, with API requests served by `handler` instead of the ONTAP and Proxmox
    /// handlers (tests of the server, fault rules and log on their own).
    #[doc(hidden)]
    pub fn start_with_handler(options: SimOptions, handler: simcore::Handler) -> io::Result<Sim> {
        if options.pve_port != 0 && options.pve_port == options.ontap_port {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "the pve and ontap ports must differ (both {})",
                    options.pve_port
                ),
            ));
        }
        let problems = options.scenario.pve.validate();
        if !problems.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("invalid scenario: {}", problems.join("; ")),
            ));
        }
        let pve_listener = bind(Api::Pve, options.bind, options.pve_port)?;
        let ontap_listener = bind(Api::Ontap, options.bind, options.ontap_port)?;
        let pve_id = tls::generate("pve-ontap-sim Proxmox VE", options.bind)?;
        let ontap_id = tls::generate("pve-ontap-sim ONTAP", options.bind)?;
        let pve = endpoint(
            pve_listener.local_addr()?,
            pve_id.fingerprint.clone(),
            pve_id.cert_pem.clone(),
        );
        let ontap = endpoint(
            ontap_listener.local_addr()?,
            ontap_id.fingerprint.clone(),
            ontap_id.cert_pem.clone(),
        );
        let shared = Arc::new(Shared::new(
            options.scenario,
            Duration::from_millis(options.latency_ms),
        ));
        let core = Arc::new(Core::with_handler(shared, handler));
        let server = Server::start(
            core.clone(),
            vec![
                (Api::Pve, pve_listener, pve_id.server_config),
                (Api::Ontap, ontap_listener, ontap_id.server_config),
            ],
        )?;
        Ok(Sim {
            core,
            pve,
            ontap,
            _server: server,
        })
    }

    /// `https://127.0.0.1:PORT` of the Proxmox VE API.
    pub fn pve_url(&self) -> &str {
        &self.pve.url
    }

    /// `https://127.0.0.1:PORT` of the ONTAP API.
    pub fn ontap_url(&self) -> &str {
        &self.ontap.url
    }

    pub fn pve_addr(&self) -> SocketAddr {
        self.pve.addr
    }

    pub fn ontap_addr(&self) -> SocketAddr {
        self.ontap.addr
    }

    /// SHA-256 of the Proxmox listener's certificate, upper-case colon hex.
    pub fn pve_fingerprint(&self) -> &str {
        &self.pve.fingerprint
    }

    /// SHA-256 of the ONTAP listener's certificate, upper-case colon hex.
    pub fn ontap_fingerprint(&self) -> &str {
        &self.ontap.fingerprint
    }

    /// The Proxmox listener's self-signed certificate (PEM), e.g. for `proxmox_ca`.
    pub fn pve_cert_pem(&self) -> &str {
        &self.pve.cert_pem
    }

    /// The ONTAP listener's self-signed certificate (PEM), e.g. for `ca`.
    pub fn ontap_cert_pem(&self) -> &str {
        &self.ontap.cert_pem
    }

    /// The tool's config for this simulator, Proxmox password login (what `--write-config` writes).
    pub fn config_ini(&self) -> String {
        self.config_ini_with(PveLogin::Password, &[])
    }

    /// Like `config_ini`, logging in to Proxmox with the scenario's API token.
    pub fn config_ini_with_token(&self) -> String {
        self.config_ini_with(PveLogin::Token, &[])
    }

    /// The config with the given Proxmox login and extra `[proxmox]` keys (e.g. `lock_dir`).
    pub fn config_ini_with(&self, login: PveLogin, extra: &[(&str, &str)]) -> String {
        let endpoints = config_ini::Endpoints {
            pve_host: self.pve.host.clone(),
            pve_fingerprint: self.pve.fingerprint.clone(),
            ontap_host: self.ontap.host.clone(),
            ontap_fingerprint: self.ontap.fingerprint.clone(),
        };
        config_ini::render(&self.core.shared.lock(), &endpoints, login, extra)
    }

    /// Write `config_ini()` to `path` with mode 0600.
    pub fn write_config(&self, path: &Path) -> io::Result<()> {
        config_ini::write_private(path, &self.config_ini()).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot write config '{}': {e}", path.display()),
            )
        })
    }

    /// The one-line JSON the binary prints when it is ready.
    pub fn ready_line(&self, config: Option<&Path>) -> String {
        let line = ReadyLine {
            pve: &self.pve.url,
            ontap: &self.ontap.url,
            pve_fingerprint: &self.pve.fingerprint,
            ontap_fingerprint: &self.ontap.fingerprint,
            config: config.map(|p| p.display().to_string()),
        };
        serde_json::to_string(&line).unwrap_or_default()
    }

    /// Direct access to the world (lock `world` briefly).
    pub fn shared(&self) -> Arc<Shared> {
        self.core.shared.clone()
    }

    /// The request log, in arrival order.
    pub fn requests(&self) -> Vec<RequestLogEntry> {
        self.core.log.entries()
    }

    pub fn clear_requests(&self) {
        self.core.log.clear();
    }

    /// Arm a fault rule; returns its id.
    ///
    /// # Panics
    /// When the rule is invalid (a mistake in the calling test); see `try_add_fault`.
    pub fn add_fault(&self, rule: FaultRule) -> u64 {
        match self.try_add_fault(rule) {
            Ok(id) => id,
            Err(e) => panic!("invalid fault rule: {e}"),
        }
    }

    /// Arm a fault rule, or say why it is invalid.
    pub fn try_add_fault(&self, rule: FaultRule) -> Result<u64, String> {
        self.core.faults().add(rule)
    }

    /// Every rule added since the last clear, with its counters.
    pub fn faults(&self) -> Vec<FaultStatus> {
        self.core.faults().list()
    }

    pub fn clear_faults(&self) {
        self.core.faults().clear();
    }

    /// Back to the scenario's world, no fault rules, empty request log.
    pub fn reset(&self) {
        self.core.reset();
    }
}
