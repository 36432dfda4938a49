//! Where outgoing mail goes: `file:DIR` (one .eml per message, for tests, demos and sites that
//! hand mail to another system), `smtp://[user:pass@]host:port` (STARTTLS when offered) or
//! `smtps://user:pass@host:port` (TLS from the start).
//!
//! SMTP speaks through lettre's connection, on a socket we open ourselves with TCP_NODELAY:
//! lettre writes a message and its closing `.` in two writes, and with Nagle's algorithm the
//! second waits for the server's delayed ACK — 40 ms per mail, 25 mails a second at best. One
//! connection serves a whole delivery round.

use std::pin::Pin;
use std::task::{Context, Poll};

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, AsyncTokioStream, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use crate::error::{Error, Result};
use crate::mail::server_url::{self, Refused};

pub enum Transport {
    /// `file:DIR`: each mail written to `DIR/<random UUID>.eml`, as lettre's file transport
    /// names them.
    File(std::path::PathBuf),
    Smtp(SmtpTarget),
}

impl std::fmt::Debug for Transport {
    // Never print the credentials.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Transport::File(_) => write!(f, "Transport::File"),
            Transport::Smtp(t) => write!(
                f,
                "Transport::Smtp({}:{}, tls: {})",
                t.host, t.port, t.implicit_tls
            ),
        }
    }
}

/// An SMTP server to deliver to.
pub struct SmtpTarget {
    host: String,
    port: u16,
    implicit_tls: bool,
    credentials: Option<Credentials>,
    /// The longest one step of the conversation may take (`[mail] smtp_timeout_seconds`): a
    /// relay that takes the connection and then says nothing must not hold the city's delivery
    /// for ever.
    timeout: std::time::Duration,
}

/// A failed send: permanent ones (SMTP 5xx) are not retried.
#[derive(Debug)]
pub struct SendError {
    pub permanent: bool,
    pub message: String,
}

fn transient(message: String) -> SendError {
    SendError {
        permanent: false,
        message,
    }
}

/// Writes one mail of the `file:` transport: `DIR/<random v4 UUID>.eml`, the raw message
/// only, as lettre's file transport did. Written here, not on a blocking thread: a file of a
/// few kilobytes takes microseconds, less than the hand-off to another thread, which made
/// the transport about 3 times slower (issue 22). Not synced: the folder is a drop box for
/// tests, the demo and a local pickup, not a queue that survives a power cut.
fn write_file(dir: &std::path::Path, raw: &[u8]) -> std::io::Result<()> {
    let mut b = [0u8; 16];
    getrandom::getrandom(&mut b).map_err(std::io::Error::other)?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    let name = format!(
        "{}-{}-{}-{}-{}.eml",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    );
    std::fs::write(dir.join(name), raw)
}

/// Mails claimed (and later marked sent) per transaction over SMTP (`outbox::CLAIM_CHUNK`).
/// Defined here, with the transports, so that the outbox reads it from below (no import cycle).
pub const SMTP_CLAIM_CHUNK: usize = 50;

impl Transport {
    /// Mails claimed per transaction (`outbox::deliver_with`). The cost of a larger chunk:
    /// after a crash, up to this many mails already handed over may go once more, with the
    /// same Message-ID. SMTP keeps 50. The `file:` transport takes 500: each claim and each
    /// settling is a commit (an fsync of SQLite's WAL), which at 50 held it to a few
    /// thousand mails a second on ext4; a mail written twice to a drop folder is harmless.
    pub fn claim_chunk(&self) -> usize {
        match self {
            Transport::File(_) => 500,
            Transport::Smtp(_) => SMTP_CLAIM_CHUNK,
        }
    }

