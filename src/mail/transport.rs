//! Where outgoing mail goes: `file:DIR` (one .eml per message, for tests, demos and sites that
//! hand mail to another system) or `smtp://[user:pass@]host:port`.

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::error::{Error, Result};

pub enum Transport {
    File(AsyncFileTransport<Tokio1Executor>),
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
}

/// A failed send: permanent ones (SMTP 5xx) are not retried.
#[derive(Debug)]
pub struct SendError {
    pub permanent: bool,
    pub message: String,
}

impl Transport {
    pub fn from_config(spec: &str) -> Result<Transport> {
        if let Some(dir) = spec.strip_prefix("file:") {
            let dir = std::path::Path::new(dir);
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
            return Ok(Transport::File(AsyncFileTransport::new(dir)));
        }
        if let Some(rest) = spec.strip_prefix("smtp://") {
            let (creds, hostport) = match rest.rsplit_once('@') {
                Some((c, h)) => (Some(c), h),
                None => (None, rest),
            };
            let hostport = hostport.trim_end_matches('/');
            let (host, port) = match hostport.rsplit_once(':') {
                Some((h, p)) => (
                    h,
                    p.parse::<u16>().map_err(|_| {
                        Error::bad(
                            "mail.transport",
                            format!("expected a port number, got {p:?}"),
                        )
                    })?,
                ),
                None => (hostport, 25),
            };
            let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host).port(port);
            if let Some(c) = creds {
                let (user, pass) = c.split_once(':').unwrap_or((c, ""));
                b = b.credentials(Credentials::new(user.to_string(), pass.to_string()));
            }
            return Ok(Transport::Smtp(b.build()));
        }
        Err(Error::bad(
            "mail.transport",
            format!(
                "expected file:DIR or smtp://host:port, got {:?}",
                crate::store::redact(spec)
            ),
        ))
    }

    pub async fn send_raw(
        &self,
        envelope: &Envelope,
        raw: &[u8],
    ) -> std::result::Result<(), SendError> {
        match self {
            Transport::File(t) => {
                t.send_raw(envelope, raw)
                    .await
                    .map(|_| ())
                    .map_err(|e| SendError {
                        permanent: false,
                        message: e.to_string(),
                    })
            }
            Transport::Smtp(t) => {
                t.send_raw(envelope, raw)
                    .await
                    .map(|_| ())
                    .map_err(|e| SendError {
                        permanent: e.is_permanent(),
                        message: e.to_string(),
                    })
            }
        }
    }
}
