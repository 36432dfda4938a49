//! Outgoing HTTP for the chat servers (incoming webhooks, Teams' Workflows, the Matrix
//! client-server API, LINE WORKS): hyper's HTTP/1.1 client connection
//! (`hyper::client::conn::http1`) over a TCP stream, or over the rustls of `mail::tls` for
//! `https://`, so there is one TLS stack for mail and chat. hyper writes the request and reads
//! the answer (`Content-Length`, chunked, or up to the close); http-body-util collects the body
//! under a cap. URLs are taken apart by the `url` crate.
//!
//! One request per connection (`Connection: close`), not a kept-alive one: the requests come
//! seconds to minutes apart (a delivery round, a token, a Matrix `/sync` long poll that holds
//! its connection for the whole wait anyway), so a kept-alive connection would mostly sit idle
//! until the server drops it, and reusing it safely would need a pool that notices dead
//! connections (hyper-util's legacy client with its own connector). A new connection costs a
//! TCP (and TLS) handshake per request, small next to what the chat server takes to answer.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Bytes;
use hyper::client::conn::http1;
use hyper::header::{ACCEPT, CONNECTION, CONTENT_TYPE, HOST, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use url::{Host, Position, Url};

/// The most of an answer we read (a Matrix `/sync` after a long absence can be large).
const MAX_RESPONSE: usize = 32 << 20;

/// A URL taken apart for a request: `https://host:port/path?query`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub tls: bool,
    /// The host to connect to: a name, or an IP address (an IPv6 one without its brackets).
    pub host: String,
    /// The URL's port, or the scheme's (80, 443).
    pub port: u16,
    /// The path with its query, `/` when the URL has none.
    pub path: String,
    /// The `Host` header: the host as the URL writes it, with the port when it is not the
    /// scheme's.
    authority: String,
}