    pub fn from_config(spec: &str) -> Result<Transport> {
        if let Some(dir) = spec.strip_prefix("file:") {
            let dir = std::path::Path::new(dir);
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
            return Ok(Transport::File(dir.to_path_buf()));
        }
        let bad = |msg: &str| {
            Error::bad(
                "mail.transport",
                format!("{msg}, got {:?}", crate::store::redact(spec)),
            )
        };
        let u = server_url::parse(spec, ("smtp", "smtps"), (25, 465)).map_err(|why| {
            bad(match why {
                Refused::Scheme => {
                    "expected file:DIR, smtp://host:port or smtps://user:pass@host:port"
                }
                Refused::Port => "expected a port number",
                Refused::Host => "expected a host name after smtp://",
            })
        })?;
        if !matches!(u.rest.as_str(), "" | "/") {
            return Err(bad("expected nothing after smtp://host:port"));
        }
        let credentials = (!u.user.is_empty() || u.password.is_some())
            .then(|| Credentials::new(u.user, u.password.unwrap_or_default()));
        Ok(Transport::Smtp(SmtpTarget {
            host: u.host,
            port: u.port,
            implicit_tls: u.tls,
            credentials,
            timeout: std::time::Duration::from_secs(crate::config::SMTP_TIMEOUT_SECONDS),
        }))
    }

    /// The transport of a city's `[mail]` section: `transport`, with `smtp_timeout_seconds`.
    pub fn for_mail(mail: &crate::config::MailConfig) -> Result<Transport> {
        let mut t = Transport::from_config(&mail.transport)?;
        if let Transport::Smtp(target) = &mut t {
            target.timeout = std::time::Duration::from_secs(mail.smtp_timeout_seconds);
        }
        Ok(t)
    }

    /// A sender for one delivery round; SMTP connects on the first mail.
    pub fn sender(&self) -> Sender<'_> {
        Sender {
            transport: self,
            conn: None,
        }
    }
}

pub struct Sender<'a> {
    transport: &'a Transport,
    conn: Option<AsyncSmtpConnection>,
}

impl Sender<'_> {
    pub async fn send_raw(
        &mut self,
        envelope: &Envelope,
        raw: &[u8],
    ) -> std::result::Result<(), SendError> {
        match self.transport {
            Transport::File(dir) => {
                let _ = envelope;
                write_file(dir, raw).map_err(|e| transient(e.to_string()))
            }
            Transport::Smtp(target) => {
                if self.conn.as_ref().is_none_or(|c| c.has_broken()) {
                    self.conn = Some(target.connect().await?);
                }
                let conn = self.conn.as_mut().expect("connected above");
                let sent = tokio::time::timeout(target.timeout, conn.send(envelope, raw)).await;
                let Ok(sent) = sent else {
                    // The server may have taken the mail and not said so: it goes again, with
                    // the same Message-ID (RFC 5321 §4.1.1.5 leaves no other way).
                    self.conn = None;
                    return Err(transient(format!(
                        "{}:{}: no answer within {} s",
                        target.host,
                        target.port,
                        target.timeout.as_secs()
                    )));
                };
                match sent {
                    Ok(_) => Ok(()),
                    Err(e) => {
                        let permanent = e.is_permanent();
                        if !permanent {
                            self.conn = None; // do not reuse a connection in an unknown state
                        }
                        Err(SendError {
                            permanent,
                            message: e.to_string(),
                        })
                    }
                }
            }
        }
    }

    /// False after an SMTP connection failed: the server is not there right now.
    pub fn connected(&self) -> bool {
        matches!(self.transport, Transport::File(_)) || self.conn.is_some()
    }

    pub async fn close(mut self) {
        if let (Some(mut c), Transport::Smtp(target)) = (self.conn.take(), self.transport) {
            let _ = tokio::time::timeout(target.timeout, c.quit()).await;
        }
    }
}

impl SmtpTarget {
    /// Connects, greets, starts TLS and logs in, all within `timeout`.
    async fn connect(&self) -> std::result::Result<AsyncSmtpConnection, SendError> {
        let at = format!("{}:{}", self.host, self.port);
        tokio::time::timeout(self.timeout, self.open(&at))
            .await
            .map_err(|_| {
                transient(format!(
                    "{at}: no answer within {} s",
                    self.timeout.as_secs()
                ))
            })?
    }

