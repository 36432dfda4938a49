//! A real Matrix homeserver for the chat tests: Synapse, started on a free port of 127.0.0.1
//! with its own configuration and SQLite database in a temp dir, stopped when dropped, and
//! restartable on the same port with the same data. Users are registered through its
//! shared-secret admin API; the tests then speak the client-server API to it as people would.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use serde_json::{Value, json};

use super::http::Client;
use super::servers::free_port;

pub const SERVER_NAME: &str = "test.local";
const SHARED_SECRET: &str = "zaitaku-test-shared-secret";

/// The Python that has Synapse: `ZAITAKU_SYNAPSE_PYTHON`, else the virtualenv `.ci/run` makes
/// (`target/synapse-venv`), else a `python3` that can import it. `None` when the variable is
/// `skip`; a panic with instructions when there is none.
pub fn python() -> Option<PathBuf> {
    match std::env::var("ZAITAKU_SYNAPSE_PYTHON") {
        Ok(v) if v == "skip" => {
            eprintln!("ZAITAKU_SYNAPSE_PYTHON=skip: Matrix test not run");
            return None;
        }
        Ok(v) => return Some(PathBuf::from(v)),
        Err(_) => {}
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/synapse-venv/bin/python");
    if venv.exists() {
        return Some(venv);
    }
    let system = Command::new("python3")
        .args(["-c", "import synapse"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if system {
        return Some(PathBuf::from("python3"));
    }
    panic!(
        "Synapse (the Matrix homeserver the chat tests talk to) is not installed: run `bash .ci/run` \
         (it installs it into target/synapse-venv), or point ZAITAKU_SYNAPSE_PYTHON at a Python \
         that has it, or set ZAITAKU_SYNAPSE_PYTHON=skip"
    );
}

pub struct Synapse {
    pub dir: tempfile::TempDir,
    pub port: u16,
    python: PathBuf,
    child: Option<Child>,
}

impl Synapse {
    pub fn start(python: PathBuf) -> Synapse {
        let dir = tempfile::Builder::new()
            .prefix("zt-synapse")
            .tempdir()
            .unwrap();
        let port = free_port();
        let d = dir.path().display();
        std::fs::write(
            dir.path().join("homeserver.yaml"),
            format!(
                r#"server_name: "{SERVER_NAME}"
listeners:
  - port: {port}
    bind_addresses: ["127.0.0.1"]
    type: http
    tls: false
    x_forwarded: false
    resources:
      - names: [client]
        compress: false
database:
  name: sqlite3
  args:
    database: "{d}/homeserver.db"
log_config: "{d}/log.yaml"
media_store_path: "{d}/media_store"
signing_key_path: "{d}/signing.key"
registration_shared_secret: "{SHARED_SECRET}"
report_stats: false
enable_registration: false
trusted_key_servers: []
suppress_key_server_warning: true
bcrypt_rounds: 4
presence:
  enabled: false
rc_message: {{per_second: 10000, burst_count: 100000}}
rc_registration: {{per_second: 10000, burst_count: 100000}}
rc_login:
  address: {{per_second: 10000, burst_count: 100000}}
  account: {{per_second: 10000, burst_count: 100000}}
  failed_attempts: {{per_second: 10000, burst_count: 100000}}
rc_joins:
  local: {{per_second: 10000, burst_count: 100000}}
  remote: {{per_second: 10000, burst_count: 100000}}
rc_joins_per_room: {{per_second: 10000, burst_count: 100000}}
rc_invites:
  per_room: {{per_second: 10000, burst_count: 100000}}
  per_user: {{per_second: 10000, burst_count: 100000}}
  per_issuer: {{per_second: 10000, burst_count: 100000}}
rc_room_creation: {{per_second: 10000, burst_count: 100000}}
"#
            ),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("log.yaml"),
            format!(
                "version: 1\nformatters:\n  precise:\n    format: '%(asctime)s - %(name)s - %(levelname)s - %(message)s'\n\
                 handlers:\n  file:\n    class: logging.FileHandler\n    filename: {d}/homeserver.log\n    formatter: precise\n\
                 root:\n  level: WARNING\n  handlers: [file]\ndisable_existing_loggers: false\n"
            ),
        )
        .unwrap();
        let mut s = Synapse {
            dir,
            port,
            python,
            child: None,
        };
        s.restart();
        s
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Starts it (again) and waits until it answers.
    pub fn restart(&mut self) {
        self.stop();
        let out = std::fs::File::create(self.dir.path().join("stdout.log")).unwrap();
        let mut child = Command::new(&self.python)
            .args(["-m", "synapse.app.homeserver", "-c"])
            .arg(self.dir.path().join("homeserver.yaml"))
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start Synapse with {:?}: {e}", self.python));
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                panic!(
                    "Synapse exited at start ({status}):\n{}\n{}",
                    std::fs::read_to_string(self.dir.path().join("stdout.log")).unwrap_or_default(),
                    std::fs::read_to_string(self.dir.path().join("homeserver.log"))
                        .unwrap_or_default()
                );
            }
            if std::net::TcpStream::connect(self.addr()).is_ok()
                && Client::new(&self.addr())
                    .get("/_matrix/client/versions")
                    .status
                    == 200
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "Synapse did not answer on {} within 90 s",
                self.addr()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        self.child = Some(child);
    }

    /// SIGTERM, and wait for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(c.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(20);
            while c.try_wait().unwrap().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Registers a user through the shared-secret admin API; returns a client logged in as them.
    pub fn register(&self, name: &str) -> Matrix {
        let mut c = Client::new(&self.addr());
        let nonce = c.get("/_synapse/admin/v1/register").expect(200).json()["nonce"]
            .as_str()
            .unwrap()
            .to_string();
        let password = format!("pw-{name}");
        let mut mac = Hmac::<sha1::Sha1>::new_from_slice(SHARED_SECRET.as_bytes()).unwrap();
        mac.update(format!("{nonce}\0{name}\0{password}\0notadmin").as_bytes());
        let mac = hex::encode(mac.finalize().into_bytes());
        let r = c.json(
            "POST",
            "/_synapse/admin/v1/register",
            &json!({"nonce": nonce, "username": name, "password": password, "admin": false, "mac": mac}),
        );
        let v = r.expect(200).json();
        Matrix {
            addr: self.addr(),
            user_id: v["user_id"].as_str().unwrap().to_string(),
            token: v["access_token"].as_str().unwrap().to_string(),
            txn: std::cell::Cell::new(0),
        }
    }
}

impl Drop for Synapse {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A person (or the bot) on the homeserver, speaking the client-server API.
pub struct Matrix {
    addr: String,
    pub user_id: String,
    pub token: String,
    txn: std::cell::Cell<u64>,
}

pub fn seg(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

impl Matrix {
    fn client(&self) -> Client {
        let mut c = Client::new(&self.addr);
        c.bearer = Some(self.token.clone());
        c
    }

    pub fn call(&self, method: &str, path: &str, body: &Value) -> Value {
        let r = self.client().json(method, path, body);
        assert_eq!(r.status, 200, "{method} {path}: {}", r.body);
        r.json()
    }

    pub fn create_room(&self, invite: &[&str]) -> String {
        self.call(
            "POST",
            "/_matrix/client/v3/createRoom",
            &json!({"preset": "private_chat", "invite": invite}),
        )["room_id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    pub fn join(&self, room: &str) {
        self.call(
            "POST",
            &format!("/_matrix/client/v3/join/{}", seg(room)),
            &json!({}),
        );
    }

    /// Sends an event of `kind` to the room, with a transaction ID of its own; returns its
    /// event ID.
    fn send(&self, room: &str, kind: &str, content: &Value) -> String {
        let n = self.txn.get() + 1;
        self.txn.set(n);
        self.call(
            "PUT",
            &format!(
                "/_matrix/client/v3/rooms/{}/send/{kind}/t{n}-{}",
                seg(room),
                std::process::id()
            ),
            content,
        )["event_id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Sends a text message; returns its event ID.
    pub fn say(&self, room: &str, text: &str) -> String {
        self.send(
            room,
            "m.room.message",
            &json!({"msgtype": "m.text", "body": text}),
        )
    }

    /// Answers `root` in its thread; returns the answer's event ID.
    pub fn say_in_thread(&self, room: &str, root: &str, text: &str) -> String {
        self.send(
            room,
            "m.room.message",
            &json!({"msgtype": "m.text", "body": text, "m.relates_to": {
                "rel_type": "m.thread", "event_id": root, "is_falling_back": true,
                "m.in_reply_to": {"event_id": root}}}),
        )
    }

    /// Sends an end-to-end encrypted message (made-up ciphertext: nobody can read it, which is
    /// what the bot, holding no keys, sees of any); returns its event ID.
    pub fn say_encrypted(&self, room: &str) -> String {
        self.send(
            room,
            "m.room.encrypted",
            &json!({"algorithm": "m.megolm.v1.aes-sha2", "ciphertext": "AwgAEnAC…", "sender_key": "k",
                    "session_id": "s", "device_id": "TESTDEVICE"}),
        )
    }

    /// The room's text messages, oldest first (up to 1,000).
    pub fn messages(&self, room: &str) -> Vec<Value> {
        let v = self
            .client()
            .get(&format!(
                "/_matrix/client/v3/rooms/{}/messages?dir=b&limit=1000",
                seg(room)
            ))
            .expect(200)
            .json();
        let mut out: Vec<Value> = v["chunk"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["type"] == "m.room.message")
            .cloned()
            .collect();
        out.reverse();
        out
    }
}
