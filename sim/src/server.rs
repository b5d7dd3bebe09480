//! The HTTPS listeners: an accept thread per port, a thread per connection (TLS, HTTP/1.1
//! keep-alive), and a prompt stop that closes every open connection.

use std::collections::HashMap;
use std::io::{self, BufReader, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rustls::{ServerConfig, ServerConnection, StreamOwned};
use serde_json::json;

use crate::dispatch::Outcome;
use crate::http::Response;
use crate::simcore::Core;
use crate::wire::{self, ReadError};
use crate::world::Api;

/// An idle keep-alive connection is closed after this long.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(300);
/// How long `stop` waits for connection threads to finish.
const STOP_GRACE: Duration = Duration::from_secs(2);

/// The open connections, so `stop` can shut them down.
#[derive(Default)]
struct Connections {
    next_id: AtomicU64,
    open: Mutex<HashMap<u64, TcpStream>>,
    closed: Condvar,
}

impl Connections {
    fn open(&self) -> std::sync::MutexGuard<'_, HashMap<u64, TcpStream>> {
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn register(&self, sock: &TcpStream) -> Option<u64> {
        let clone = sock.try_clone().ok()?;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.open().insert(id, clone);
        Some(id)
    }

    fn unregister(&self, id: u64) {
        self.open().remove(&id);
        self.closed.notify_all();
    }
}

/// A running set of listeners; dropping it stops them.
pub struct Server {
    stop: Arc<AtomicBool>,
    conns: Arc<Connections>,
    acceptors: Vec<(SocketAddr, Option<JoinHandle<()>>)>,
}

impl Server {
    /// Serve each bound listener with its TLS config and API.
    pub fn start(
        core: Arc<Core>,
        listeners: Vec<(Api, TcpListener, Arc<ServerConfig>)>,
    ) -> io::Result<Server> {
        let mut server = Server {
            stop: Arc::new(AtomicBool::new(false)),
            conns: Arc::new(Connections::default()),
            acceptors: Vec::new(),
        };
        for (api, listener, tls) in listeners {
            let addr = listener.local_addr()?;
            let ctx = Accept {
                api,
                tls,
                core: core.clone(),
                stop: server.stop.clone(),
                conns: server.conns.clone(),
            };
            let handle = std::thread::Builder::new()
                .name(format!("sim-{}-accept", api.as_str()))
                .spawn(move || ctx.run(listener))?;
            server.acceptors.push((addr, Some(handle)));
        }
        Ok(server)
    }

    /// Stop accepting, close every connection, and wait (briefly) for their threads.
    pub fn stop(&mut self) {
        if self.stop.swap(true, Ordering::SeqCst) {
            return;
        }
        for (addr, handle) in &mut self.acceptors {
            // Wake the blocking accept so its thread sees the flag.
            let woke = TcpStream::connect_timeout(&wake_addr(*addr), Duration::from_secs(1));
            if let (Ok(_), Some(h)) = (woke, handle.take()) {
                let _ = h.join();
            }
        }
        let deadline = Instant::now() + STOP_GRACE;
        let mut open = self.conns.open();
        for sock in open.values() {
            let _ = sock.shutdown(Shutdown::Both);
        }
        while !open.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            open = self
                .conns
                .closed
                .wait_timeout(open, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Where to connect to reach a listener bound to `addr` (loopback for a wildcard bind).
fn wake_addr(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => (Ipv4Addr::LOCALHOST, addr.port()).into(),
        IpAddr::V6(ip) if ip.is_unspecified() => (Ipv6Addr::LOCALHOST, addr.port()).into(),
        _ => addr,
    }
}

/// What an accept thread hands to each connection.
#[derive(Clone)]
struct Accept {
    api: Api,
    tls: Arc<ServerConfig>,
    core: Arc<Core>,
    stop: Arc<AtomicBool>,
    conns: Arc<Connections>,
}

impl Accept {
    fn run(self, listener: TcpListener) {
        for sock in listener.incoming() {
            if self.stop.load(Ordering::SeqCst) {
                break;
            }
            let sock = match sock {
                Ok(sock) => sock,
                Err(_) => {
                    // Out of file descriptors or a connection reset before accept: try again.
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                }
            };
            let Some(id) = self.conns.register(&sock) else {
                continue;
            };
            let ctx = self.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("sim-{}-conn", self.api.as_str()))
                .spawn(move || {
                    ctx.serve_connection(sock);
                    ctx.conns.unregister(id);
                });
            if spawned.is_err() {
                self.conns.unregister(id);
            }
        }
    }

    fn serve_connection(&self, sock: TcpStream) {
        let _ = sock.set_nodelay(true);
        let _ = sock.set_read_timeout(Some(IDLE_TIMEOUT));
        let Ok(tls) = ServerConnection::new(self.tls.clone()) else {
            return;
        };
        let mut stream = BufReader::new(StreamOwned::new(tls, sock));
        loop {
            if self.stop.load(Ordering::SeqCst) {
                break;
            }
            let head = match wire::read_head(&mut stream) {
                Ok(head) => head,
                Err(e) => return self.abandon(stream, e),
            };
            if head.expect_continue {
                let w = stream.get_mut();
                if w.write_all(wire::CONTINUE)
                    .and_then(|()| w.flush())
                    .is_err()
                {
                    return;
                }
            }
            let body = match wire::read_body(&mut stream, &head) {
                Ok(body) => body,
                Err(e) => return self.abandon(stream, e),
            };
            let incoming = head.finish(body);
            let req = &incoming.request;
            match self.core.serve(self.api, req, &incoming.raw_query) {
                Outcome::Drop => {
                    // No close_notify, no answer: the client sees the connection vanish.
                    let _ = stream.get_ref().sock.shutdown(Shutdown::Both);
                    return;
                }
                Outcome::Respond(resp) => {
                    let keep_alive = incoming.keep_alive && !self.stop.load(Ordering::SeqCst);
                    let head_only = req.method.eq_ignore_ascii_case("HEAD");
                    if wire::write_response(stream.get_mut(), &resp, keep_alive, head_only).is_err()
                    {
                        return;
                    }
                    if !keep_alive {
                        break;
                    }
                }
            }
        }
        close(stream);
    }

    /// End a connection whose request could not be read, answering it if it was malformed.
    fn abandon(
        &self,
        mut stream: BufReader<StreamOwned<ServerConnection, TcpStream>>,
        e: ReadError,
    ) {
        match e {
            ReadError::Reject(status, message) => {
                let resp = Response::json(status, &json!({"error": message}));
                let _ = wire::write_response(stream.get_mut(), &resp, false, false);
                close(stream);
            }
            ReadError::Closed => close(stream),
            ReadError::Io(_) => {}
        }
    }
}

/// Close cleanly: TLS close_notify, then FIN.
fn close(mut stream: BufReader<StreamOwned<ServerConnection, TcpStream>>) {
    let s = stream.get_mut();
    s.conn.send_close_notify();
    let _ = s.flush();
    let _ = s.sock.shutdown(Shutdown::Write);
}