/// An `http://` or `https://` URL with a host, taken apart; `None` for anything else.
pub fn target(url: &str) -> Option<Target> {
    let u = Url::parse(url).ok()?;
    let tls = match u.scheme() {
        "https" => true,
        "http" => false,
        _ => return None,
    };
    let host = match u.host()? {
        Host::Domain(d) => d.to_string(),
        Host::Ipv4(a) => a.to_string(),
        Host::Ipv6(a) => a.to_string(),
    };
    let authority = match u.port() {
        Some(p) => format!("{}:{p}", u.host_str()?),
        None => u.host_str()?.to_string(),
    };
    (!host.is_empty()).then(|| Target {
        tls,
        host,
        port: u
            .port_or_known_default()
            .unwrap_or(if tls { 443 } else { 80 }),
        path: u[Position::BeforePath..Position::AfterQuery].to_string(),
        authority,
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

/// Sends one request and reads the whole answer within `timeout` (connecting, TLS, sending
/// and reading all count). A body goes as `application/json; charset=utf-8` unless `headers`
/// name a `Content-Type` (an OAuth token request is a form); `User-Agent` and `Accept`
/// likewise have defaults a caller may replace.
pub async fn request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
    timeout: Duration,
) -> Result<Response, HttpError> {
    let t = target(url).ok_or_else(|| HttpError(format!("not an http(s) URL: {url:?}")))?;
    let req = build(method, &t, headers, body)?;
    let work = async {
        let tcp = TcpStream::connect((t.host.as_str(), t.port))
            .await
            .map_err(|e| HttpError(format!("{}:{}: {e}", t.host, t.port)))?;
        tcp.set_nodelay(true)
            .map_err(|e| HttpError(e.to_string()))?;
        if t.tls {
            let tls = crate::mail::tls::connect(&t.host, tcp)
                .await
                .map_err(|e| HttpError(format!("{}: {e}", t.host)))?;
            exchange(CloseIsEnd(tls), req).await
        } else {
            exchange(tcp, req).await
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

fn build(
    method: &str,
    t: &Target,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Result<Request<Full<Bytes>>, HttpError> {
    let bad = |e: &dyn std::fmt::Display| HttpError(format!("cannot send this request: {e}"));
    let mut map = HeaderMap::new();
    for (k, v) in headers {
        let name = HeaderName::from_bytes(k.as_bytes()).map_err(|e| bad(&e))?;
        let value = HeaderValue::from_str(v).map_err(|e| bad(&e))?;
        map.append(name, value);
    }
    map.entry(hyper::header::USER_AGENT)
        .or_insert(HeaderValue::from_static("zaitaku"));
    map.entry(ACCEPT)
        .or_insert(HeaderValue::from_static("application/json"));
    if body.is_some() {
        map.entry(CONTENT_TYPE)
            .or_insert(HeaderValue::from_static("application/json; charset=utf-8"));
    }
    map.insert(
        HOST,
        HeaderValue::from_str(&t.authority).map_err(|e| bad(&e))?,
    );
    map.insert(CONNECTION, HeaderValue::from_static("close"));
    let mut req = Request::builder()
        .method(Method::from_bytes(method.as_bytes()).map_err(|e| bad(&e))?)
        .uri(t.path.as_str())
        // hyper adds Content-Length from the body's exact size.
        .body(Full::new(Bytes::copy_from_slice(body.unwrap_or_default())))
        .map_err(|e| bad(&e))?;
    *req.headers_mut() = map;
    Ok(req)
}

/// One request and its whole answer on a fresh connection. hyper's `Connection` does the
/// reading and writing, so it is polled beside the request; when it ends first (the server
/// closed), the answer is already whole or failed, and the request's future says which.
async fn exchange<S>(io: S, req: Request<Full<Bytes>>) -> Result<Response, HttpError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (mut sender, conn) = http1::Builder::new()
        // Header names as they were always written (`Content-Type`), for servers that care.
        .title_case_headers(true)
        .handshake(TokioIo::new(io))
        .await
        .map_err(|e| HttpError(chain(&e)))?;
    let talk = async move {
        let answer = sender
            .send_request(req)
            .await
            .map_err(|e| HttpError(chain(&e)))?;
        let status = answer.status().as_u16();
        let body = Limited::new(answer.into_body(), MAX_RESPONSE)
            .collect()
            .await
            .map_err(|e| {
                if e.is::<LengthLimitError>() {
                    HttpError(format!("answer larger than {} MiB", MAX_RESPONSE >> 20))
                } else {
                    HttpError(chain(&*e))
                }
            })?
            .to_bytes()
            .to_vec();
        Ok(Response { status, body })
    };
    tokio::pin!(talk, conn);
    tokio::select! {
        r = &mut talk => r,
        _ = &mut conn => talk.await,
    }
}

/// An error with its causes: hyper's own text is short ("error reading a body from
/// connection"), the cause says why.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// A TLS stream on which a close without `close_notify` is the end of the data, not an error:
/// an answer delimited by the close is then whole, as many servers send it. (An answer with a
/// length or chunks that stops short is still an error: hyper knows how much was to come.)
struct CloseIsEnd<S>(S);

impl<S: AsyncRead + Unpin> AsyncRead for CloseIsEnd<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match Pin::new(&mut self.0).poll_read(cx, buf) {
            Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::UnexpectedEof => Poll::Ready(Ok(())),
            other => other,
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for CloseIsEnd<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// Everything but RFC 3986's unreserved characters (`A–Z a–z 0–9 - . _ ~`).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes a path segment (room IDs, transaction IDs, user IDs).
pub fn encode_segment(s: &str) -> String {
    utf8_percent_encode(s, SEGMENT).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    #[test]
    fn urls_split_into_host_port_and_path() {
        let t = target("https://hooks.slack.com/services/T0/B0/x").unwrap();
        assert_eq!(
            (t.tls, t.host.as_str(), t.port, t.path.as_str()),
            (true, "hooks.slack.com", 443, "/services/T0/B0/x")
        );
        assert_eq!(t.authority, "hooks.slack.com");
        let t = target("http://127.0.0.1:8065/hooks/abc?x=1").unwrap();
        assert_eq!(
            (t.tls, t.port, t.path.as_str()),
            (false, 8065, "/hooks/abc?x=1")
        );
        assert_eq!(t.authority, "127.0.0.1:8065");
        assert_eq!(target("http://h").unwrap().path, "/");
        assert!(target("ftp://x/").is_none());
        assert!(target("http://:80/").is_none());
        assert!(target("http://").is_none());
        assert!(target("matrix.city.example").is_none());
        assert!(target("http://h:99999/").is_none());
    }

    #[test]
    fn urls_with_a_query_and_no_path_ipv6_hosts_and_default_ports() {
        // The query right after the host is the path `/` with it.
        assert_eq!(target("http://h?x").unwrap().path, "/?x");
        let t = target("http://[::1]:8008/_matrix/client/v3/login").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.authority.as_str()),
            ("::1", 8008, "[::1]:8008")
        );
        // The scheme's own port is the default, and not repeated in `Host`.
        let t = target("https://Prod-00.JapanEast.logic.azure.com:443/workflows/1#x").unwrap();
        assert_eq!(
            (
                t.host.as_str(),
                t.port,
                t.authority.as_str(),
                t.path.as_str()
            ),
            (
                "prod-00.japaneast.logic.azure.com",
                443,
                "prod-00.japaneast.logic.azure.com",
                "/workflows/1"
            )
        );
        assert_eq!(target("http://h:80/").unwrap().authority, "h");
    }

    #[test]
    fn path_segments_are_percent_encoded() {
        assert_eq!(encode_segment("!abc:test.local"), "%21abc%3Atest.local");
        assert_eq!(encode_segment("zaitaku.ack-1"), "zaitaku.ack-1");
        assert_eq!(encode_segment("a b/~受"), "a%20b%2F~%E5%8F%97");
    }

    /// A server on 127.0.0.1 for one connection: reads the request (head and a
    /// `Content-Length` body), answers `answer` (then `tail` until the client goes) and closes.
    /// Returns the URL and what it was sent.
    async fn serve_once(answer: Vec<u8>, tail: usize) -> (String, tokio::task::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook?x=1", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut got = Vec::new();
            let mut buf = [0u8; 4096];
            loop {
                let n = s.read(&mut buf).await.unwrap();
                got.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&got).to_string();
                if let Some(end) = text.find("\r\n\r\n") {
                    let len = text[..end]
                        .lines()
                        .find_map(|l| l.strip_prefix("Content-Length: "))
                        .map_or(0, |v| v.parse::<usize>().unwrap());
                    if got.len() >= end + 4 + len || n == 0 {
                        break;
                    }
                }
                if n == 0 {
                    break;
                }
            }
            let _ = s.write_all(&answer).await;
            let block = vec![b'x'; 1 << 16];
            let mut sent = 0;
            while sent < tail {
                if s.write_all(&block).await.is_err() {
                    break;
                }
                sent += block.len();
            }
            String::from_utf8_lossy(&got).to_string()
        });
        (url, task)
    }

    async fn get(answer: &[u8]) -> Result<Response, HttpError> {
        let (url, _) = serve_once(answer.to_vec(), 0).await;
        request("GET", &url, &[], None, Duration::from_secs(10)).await
    }

    #[tokio::test]
    async fn answers_with_a_length_chunks_or_up_to_the_close_are_read_whole() {
        let r = get(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
            .await
            .unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, &b"{}"[..]));
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n5;x=y\r\n\":1}\n\r\n0\r\n\r\n";
        let r = get(chunked).await.unwrap();
        assert_eq!(r.body, b"{\"a\":1}\n");
        let r = get(b"HTTP/1.0 404 Not Found\r\n\r\ngone").await.unwrap();
        assert_eq!((r.status, r.body.as_slice()), (404, &b"gone"[..]));
    }

    #[tokio::test]
    async fn an_answer_cut_short_or_not_http_is_an_error() {
        let e = get(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n{}").await;
        assert!(e.is_err(), "{e:?}");
        let e = get(b"garbage").await;
        assert!(e.is_err(), "{e:?}");
        let e = get(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{}").await;
        assert!(e.is_err(), "{e:?}");
    }

    #[tokio::test]
    async fn an_answer_over_the_cap_is_refused_with_or_without_a_length() {
        for head in [
            format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n",
                MAX_RESPONSE + 1
            ),
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_string(),
            "HTTP/1.1 200 OK\r\n\r\n".to_string(),
        ] {
            let chunked = head.contains("chunked");
            // One chunk of the cap and one byte more, or as many raw bytes.
            let mut answer = head.into_bytes();
            if chunked {
                answer.extend_from_slice(format!("{:x}\r\n", MAX_RESPONSE + 1).as_bytes());
            }
            let (url, _) = serve_once(answer, MAX_RESPONSE + (1 << 16)).await;
            let e = request("GET", &url, &[], None, Duration::from_secs(30))
                .await
                .unwrap_err();
            assert_eq!(e.0, "answer larger than 32 MiB", "chunked: {chunked}");
        }
    }

    #[tokio::test]
    async fn a_body_is_json_unless_the_caller_names_its_type() {
        let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".to_vec();
        let (url, seen) = serve_once(ok.clone(), 0).await;
        let auth = [("Authorization", "Bearer t")];
        request("POST", &url, &auth, Some(b"{}"), Duration::from_secs(10))
            .await
            .unwrap();
        let head = seen.await.unwrap();
        assert!(head.starts_with("POST /hook?x=1 HTTP/1.1\r\n"), "{head}");
        let port = url.split(['/', ':']).nth(4).unwrap();
        for line in [
            &format!("Host: 127.0.0.1:{port}\r\n"),
            "Content-Type: application/json; charset=utf-8\r\n",
            "Content-Length: 2\r\n",
            "Connection: close\r\n",
            "Authorization: Bearer t\r\n",
            "Accept: application/json\r\n",
        ] {
            assert!(head.contains(line), "{line:?} in {head}");
        }
        assert!(head.ends_with("\r\n\r\n{}"), "{head}");

        let (url, seen) = serve_once(ok, 0).await;
        let form = [("Content-Type", "application/x-www-form-urlencoded")];
        request("POST", &url, &form, Some(b"a=1"), Duration::from_secs(10))
            .await
            .unwrap();
        let head = seen.await.unwrap();
        assert_eq!(head.matches("Content-Type").count(), 1, "{head}");
        assert!(head.contains("Content-Type: application/x-www-form-urlencoded\r\n"));
    }

    #[tokio::test]
    async fn a_server_that_never_answers_times_out() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let e = request("GET", &url, &[], None, Duration::from_millis(300))
            .await
            .unwrap_err();
        assert!(e.0.contains("no answer within"), "{e}");
        drop(listener);
        let e = request("GET", "gopher://h/", &[], None, Duration::from_secs(1))
            .await
            .unwrap_err();
        assert!(e.0.contains("not an http(s) URL"), "{e}");
    }
}
