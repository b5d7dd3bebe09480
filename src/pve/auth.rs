//! Proxmox VE authentication: an API token header, or a ticket from `POST /access/ticket` (taken
//! lazily, renewed after an hour or once on a 401) sent as cookie plus CSRF header on writes.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::Login;
use crate::error::{Error, Result, ResultExt};
use crate::http::{percent_encode, Body, Transport};
use crate::secret::Secret;

use super::envelope;

/// Proxmox tickets live 2 h; renew after 1 h as Proxmox's own client does.
const TICKET_RENEW_AFTER: Duration = Duration::from_secs(3600);

pub(crate) const API_PREFIX: &str = "/api2/json";

/// How requests are authenticated.
pub(crate) enum Auth {
    Token {
        /// The whole header value `PVEAPIToken=USER@REALM!ID=SECRET`.
        header: Secret,
    },
    Password {
        user: String,
        password: Secret,
        ticket: Mutex<Option<Ticket>>,
    },
}

#[derive(Clone)]
pub(crate) struct Ticket {
    /// `Cookie` header value.
    cookie: Secret,
    csrf: Secret,
    obtained: Instant,
}

impl Auth {
    pub(crate) fn new(auth: &Login) -> Auth {
        match auth {
            Login::Token { token_id, secret } => Auth::Token {
                header: Secret::new(format!("PVEAPIToken={token_id}={}", secret.expose())),
            },
            Login::Password { user, password } => Auth::Password {
                user: user.clone(),
                password: password.clone(),
                ticket: Mutex::new(None),
            },
        }
    }

    pub(crate) fn uses_ticket(&self) -> bool {
        matches!(self, Auth::Password { .. })
    }

    /// Header pairs for a request with this method (logging in first when needed).
    /// The returned strings hold secrets: they go only into request headers.
    pub(crate) fn headers(
        &self,
        http: &Transport,
        method: &str,
    ) -> Result<Vec<(&'static str, String)>> {
        match self {
            Auth::Token { header } => Ok(vec![("Authorization", header.expose().to_string())]),
            Auth::Password { .. } => {
                let ticket = self.ticket(http)?;
                let mut headers = vec![("Cookie", ticket.cookie.expose().to_string())];
                if method != "GET" {
                    headers.push(("CSRFPreventionToken", ticket.csrf.expose().to_string()));
                }
                Ok(headers)
            }
        }
    }

    /// Forgets the ticket (after a 401), so the next request logs in again.
    pub(crate) fn invalidate(&self) {
        if let Auth::Password { ticket, .. } = self {
            *ticket.lock().unwrap_or_else(|e| e.into_inner()) = None;
        }
    }

    /// The current ticket, logging in when there is none or it is older than an hour.
    fn ticket(&self, http: &Transport) -> Result<Ticket> {
        let Auth::Password {
            user,
            password,
            ticket,
        } = self
        else {
            return Err(Error::Internal("API token auth has no ticket".into()));
        };
        let mut slot = ticket.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(t) = slot.as_ref() {
            if t.obtained.elapsed() < TICKET_RENEW_AFTER {
                return Ok(t.clone());
            }
        }
        let fresh =
            login(http, user, password).step_with(|| format!("log in to Proxmox VE as {user}"))?;
        *slot = Some(fresh.clone());
        Ok(fresh)
    }
}

/// `POST /access/ticket` with user and password in the form body (never in the URL).
fn login(http: &Transport, user: &str, password: &Secret) -> Result<Ticket> {
    let target = format!("{API_PREFIX}/access/ticket");
    let form = format!(
        "username={}&password={}",
        percent_encode(user),
        percent_encode(password.expose())
    );
    let response = http.send(
        "POST",
        &target,
        &[("Accept", "application/json")],
        Some(Body {
            content_type: "application/x-www-form-urlencoded",
            bytes: form.as_bytes(),
        }),
    )?;
    let data = envelope::decode("POST", &target, &response).map_err(|e| match e {
        Error::Api(mut api) if api.status == 401 => {
            api.message = format!(
                "{} (check proxmox_user and proxmox_pass, or use proxmox_token)",
                api.message
            );
            Error::Api(api)
        }
        other => other,
    })?;
    if data.get("NeedTFA").and_then(envelope::lenient_bool) == Some(true) {
        return Err(Error::Refused(format!(
            "Proxmox VE account {user} needs a second factor; use an API token (proxmox_token) instead"
        )));
    }
    let field = |name: &str| {
        data.get(name)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| Error::Transport {
                api: crate::error::Api::Proxmox,
                method: "POST".into(),
                path: target.clone(),
                kind: crate::error::TransportKind::Protocol,
                message: format!("login answer has no {name}"),
            })
    };
    let ticket = field("ticket")?;
    let csrf = field("CSRFPreventionToken")?;
    Ok(Ticket {
        cookie: Secret::new(format!("PVEAuthCookie={ticket}")),
        csrf: Secret::new(csrf),
        obtained: Instant::now(),
    })
}
