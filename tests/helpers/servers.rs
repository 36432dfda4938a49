//! Real servers for the daemon tests, on free ports of 127.0.0.1: Dovecot (IMAP, with its own
//! configuration in a temp dir, no systemd) and an aiosmtpd SMTP sink. Each is stopped when
//! dropped, and can be stopped and started again on the same port.
#![allow(dead_code)]

use std::io::BufRead;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{what} did not start listening on 127.0.0.1:{port}");
}

pub struct Dovecot {
    pub dir: tempfile::TempDir,
    pub port: u16,
    child: Option<Child>,
}

pub const IMAP_USER: &str = "bot";
pub const IMAP_PASS: &str = "secret";

impl Dovecot {
    pub fn start() -> Dovecot {
        Dovecot::start_users(&[IMAP_USER])
    }

    /// A server with a mailbox for each of `users` (password `IMAP_PASS` for all): one bot
    /// address per municipality.
    pub fn start_users(users: &[&str]) -> Dovecot {
        Dovecot::start_users_with(users, "")
    }

    /// `start_users` with `extra` appended to the configuration: settings of services and
    /// limits the default one does not name (a bench's hundreds of IDLE connections).
    pub fn start_users_with(users: &[&str], extra: &str) -> Dovecot {
        let dir = tempfile::Builder::new()
            .prefix("zt-dovecot")
            .tempdir()
            .unwrap();
        let d = dir.path();
        for sub in ["run", "state", "mail", "home"] {
            std::fs::create_dir_all(d.join(sub)).unwrap();
        }
        // Dovecot refuses uid 0 for mail: the mailbox belongs to nobody, so it must reach it.
        Command::new("chmod").arg("755").arg(d).status().unwrap();
        Command::new("chown")
            .args(["-R", "nobody:nogroup"])
            .arg(d.join("mail"))
            .arg(d.join("home"))
            .status()
            .unwrap();
        let lines: String = users
            .iter()
            .map(|u| format!("{u}:{{PLAIN}}{IMAP_PASS}::::::\n"))
            .collect();
        std::fs::write(d.join("users"), lines).unwrap();
        let port = free_port();
        let conf = format!(
            r#"protocols = imap
listen = 127.0.0.1
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{d}/mail/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/users
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={d}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = 0
  }}
}}
service submission-login {{
  inet_listener submission {{
    port = 0
  }}
}}
service lmtp {{
  unix_listener lmtp {{
    mode = 0600
  }}
}}
protocol imap {{
  mail_max_userip_connections = 100
}}
{extra}"#,
            d = d.display()
        );
        std::fs::write(d.join("dovecot.conf"), conf).unwrap();
        let mut dc = Dovecot {
            dir,
            port,
            child: None,
        };
        dc.up();
        dc
    }

    pub fn url(&self) -> String {
        self.url_for(IMAP_USER)
    }

    /// The INBOX of one of the users given to `start_users`.
    pub fn url_for(&self, user: &str) -> String {
        format!("imap://{user}:{IMAP_PASS}@127.0.0.1:{}/INBOX", self.port)
    }

    pub fn up(&mut self) {
        let child = Command::new("dovecot")
            .arg("-F")
            .arg("-c")
            .arg(self.dir.path().join("dovecot.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("dovecot is installed (apt-get install dovecot-imapd; .ci/run does it)");
        self.child = Some(child);
        wait_for_port(self.port, "dovecot");
    }

    /// Stops the server (the daemon's connection drops).
    pub fn down(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(c.id().to_string())
                .status();
            let _ = c.wait();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok()
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Delivers a message with IMAP APPEND, with the server's receipt time (INTERNALDATE) given.
    pub fn append(&self, bytes: &[u8], internal_date: &str) {
        self.append_as(IMAP_USER, bytes, internal_date)
    }

    /// Appends a message to the INBOX of `user`.
    pub fn append_as(&self, user: &str, bytes: &[u8], internal_date: &str) {
        let script = format!(
            "import imaplib,sys\nm=imaplib.IMAP4('127.0.0.1',{})\nm.login('{user}','{IMAP_PASS}')\n\
             t,d=m.append('INBOX',None,'\"{internal_date}\"',sys.stdin.buffer.read())\nassert t=='OK',d\nm.logout()\n",
            self.port
        );
        run_python(&script, bytes);
    }

    /// Appends many messages over one connection.
    pub fn append_many(&self, files: &[PathBuf], internal_date: &str) {
        let list = files
            .iter()
            .map(|p| format!("{:?}", p.display().to_string()))
            .collect::<Vec<_>>()
            .join(",");
        let script = format!(
            "import imaplib\nm=imaplib.IMAP4('127.0.0.1',{})\nm.login('{IMAP_USER}','{IMAP_PASS}')\n\
             for f in [{list}]:\n    t,d=m.append('INBOX',None,'\"{internal_date}\"',open(f,'rb').read())\n    assert t=='OK',d\nm.logout()\n",
            self.port
        );
        run_python(&script, b"");
    }

    /// Appends each message over one connection, as a client would, and says which the server
    /// took: one it refuses (`NO`, `BAD`) is not the daemon's to read. The bytes go through
    /// files, so that any byte can be sent.
    pub fn append_each(&self, messages: &[Vec<u8>], internal_date: &str) -> Vec<bool> {
        let dir = tempfile::tempdir().unwrap();
        let files: Vec<PathBuf> = messages
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let p = dir.path().join(format!("{i}.eml"));
                std::fs::write(&p, m).unwrap();
                p
            })
            .collect();
        let list = files
            .iter()
            .map(|p| format!("{:?}", p.display().to_string()))
            .collect::<Vec<_>>()
            .join(",");
        let script = format!(
            "import imaplib\ndef c():\n    m=imaplib.IMAP4('127.0.0.1',{})\n    m.login('{IMAP_USER}','{IMAP_PASS}')\n    return m\n\
             m=c()\nfor f in [{list}]:\n    try:\n        t,d=m.append('INBOX',None,'\"{internal_date}\"',open(f,'rb').read())\n        print(1 if t=='OK' else 0)\n\
             \x20   except Exception:\n        print(0)\n        m=c()\nm.logout()\n",
            self.port
        );
        run_python(&script, b"")
            .split_whitespace()
            .map(|v| v == "1")
            .collect()
    }

    /// Every message in INBOX, as the server hands it to an IMAP client (`BODY.PEEK[]`).
    pub fn fetch_all(&self) -> Vec<Vec<u8>> {
        let script = format!(
            "import imaplib,base64\nm=imaplib.IMAP4('127.0.0.1',{})\nm.login('{IMAP_USER}','{IMAP_PASS}')\nm.select('INBOX',readonly=True)\n\
             for u in m.uid('SEARCH',None,'ALL')[1][0].split():\n    t,d=m.uid('FETCH',u,'(BODY.PEEK[])')\n\
             \x20   print(base64.b64encode(d[0][1]).decode())\nm.logout()\n",
            self.port
        );
        use base64::Engine;
        run_python(&script, b"")
            .lines()
            .map(|l| base64::engine::general_purpose::STANDARD.decode(l).unwrap())
            .collect()
    }

    /// Messages in INBOX and how many are flagged \Seen.
    pub fn counts(&self) -> (usize, usize) {
        let script = format!(
            "import imaplib\nm=imaplib.IMAP4('127.0.0.1',{})\nm.login('{IMAP_USER}','{IMAP_PASS}')\nm.select('INBOX')\n\
             a=m.search(None,'ALL')[1][0].split()\ns=m.search(None,'SEEN')[1][0].split()\nprint(len(a),len(s))\nm.logout()\n",
            self.port
        );
        let out = run_python(&script, b"");
        let v: Vec<usize> = out.split_whitespace().map(|x| x.parse().unwrap()).collect();
        (v[0], v[1])
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        self.down();
    }
}

