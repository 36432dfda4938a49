//! A small HTTP/1.1 client for the chat servers (incoming webhooks, the Matrix client-server
//! API): one request per connection (`Connection: close`), over the same TCP/TLS as mail. The
//! answers are small JSON documents, so the whole response is read and then taken apart
//! (`Content-Length`, chunked, or up to the close). A full HTTP client crate would bring a
//! second TLS stack and connection pool for these few request shapes.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// The most of an answer we read (a Matrix `/sync` after a long absence can be large).
const MAX_RESPONSE: usize = 32 << 20;

/// A URL split for a request: `https://host:port/path?query`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target<'a> {
    pub tls: bool,
    pub host: &'a str,
    pub port: u16,
    /// The path with its query, `/` when the URL has none.
    pub path: &'a str,
}

pub fn target(url: &str) -> Option<Target<'_>> {
    let (tls, rest) = if let Some(r) = url.strip_prefix("https://") {
        (true, r)
    } else {
        (false, url.strip_prefix("http://")?)
    };
    let (hostport, path) = match rest.find(['/', '?']) {
        Some(i) if rest[i..].starts_with('/') => (&rest[..i], &rest[i..]),
        Some(_) => return None,
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

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

/// Why a request got no answer: no connection, a timeout, or something that is not HTTP.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct HttpError(pub String);

/// Sends one request and reads the whole answer within `timeout`.
pub async fn request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
    timeout: Duration,
) -> Result<Response, HttpError> {
    let t = target(url).ok_or_else(|| HttpError(format!("not an http(s) URL: {url:?}")))?;
    let mut req = format!(
        "{method} {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: zaitaku\r\nAccept: application/json\r\nConnection: close\r\n",
        t.path, t.host
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(b) = body {
        // JSON unless the caller says otherwise (an OAuth token request is a form).
        if !headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        {
            req.push_str("Content-Type: application/json; charset=utf-8\r\n");
        }
        req.push_str(&format!("Content-Length: {}\r\n", b.len()));
    }
    req.push_str("\r\n");
    let mut req = req.into_bytes();
    req.extend_from_slice(body.unwrap_or_default());
    let work = async {
        let tcp = TcpStream::connect((t.host, t.port))
            .await
            .map_err(|e| HttpError(format!("{}:{}: {e}", t.host, t.port)))?;
        tcp.set_nodelay(true)
            .map_err(|e| HttpError(e.to_string()))?;
        if t.tls {
            let tls = crate::mail::tls::connect(t.host, tcp)
                .await
                .map_err(|e| HttpError(format!("{}: {e}", t.host)))?;
            exchange(tls, &req).await
        } else {
            exchange(tcp, &req).await
        }
    };
    tokio::time::timeout(timeout, work).await.map_err(|_| {
        HttpError(format!(
            "{}: no answer within {} s",
            t.host,
            timeout.as_secs()
        ))
    })?
}

async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    req: &[u8],
) -> Result<Response, HttpError> {
    let io = |e: std::io::Error| HttpError(e.to_string());
    s.write_all(req).await.map_err(io)?;
    s.flush().await.map_err(io)?;
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 16384];
    loop {
        let n = match s.read(&mut chunk).await {
            Ok(n) => n,
            // A TLS server that closes without close_notify: what was read is all there is.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => 0,
            Err(e) => return Err(io(e)),
        };
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.len() > MAX_RESPONSE {
            return Err(HttpError(format!(
                "answer larger than {} MiB",
                MAX_RESPONSE >> 20
            )));
        }
        if complete(&buf) {
            break;
        }
    }
    parse_response(&buf)
}

/// Whether the bytes hold a whole response (so we need not wait for the close).
fn complete(buf: &[u8]) -> bool {
    let Some(end) = find(buf, b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&buf[..end]);
    match content_length(&head) {
        Some(n) => buf.len() >= end + 4 + n,
        None if is_chunked(&head) => buf.ends_with(b"0\r\n\r\n"),
        None => false,
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().skip(1).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then_some(v.trim())
    })
}

fn content_length(head: &str) -> Option<usize> {
    header(head, "content-length")?.parse().ok()
}

fn is_chunked(head: &str) -> bool {
    header(head, "transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
}

/// Takes a whole HTTP/1.1 response apart.
pub fn parse_response(buf: &[u8]) -> Result<Response, HttpError> {
    let end = find(buf, b"\r\n\r\n").ok_or_else(|| {
        let first = String::from_utf8_lossy(buf);
        HttpError(format!(
            "no complete HTTP answer (got {:?})",
            first.lines().next().unwrap_or("")
        ))
    })?;
    let head = String::from_utf8_lossy(&buf[..end]);
    let status = head
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse::<u16>().ok())
        .ok_or_else(|| {
            HttpError(format!(
                "no HTTP status line in {:?}",
                head.lines().next().unwrap_or("")
            ))
        })?;
    let rest = &buf[end + 4..];
    let body = if is_chunked(&head) {
        dechunk(rest)?
    } else if let Some(n) = content_length(&head) {
        rest.get(..n)
            .ok_or_else(|| HttpError(format!("answer cut short: {} of {n} bytes", rest.len())))?
            .to_vec()
    } else {
        rest.to_vec()
    };
    Ok(Response { status, body })
}

fn dechunk(mut rest: &[u8]) -> Result<Vec<u8>, HttpError> {
    let bad = || HttpError("malformed chunked answer".into());
    let mut out = Vec::with_capacity(rest.len());
    loop {
        let eol = find(rest, b"\r\n").ok_or_else(bad)?;
        let size_text = std::str::from_utf8(&rest[..eol]).map_err(|_| bad())?;
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| bad())?;
        rest = &rest[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        out.extend_from_slice(rest.get(..size).ok_or_else(bad)?);
        rest = rest.get(size + 2..).ok_or_else(bad)?;
    }
}

/// Percent-encodes a path segment (room IDs, transaction IDs, user IDs).
pub fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_host_port_and_path() {
        let t = target("https://hooks.slack.com/services/T0/B0/x").unwrap();
        assert_eq!(
            (t.tls, t.host, t.port, t.path),
            (true, "hooks.slack.com", 443, "/services/T0/B0/x")
        );
        let t = target("http://127.0.0.1:8065/hooks/abc?x=1").unwrap();
        assert_eq!((t.tls, t.port, t.path), (false, 8065, "/hooks/abc?x=1"));
        assert_eq!(target("http://h").unwrap().path, "/");
        assert!(target("ftp://x/").is_none());
        assert!(target("http://h?x").is_none());
        assert!(target("http://:80/").is_none());
    }

    #[test]
    fn responses_with_length_chunks_or_close_are_read_whole() {
        let r = parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}").unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, &b"{}"[..]));
        let chunked =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n5;x=y\r\n\":1}\n\r\n0\r\n\r\n";
        assert!(complete(chunked));
        let r = parse_response(chunked).unwrap();
        assert_eq!(r.body, b"{\"a\":1}\n");
        let r = parse_response(b"HTTP/1.0 404 Not Found\r\n\r\ngone").unwrap();
        assert_eq!((r.status, r.body.as_slice()), (404, &b"gone"[..]));
        assert!(parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n{}").is_err());
        assert!(parse_response(b"garbage").is_err());
        assert!(!complete(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n{}"));
    }

    #[test]
    fn path_segments_are_percent_encoded() {
        assert_eq!(encode_segment("!abc:test.local"), "%21abc%3Atest.local");
        assert_eq!(encode_segment("zaitaku.ack-1"), "zaitaku.ack-1");
    }
}
