//! Incoming webhooks (Slack, Mattermost, Rocket.Chat): `POST {"text": …}` to the department's
//! URL. A small HTTP/1.1 client of our own over the same TCP/TLS as mail, rather than a full
//! HTTP client crate for one request shape.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::mail::transport::SendError;

/// The JSON body of a message: `{"text": "…"}`.
pub fn payload(text: &str) -> Vec<u8> {
    serde_json::json!({ "text": text }).to_string().into_bytes()
}

struct Target<'a> {
    tls: bool,
    host: &'a str,
    port: u16,
    path: &'a str,
}

fn target(url: &str) -> Option<Target<'_>> {
    let (tls, rest) = if let Some(r) = url.strip_prefix("https://") {
        (true, r)
    } else {
        (false, url.strip_prefix("http://")?)
    };
    let (hostport, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) => (h, p.parse().ok()?),
        None => (hostport, if tls { 443 } else { 80 }),
    };
    (!host.is_empty()).then_some(Target {
        tls,
        host,
        port,
        path,
    })
}

/// Posts the body; 2xx is success, 4xx (but 408 and 429) a permanent refusal, anything else
/// (5xx, no connection, a timeout) worth retrying.
pub async fn post(url: &str, body: &[u8]) -> Result<(), SendError> {
    let transient = |message: String| SendError {
        permanent: false,
        message,
    };
    let Some(t) = target(url) else {
        return Err(SendError {
            permanent: true,
            message: "not an http(s) URL".into(),
        });
    };
    let work = async {
        let tcp = TcpStream::connect((t.host, t.port))
            .await
            .map_err(|e| transient(format!("{}: {e}", t.host)))?;
        tcp.set_nodelay(true)
            .map_err(|e| transient(e.to_string()))?;
        if t.tls {
            let tls = crate::mail::tls::connect(t.host, tcp)
                .await
                .map_err(|e| transient(e.to_string()))?;
            exchange(tls, &t, body).await
        } else {
            exchange(tcp, &t, body).await
        }
    };
    let status = tokio::time::timeout(Duration::from_secs(30), work)
        .await
        .map_err(|_| transient(format!("{}: no answer within 30 s", t.host)))??;
    match status {
        200..=299 => Ok(()),
        408 | 429 => Err(transient(format!("HTTP {status}"))),
        400..=499 => Err(SendError {
            permanent: true,
            message: format!("HTTP {status}"),
        }),
        _ => Err(transient(format!("HTTP {status}"))),
    }
}

async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    t: &Target<'_>,
    body: &[u8],
) -> Result<u16, SendError> {
    let transient = |message: String| SendError {
        permanent: false,
        message,
    };
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: zaitaku\r\nContent-Type: application/json; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        t.path,
        t.host,
        body.len()
    );
    let mut req = head.into_bytes();
    req.extend_from_slice(body);
    s.write_all(&req)
        .await
        .map_err(|e| transient(e.to_string()))?;
    s.flush().await.map_err(|e| transient(e.to_string()))?;
    // The status line is all we need: "HTTP/1.1 200 OK".
    let mut buf = Vec::with_capacity(256);
    let mut chunk = [0u8; 256];
    while !buf.contains(&b'\n') && buf.len() < 4096 {
        let n = s
            .read(&mut chunk)
            .await
            .map_err(|e| transient(e.to_string()))?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let line = String::from_utf8_lossy(&buf);
    line.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse::<u16>().ok())
        .ok_or_else(|| {
            transient(format!(
                "no HTTP status line in {:?}",
                line.lines().next().unwrap_or("")
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_urls_split_into_host_port_and_path() {
        let t = target("https://hooks.slack.com/services/T0/B0/x").unwrap();
        assert_eq!(
            (t.tls, t.host, t.port, t.path),
            (true, "hooks.slack.com", 443, "/services/T0/B0/x")
        );
        let t = target("http://127.0.0.1:8065/hooks/abc").unwrap();
        assert_eq!((t.tls, t.port, t.path), (false, 8065, "/hooks/abc"));
        assert!(target("ftp://x/").is_none());
    }

    #[test]
    fn the_payload_is_slack_json() {
        assert_eq!(
            payload("業務開始 \"A\""),
            r#"{"text":"業務開始 \"A\""}"#.as_bytes().to_vec()
        );
    }
}