fn run_python(script: &str, stdin: &[u8]) -> String {
    use std::io::Write;
    let mut c = Command::new("python3")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    c.stdin.take().unwrap().write_all(stdin).unwrap();
    let o = c.wait_with_output().unwrap();
    assert!(
        o.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub struct SmtpSink {
    pub port: u16,
    pub out: PathBuf,
    /// Recipients the server refuses with a permanent 550.
    pub reject: Vec<String>,
    child: Option<Child>,
}

impl SmtpSink {
    pub fn start(out: &Path) -> SmtpSink {
        Self::start_rejecting(out, &[])
    }

    pub fn start_rejecting(out: &Path, reject: &[&str]) -> SmtpSink {
        let mut s = SmtpSink {
            port: free_port(),
            out: out.to_path_buf(),
            reject: reject.iter().map(|r| r.to_string()).collect(),
            child: None,
        };
        s.up();
        s
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub fn up(&mut self) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/smtp_sink.py");
        let mut child = Command::new("python3")
            .arg(script)
            .arg(self.port.to_string())
            .arg(&self.out)
            .arg(self.reject.join(","))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(
            line.trim(),
            "ready",
            "the SMTP sink needs aiosmtpd (pip install aiosmtpd; .ci/run does it)"
        );
        self.child = Some(child);
        wait_for_port(self.port, "smtp sink");
    }

    pub fn down(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(c.id().to_string())
                .status();
            let _ = c.wait();
        }
    }

    /// The messages accepted so far, as text.
    pub fn received(&self) -> Vec<String> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.out)
            .map(|rd| {
                rd.map(|e| e.unwrap().path())
                    .filter(|p| p.extension().is_some_and(|x| x == "eml"))
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        files
            .iter()
            .map(|p| String::from_utf8_lossy(&std::fs::read(p).unwrap()).into_owned())
            .collect()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.down();
    }
}

/// Waits until `f` holds, or fails the test after `secs`, saying what it waited for.
pub fn eventually(secs: u64, what: &str, f: impl FnMut() -> bool) {
    if !within(secs, f) {
        panic!("timed out after {secs}s waiting for: {what}");
    }
}

/// Whether `f` holds within `secs` (asked every 100 ms): for a test that says more than
/// `eventually` when it does not.
pub fn within(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

/// An SMTP relay that takes connections and then says nothing: its first `hold` connections
/// are held open, silent, for as long as it lives (a relay hung after `accept`, a firewall
/// that swallows the traffic); the later ones are passed byte for byte to the SMTP server at
/// `to` (a real one, so that mail can go once the relay "recovers").
pub struct SmtpTarpit {
    pub port: u16,
    accepted: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl SmtpTarpit {
    pub fn start(hold: usize, to: u16) -> SmtpTarpit {
        use std::sync::atomic::Ordering;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = accepted.clone();
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let n = count.fetch_add(1, Ordering::SeqCst);
                if n < hold {
                    held.push(conn);
                    continue;
                }
                std::thread::spawn(move || {
                    let Ok(server) = std::net::TcpStream::connect(("127.0.0.1", to)) else {
                        return;
                    };
                    let (mut c2, mut s2) = (conn.try_clone().unwrap(), server.try_clone().unwrap());
                    let up = std::thread::spawn(move || {
                        let _ = std::io::copy(&mut c2, &mut s2);
                        let _ = s2.shutdown(std::net::Shutdown::Write);
                    });
                    let (mut s1, mut c1) = (server, conn);
                    let _ = std::io::copy(&mut s1, &mut c1);
                    let _ = c1.shutdown(std::net::Shutdown::Write);
                    let _ = up.join();
                });
            }
        });
        SmtpTarpit { port, accepted }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Connections taken so far, held or passed on.
    pub fn accepted(&self) -> usize {
        self.accepted.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// A relay in front of an IMAP server whose first connection goes silent in the middle of a
/// command: once the client has sent a line containing `on`, nothing more of the server's
/// reaches it, and the connection stays open (a server hung mid-command, a middlebox that
/// dropped the flow). Later connections are relayed whole.
pub struct ImapFreeze {
    pub port: u16,
}

impl ImapFreeze {
    pub fn start(to: u16, on: &str) -> ImapFreeze {
        use std::io::{BufRead, Read, Write};
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, Ordering};
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let on = on.to_string();
        std::thread::spawn(move || {
            for (n, conn) in listener.incoming().enumerate() {
                let Ok(client) = conn else { continue };
                let Ok(server) = std::net::TcpStream::connect(("127.0.0.1", to)) else {
                    continue;
                };
                let frozen = Arc::new(AtomicBool::new(false));
                let (f, on) = (frozen.clone(), on.clone());
                let (c_in, mut s_out) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                std::thread::spawn(move || {
                    let mut lines = std::io::BufReader::new(c_in);
                    let mut line = Vec::new();
                    while lines.read_until(b'\n', &mut line).unwrap_or(0) > 0 {
                        if n == 0 && String::from_utf8_lossy(&line).contains(&on) {
                            f.store(true, Ordering::SeqCst);
                        }
                        if s_out.write_all(&line).is_err() {
                            break;
                        }
                        line.clear();
                    }
                });
                let (mut s_in, mut c_out) = (server, client);
                std::thread::spawn(move || {
                    let mut buf = [0u8; 16384];
                    loop {
                        match s_in.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(k) => {
                                if frozen.load(Ordering::SeqCst) {
                                    continue; // swallowed: the client hears nothing more
                                }
                                if c_out.write_all(&buf[..k]).is_err() {
                                    break;
                                }
                            }
                        }
                    }
                });
            }
        });
        ImapFreeze { port }
    }
}