    async fn open(&self, at: &str) -> std::result::Result<AsyncSmtpConnection, SendError> {
        let tcp = tokio::time::timeout(
            std::time::Duration::from_secs(30),
            TcpStream::connect((self.host.as_str(), self.port)),
        )
        .await
        .map_err(|_| transient(format!("{at}: connection timed out")))?
        .map_err(|e| transient(format!("{at}: {e}")))?;
        tcp.set_nodelay(true)
            .map_err(|e| transient(format!("{at}: {e}")))?;
        let hello = ClientId::default();
        let stream: Box<dyn AsyncTokioStream> = if self.implicit_tls {
            let peer = tcp
                .peer_addr()
                .map_err(|e| transient(format!("{at}: {e}")))?;
            let tls = crate::mail::tls::connect(&self.host, tcp)
                .await
                .map_err(|e| transient(e.to_string()))?;
            Box::new(TlsIo { inner: tls, peer })
        } else {
            Box::new(tcp)
        };
        let mut conn = AsyncSmtpConnection::connect_with_transport(stream, &hello)
            .await
            .map_err(|e| transient(format!("{at}: {e}")))?;
        if !self.implicit_tls && conn.can_starttls() {
            let params = TlsParameters::new(self.host.clone())
                .map_err(|e| transient(format!("{at}: {e}")))?;
            conn.starttls(params, &hello)
                .await
                .map_err(|e| transient(format!("{at}: STARTTLS: {e}")))?;
        }
        if let Some(c) = &self.credentials {
            conn.auth(&[Mechanism::Plain, Mechanism::Login], c)
                .await
                .map_err(|e| SendError {
                    permanent: e.is_permanent(),
                    message: format!("{at}: AUTH: {e}"),
                })?;
        }
        Ok(conn)
    }
}

/// A TLS stream as lettre wants it (it asks for the peer's address).
#[derive(Debug)]
struct TlsIo {
    inner: tokio_rustls::client::TlsStream<TcpStream>,
    peer: std::net::SocketAddr,
}

impl AsyncTokioStream for TlsIo {
    fn peer_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        Ok(self.peer)
    }
}

impl AsyncRead for TlsIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transports_parse_with_default_ports() {
        match Transport::from_config("smtps://bot%40city:pw@mail.city.example.lg.jp").unwrap() {
            Transport::Smtp(t) => assert_eq!(
                (t.port, t.implicit_tls, t.credentials.is_some()),
                (465, true, true)
            ),
            Transport::File(_) => panic!("smtp expected"),
        }
        match Transport::from_config("smtp://127.0.0.1:2525").unwrap() {
            Transport::Smtp(t) => assert_eq!((t.port, t.implicit_tls), (2525, false)),
            Transport::File(_) => panic!("smtp expected"),
        }
        assert!(
            Transport::from_config("smtp://host:x")
                .unwrap_err()
                .is_bad_input()
        );
        assert!(
            Transport::from_config("mapi://host")
                .unwrap_err()
                .is_bad_input()
        );
    }

    #[test]
    fn smtp_credentials_are_percent_decoded_and_an_ipv6_host_loses_its_brackets() {
        let Transport::Smtp(t) =
            Transport::from_config("smtp://bot%40city.example.lg.jp:p%3Aw@[::1]:587/").unwrap()
        else {
            panic!("smtp expected")
        };
        assert_eq!((t.host.as_str(), t.port), ("::1", 587));
        let c = t.credentials.unwrap();
        let expected = Credentials::new("bot@city.example.lg.jp".into(), "p:w".into());
        assert_eq!(c, expected);
        let Transport::Smtp(t) = Transport::from_config("smtp://relay").unwrap() else {
            panic!("smtp expected")
        };
        assert_eq!((t.port, t.credentials.is_none()), (25, true));
    }

    #[test]
    fn a_bad_smtp_url_is_one_message_without_the_password() {
        for (url, says) in [
            ("smtps://bot:s3cret@/", "expected a host name"),
            ("smtps://bot:s3cret@h:465x", "expected a port number"),
            ("smtp://bot:s3cret@h:25/relay", "expected nothing after"),
            ("smtp:/bot:s3cret@h", "expected file:DIR, smtp://"),
        ] {
            let e = Transport::from_config(url).unwrap_err();
            let text = e.to_string();
            assert!(e.is_bad_input(), "{url}: {text}");
            assert!(
                text.contains("mail.transport") && text.contains(says),
                "{url}: {text}"
            );
            assert!(!text.contains("s3cret"), "{url}: {text}");
        }
    }
}
