//! The SMTP side of the benches' mail sinks: one session on an accepted connection, answering
//! as a mail server does and handing each accepted message's `In-Reply-To` (the report it
//! answers) to `accepted`. Written here, not with aiosmtpd, so that the arrival time is taken
//! the moment the message is accepted, in the bench's own clock.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;

/// Serves one connection until QUIT or hang-up. `cut`: asked before each command; true ends
/// the session at once (a server outage).
pub fn session(
    conn: TcpStream,
    cut: impl Fn() -> bool,
    mut accepted: impl FnMut(String),
) -> std::io::Result<()> {
    conn.set_nodelay(true)?;
    let mut w = conn.try_clone()?;
    let mut r = BufReader::new(conn);
    w.write_all(b"220 127.0.0.1 ESMTP bench sink\r\n")?;
    let mut line = Vec::new();
    loop {
        line.clear();
        if r.read_until(b'\n', &mut line)? == 0 || cut() {
            return Ok(());
        }
        let verb = String::from_utf8_lossy(&line)
            .trim_end()
            .to_ascii_uppercase();
        match verb.split(' ').next().unwrap_or("") {
            "EHLO" => w.write_all(b"250-127.0.0.1\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n")?,
            "HELO" | "MAIL" | "RCPT" | "RSET" | "NOOP" => w.write_all(b"250 OK\r\n")?,
            "DATA" => {
                w.write_all(b"354 end with <CRLF>.<CRLF>\r\n")?;
                let Some(in_reply_to) = message(&mut r, &mut line)? else {
                    return Ok(());
                };
                accepted(in_reply_to);
                w.write_all(b"250 OK accepted\r\n")?;
            }
            "QUIT" => {
                w.write_all(b"221 bye\r\n")?;
                return Ok(());
            }
            _ => w.write_all(b"502 not implemented\r\n")?,
        }
    }
}

/// Reads a message up to its lone dot; its `In-Reply-To`, or None when the client hung up.
fn message(r: &mut impl BufRead, line: &mut Vec<u8>) -> std::io::Result<Option<String>> {
    let (mut in_reply_to, mut headers) = (String::new(), true);
    loop {
        line.clear();
        if r.read_until(b'\n', line)? == 0 {
            return Ok(None);
        }
        if line == b".\r\n" || line == b".\n" {
            return Ok(Some(in_reply_to));
        }
        if headers {
            let l = String::from_utf8_lossy(line);
            let l = l.trim_end();
            if l.is_empty() {
                headers = false;
            } else if l.len() > 12 && l[..12].eq_ignore_ascii_case("in-reply-to:") {
                in_reply_to = l[12..].trim().to_string();
            }
        }
    }
}
