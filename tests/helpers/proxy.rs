//! A small reverse proxy for the single sign-on tests, standing where the city's Apache
//! (mod_auth_mellon) or oauth2-proxy would: it listens on 127.0.0.1, drops any copy of the
//! sign-on header the browser sent (as a real proxy must), adds its own naming the person it
//! "authenticated", and forwards each request to the backend on a connection of its own
//! (one request per connection, `Connection: close` both ways).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};

pub struct Proxy {
    pub addr: String,
}

pub fn start(backend: &str, header: &str, value: &str) -> Proxy {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (backend, header, value) = (backend.to_string(), header.to_string(), value.to_string());
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            let (backend, header, value) = (backend.clone(), header.clone(), value.clone());
            std::thread::spawn(move || {
                let _ = forward(conn, &backend, &header, &value);
            });
        }
    });
    Proxy { addr }
}

fn forward(client: TcpStream, backend: &str, header: &str, value: &str) -> std::io::Result<()> {
    let mut reader = BufReader::new(client.try_clone()?);
    let mut head = String::new();
    reader.read_line(&mut head)?;
    if head.trim().is_empty() {
        return Ok(());
    }
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let name = l
            .split(':')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if name == "content-length" {
            length = l
                .split(':')
                .nth(1)
                .unwrap_or("0")
                .trim()
                .parse()
                .unwrap_or(0);
        }
        if name == header.to_ascii_lowercase() || name == "connection" || name == "keep-alive" {
            continue;
        }
        head.push_str(l);
        head.push_str("\r\n");
    }
    head.push_str(&format!("{header}: {value}\r\nConnection: close\r\n\r\n"));
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    let mut up = TcpStream::connect(backend)?;
    up.write_all(head.as_bytes())?;
    up.write_all(&body)?;
    let mut answer = Vec::new();
    up.read_to_end(&mut answer)?;
    let mut client = client;
    client.write_all(&answer)?;
    client.shutdown(std::net::Shutdown::Both)
}
