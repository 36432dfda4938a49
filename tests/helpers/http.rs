//! A small HTTP/1.1 client for the web tests, over `std::net::TcpStream`: one request per
//! connection (`Connection: close`), a cookie jar, form posts, bearer tokens. Enough to act as a
//! browser that does not run scripts; no new dependency for the tests.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::time::Duration;

use super::Zt;

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn headers_named(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The `Set-Cookie` header that sets `name`.
    pub fn set_cookie(&self, name: &str) -> Option<&str> {
        self.headers_named("set-cookie")
            .into_iter()
            .find(|c| c.starts_with(&format!("{name}=")))
    }

    /// The value of the first hidden `csrf` field of the page.
    pub fn csrf(&self) -> String {
        let at = self
            .body
            .find("name=\"csrf\" value=\"")
            .unwrap_or_else(|| panic!("no csrf field in the page:\n{}", self.body));
        let rest = &self.body[at + 19..];
        rest[..rest.find('"').unwrap()].to_string()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub fn expect(&self, status: u16) -> &Response {
        assert_eq!(
            self.status, status,
            "expected HTTP {status}, got {}\n{:#?}\n{}",
            self.status, self.headers, self.body
        );
        self
    }
}

pub fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub fn form(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// A browser: keeps the cookies the server sets and sends them back.
#[derive(Debug, Clone)]
pub struct Client {
    pub addr: String,
    pub cookies: BTreeMap<String, String>,
    pub bearer: Option<String>,
    /// Sent with every request (a chat server's signature headers).
    pub headers: Vec<(String, String)>,
    /// The `Host` header, when not the address connected to (a server for several
    /// municipalities tells them apart by it).
    pub host: Option<String>,
}

impl Client {
    pub fn new(addr: &str) -> Client {
        Client {
            addr: addr.to_string(),
            cookies: BTreeMap::new(),
            bearer: None,
            headers: Vec::new(),
            host: None,
        }
    }

    pub fn get(&mut self, path: &str) -> Response {
        self.request("GET", path, None)
    }

    pub fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Response {
        self.request("POST", path, Some(form(fields)))
    }

    /// A JSON request (the WebDriver protocol speaks JSON).
    pub fn json(&mut self, method: &str, path: &str, body: &serde_json::Value) -> Response {
        self.send(method, path, Some("application/json"), body.to_string())
    }

    pub fn request(&mut self, method: &str, path: &str, body: Option<String>) -> Response {
        let form = (method == "POST").then_some("application/x-www-form-urlencoded");
        self.send(method, path, form, body.unwrap_or_default())
    }

    pub fn send(
        &mut self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: String,
    ) -> Response {
        // As a browser does: non-ASCII in the URL (a department name) is sent percent-encoded.
        let path: String = path
            .bytes()
            .map(|b| {
                if b < 0x80 {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        let mut s = TcpStream::connect(&self.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nUser-Agent: zaitaku-tests\r\n",
            self.host.as_deref().unwrap_or(&self.addr)
        );
        if !self.cookies.is_empty() {
            let c: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            req.push_str(&format!("Cookie: {}\r\n", c.join("; ")));
        }
        if let Some(t) = &self.bearer {
            req.push_str(&format!("Authorization: Bearer {t}\r\n"));
        }
        for (k, v) in &self.headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        if let Some(t) = content_type {
            req.push_str(&format!("Content-Type: {t}\r\n"));
        }
        if method == "POST" || content_type.is_some() {
            req.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        req.push_str("\r\n");
        req.push_str(&body);
        s.write_all(req.as_bytes()).unwrap();
        let r = parse(&read_response(&mut s));
        for c in r.headers_named("set-cookie") {
            let first = c.split(';').next().unwrap_or("");
            if let Some((k, v)) = first.split_once('=') {
                if v.is_empty() || c.contains("Max-Age=0") {
                    self.cookies.remove(k);
                } else {
                    self.cookies.insert(k.to_string(), v.to_string());
                }
            }
        }
        r
    }

    /// Logs in through the form, as a browser does; returns the answer to the POST.
    pub fn login(&mut self, login: &str, password: &str) -> Response {
        let page = self.get("/login");
        page.expect(200);
        let csrf = page.csrf();
        self.post(
            "/login",
            &[("login", login), ("password", password), ("csrf", &csrf)],
        )
    }

    /// The CSRF token of the session, read from a page that carries it.
    pub fn session_csrf(&mut self) -> String {
        self.get("/my").expect(200).csrf()
    }
}

/// The bytes of one response: up to its Content-Length, or its last chunk, or the end of the
/// connection. (Some servers, chromedriver among them, answer `Connection: close` and keep the
/// connection open, so reading to the end is not enough.)
fn read_response(s: &mut TcpStream) -> Vec<u8> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 16384];
    loop {
        if let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
            let body = &raw[split + 4..];
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok());
            if let Some(n) = length
                && body.len() >= n
            {
                raw.truncate(split + 4 + n);
                return raw;
            }
            if head.contains("transfer-encoding: chunked") && body.ends_with(b"0\r\n\r\n") {
                return raw;
            }
        }
        match s.read(&mut buf) {
            Ok(0) => return raw,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            // A signal (a child process of the test ending) interrupted the read: read again.
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => panic!(
                "reading the response: {e}; got so far:\n{}",
                String::from_utf8_lossy(&raw)
            ),
        }
    }
}

fn parse(raw: &[u8]) -> Response {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP response head");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut body = raw[split + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let chunked = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    if chunked {
        let mut out = Vec::new();
        let mut rest = &body[..];
        loop {
            let nl = rest.windows(2).position(|w| w == b"\r\n").unwrap();
            let size = usize::from_str_radix(
                String::from_utf8_lossy(&rest[..nl])
                    .split(';')
                    .next()
                    .unwrap()
                    .trim(),
                16,
            )
            .unwrap();
            rest = &rest[nl + 2..];
            if size == 0 {
                break;
            }
            out.extend_from_slice(&rest[..size]);
            rest = &rest[size + 2..];
        }
        body = out;
    }
    Response {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

/// `zaitaku web --listen 127.0.0.1:0` in the test's directory; SIGTERM when dropped (and it must
/// exit 0). Its log goes to a file (`log()`), so a refused attempt can be looked for.
pub struct WebServer {
    pub child: Child,
    pub addr: String,
    pub log: std::path::PathBuf,
}

impl WebServer {
    pub fn start(zt: &Zt) -> WebServer {
        Self::start_with(zt, &[])
    }

    /// The same, with more arguments for `zaitaku web` (`--now …`).
    pub fn start_with(zt: &Zt, args: &[&str]) -> WebServer {
        let log = zt.path(&format!(
            "web-{}.log",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        let file = std::fs::File::create(&log).unwrap();
        let mut child = zt
            .cmd(&[&["web", "--listen", "127.0.0.1:0"][..], args].concat())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(file)
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .and_then(|a| a.strip_suffix('/'))
            .unwrap_or_else(|| {
                panic!(
                    "zaitaku web should print its address, printed {line:?}; log:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                )
            })
            .to_string();
        WebServer { child, addr, log }
    }

    pub fn client(&self) -> Client {
        Client::new(&self.addr)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for WebServer {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let status = self.child.wait().unwrap();
        if !std::thread::panicking() {
            assert!(
                status.success(),
                "zaitaku web should exit 0 after SIGTERM, got {status}\n{}",
                self.log()
            );
        }
    }
}
