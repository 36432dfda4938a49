//! The benches' HTTP client (`benches/web.rs`, `benches/phone.rs`): a kept-alive HTTP/1.1
//! connection as a browser keeps one, the login form, the server's process, percentiles.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command};
use std::time::Duration;

/// An HTTP/1.1 connection kept alive, as a browser keeps one.
pub struct Conn {
    pub reader: BufReader<TcpStream>,
    pub addr: String,
    pub cookie: String,
}

impl Conn {
    pub fn open(addr: &str, cookie: &str) -> Conn {
        let s = TcpStream::connect(addr).unwrap();
        s.set_nodelay(true).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        Conn {
            reader: BufReader::new(s),
            addr: addr.into(),
            cookie: cookie.into(),
        }
    }

    /// (status, headers, body)
    pub fn send(
        &mut self,
        method: &str,
        path: &str,
        body: &str,
        close: bool,
    ) -> (u16, Vec<String>, String) {
        let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\n", self.addr);
        if !self.cookie.is_empty() {
            req += &format!("Cookie: {}\r\n", self.cookie);
        }
        if method == "POST" {
            req += &format!(
                "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
                body.len()
            );
        }
        if close {
            req += "Connection: close\r\n";
        }
        req += "\r\n";
        req += body;
        self.reader.get_mut().write_all(req.as_bytes()).unwrap();
        let mut status = String::new();
        self.reader.read_line(&mut status).unwrap();
        let code: u16 = status
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let mut headers = Vec::new();
        let mut len = 0usize;
        loop {
            let mut line = String::new();
            self.reader.read_line(&mut line).unwrap();
            let line = line.trim_end().to_string();
            if line.is_empty() {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                len = v.trim().parse().unwrap();
            }
            headers.push(line);
        }
        let mut buf = vec![0u8; len];
        self.reader.read_exact(&mut buf).unwrap();
        (code, headers, String::from_utf8_lossy(&buf).into_owned())
    }
}

pub fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The `name=value` of a cookie the answer sets.
pub fn cookie_of(headers: &[String], name: &str) -> Option<String> {
    headers.iter().find_map(|h| {
        h.strip_prefix("set-cookie: ")
            .filter(|v| v.starts_with(&format!("{name}=")))
            .and_then(|v| v.split(';').next())
            .map(str::to_string)
    })
}

/// A session cookie of `who`, through the login form.
pub fn login(addr: &str, who: &str, password: &str) -> String {
    let mut c = Conn::open(addr, "");
    let (_, headers, body) = c.send("GET", "/login", "", false);
    c.cookie = cookie_of(&headers, "zaitaku_login").expect("the login form's cookie");
    let at = body.find("name=\"csrf\" value=\"").unwrap() + 19;
    let csrf = body[at..at + 64].to_string();
    let form = format!("login={}&password={}&csrf={csrf}", enc(who), enc(password));
    let (code, headers, _) = c.send("POST", "/login", &form, true);
    assert_eq!(code, 303, "login of {who}: {headers:?}");
    cookie_of(&headers, "zaitaku_session").expect("the session cookie")
}

pub struct Web(pub Child);

impl Drop for Web {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.0.id().to_string())
            .status();
        let _ = self.0.wait();
    }
}

pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}
