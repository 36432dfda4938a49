//! A real OpenLDAP server (Debian's `slapd`) for the directory tests, on free ports of
//! 127.0.0.1 with its own configuration, database and certificates in a temporary directory:
//! `ldap://` (StartTLS) and `ldaps://`, signed by a CA made for the test (`ca.pem`, the
//! `[ldap] ca_file`). The layout is Active Directory's: staff under `ou=Staff` with
//! `sAMAccountName`, `employeeID`, `department` and Japanese `displayName`s, groups under
//! `ou=Groups` whose `member` changes show as the staff's `memberOf` (the memberof overlay),
//! and a search account under `ou=Service`. `.ci/run` installs `slapd` and `ldap-utils`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;

use super::servers::free_port;

pub const SUFFIX: &str = "dc=city,dc=example";
pub const ADMIN_DN: &str = "cn=admin,dc=city,dc=example";
pub const ADMIN_PW: &str = "admin-secret";
pub const SERVICE_DN: &str = "cn=zaitaku,ou=Service,dc=city,dc=example";
pub const SERVICE_PW: &str = "service-secret";
pub const SUPERVISORS: &str = "cn=所属長,ou=Groups,dc=city,dc=example";
pub const IT: &str = "cn=情報システム管理者,ou=Groups,dc=city,dc=example";

/// Active Directory's attributes OpenLDAP's schema lacks, with AD's own OIDs.
const AD_SCHEMA: &str = "\
attributetype ( 1.2.840.113556.1.4.221 NAME 'sAMAccountName' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.35 NAME 'employeeID' EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.2.141 NAME 'department' EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
objectclass ( 1.3.6.1.4.1.99999.1.1 NAME 'zaitakuADUser' SUP top AUXILIARY MAY ( sAMAccountName $ employeeID $ department ) )
";

pub struct Slapd {
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub tls_port: u16,
    child: Option<Child>,
}

/// One person of the test directory.
pub struct Person<'a> {
    pub login: &'a str,
    pub employee_id: &'a str,
    pub name: &'a str,
    pub mail: &'a str,
    pub department: &'a str,
    pub password: &'a str,
}

fn run(cmd: &mut Command, what: &str) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `attr: value`, or `attr:: BASE64` when the value is not plain ASCII (RFC 2849).
pub fn ldif(attr: &str, value: &str) -> String {
    if value.is_ascii() && !value.starts_with([' ', ':', '<']) {
        format!("{attr}: {value}\n")
    } else {
        let b = base64::engine::general_purpose::STANDARD.encode(value);
        format!("{attr}:: {b}\n")
    }
}

pub fn person_dn(login: &str) -> String {
    format!("cn={login},ou=Staff,{SUFFIX}")
}

impl Slapd {
    /// Starts a server with the tree's skeleton (the OUs, the search account, the two groups
    /// empty but for a placeholder member); fails loudly when `slapd` is not installed.
    pub fn start() -> Slapd {
        let slapd = Path::new("/usr/sbin/slapd");
        assert!(
            slapd.exists(),
            "slapd is not installed: `bash .ci/run` installs it (apt-get install slapd ldap-utils)"
        );
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        make_certificates(d);
        std::fs::create_dir_all(d.join("db")).unwrap();
        std::fs::write(d.join("ad.schema"), AD_SCHEMA).unwrap();
        std::fs::write(
            d.join("slapd.conf"),
            format!(
                "include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include {d}/ad.schema
# As Active Directory may: a bind with a DN and no password is an anonymous bind that
# succeeds (RFC 4513 §5.1.2), so a login must never send an empty password.
allow bind_anon_dn
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload memberof
pidfile {d}/slapd.pid
TLSCACertificateFile {d}/ca.pem
TLSCertificateFile {d}/server.pem
TLSCertificateKeyFile {d}/server.key
database mdb
suffix \"{SUFFIX}\"
rootdn \"{ADMIN_DN}\"
rootpw {ADMIN_PW}
directory {d}/db
maxsize 104857600
overlay memberof
",
                d = d.display()
            ),
        )
        .unwrap();
        let mut s = Slapd {
            port: free_port(),
            tls_port: free_port(),
            dir,
            child: None,
        };
        s.resume();
        let mut base = format!(
            "dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\ndc: city\no: city\n\n"
        );
        for ou in ["Staff", "Groups", "Service"] {
            base.push_str(&format!(
                "dn: ou={ou},{SUFFIX}\nobjectClass: organizationalUnit\nou: {ou}\n\n"
            ));
        }
        base.push_str(&format!(
            "dn: {SERVICE_DN}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\ncn: zaitaku\nuserPassword: {SERVICE_PW}\n\n"
        ));
        // groupOfNames needs a member: the search account holds the place.
        for g in [SUPERVISORS, IT] {
            let cn = g.split(',').next().unwrap().trim_start_matches("cn=");
            base.push_str(&ldif("dn", g));
            base.push_str("objectClass: groupOfNames\n");
            base.push_str(&ldif("cn", cn));
            base.push_str(&format!("member: {SERVICE_DN}\n\n"));
        }
        s.add(&base);
        s
    }

    pub fn ldaps_url(&self) -> String {
        format!("ldaps://127.0.0.1:{}", self.tls_port)
    }

    pub fn ldap_url(&self) -> String {
        format!("ldap://127.0.0.1:{}", self.port)
    }

    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// The `[ldap]` section for this server (`url` either of the two).
    pub fn config(&self, url: &str) -> String {
        let mut c = format!(
            "[ldap]\nurl = \"{url}\"\nca_file = \"{}\"\nbind_dn = \"{SERVICE_DN}\"\nbind_password = \"{SERVICE_PW}\"\nbase_dn = \"ou=Staff,{SUFFIX}\"\nuser_filter = \"(&(objectClass=inetOrgPerson)(sAMAccountName={{login}}))\"\ntimeout_seconds = 3\n[ldap.roles]\n",
            self.ca_file().display()
        );
        c.push_str(&format!(
            "\"{SUPERVISORS}\" = \"supervisor\"\n\"{IT}\" = \"it\"\n"
        ));
        c
    }

    fn ldap_tool(&self, tool: &str, text: &str) {
        let file = self.dir.path().join(format!(
            "change-{}.ldif",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::write(&file, text).unwrap();
        run(
            Command::new(tool)
                .args([
                    "-x",
                    "-H",
                    &self.ldap_url(),
                    "-D",
                    ADMIN_DN,
                    "-w",
                    ADMIN_PW,
                    "-f",
                ])
                .arg(&file),
            &format!("{tool} {text}"),
        );
    }

    /// `ldapadd` of LDIF text, as the directory's administrator.
    pub fn add(&self, text: &str) {
        self.ldap_tool("ldapadd", text);
    }

    /// `ldapmodify` of LDIF text (changetype records), as the administrator.
    pub fn modify(&self, text: &str) {
        self.ldap_tool("ldapmodify", text);
    }

    pub fn add_person(&self, p: &Person) {
        let mut t = ldif("dn", &person_dn(p.login));
        t.push_str("objectClass: inetOrgPerson\nobjectClass: zaitakuADUser\n");
        t.push_str(&ldif("cn", p.login));
        t.push_str(&ldif("sn", p.name));
        t.push_str(&ldif("sAMAccountName", p.login));
        t.push_str(&ldif("employeeID", p.employee_id));
        t.push_str(&ldif("displayName", p.name));
        t.push_str(&ldif("mail", p.mail));
        t.push_str(&ldif("department", p.department));
        t.push_str(&ldif("userPassword", p.password));
        self.add(&t);
    }

    pub fn set_department(&self, login: &str, department: &str) {
        let mut t = ldif("dn", &person_dn(login));
        t.push_str("changetype: modify\nreplace: department\n");
        t.push_str(&ldif("department", department));
        self.modify(&t);
    }

    pub fn delete_person(&self, login: &str) {
        let mut t = ldif("dn", &person_dn(login));
        t.push_str("changetype: delete\n");
        self.modify(&t);
    }

    pub fn add_to_group(&self, group: &str, login: &str) {
        let mut t = ldif("dn", group);
        t.push_str("changetype: modify\nadd: member\n");
        t.push_str(&ldif("member", &person_dn(login)));
        self.modify(&t);
    }

    /// Kills the server (connections refused from now on); the database stays.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Freezes the server (SIGSTOP): connections are accepted by the kernel, nothing answers.
    pub fn freeze(&self) {
        self.signal("-STOP");
    }

    pub fn thaw(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, sig: &str) {
        let pid = self.child.as_ref().expect("running").id().to_string();
        run(Command::new("kill").args([sig, &pid]), "kill");
    }

    /// Starts (again) on the same ports and database.
    pub fn resume(&mut self) {
        let d = self.dir.path();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(d.join("slapd.log"))
            .unwrap();
        let urls = format!(
            "ldap://127.0.0.1:{}/ ldaps://127.0.0.1:{}/",
            self.port, self.tls_port
        );
        let child = Command::new("/usr/sbin/slapd")
            .args(["-d", "0", "-h", &urls, "-f"])
            .arg(d.join("slapd.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let up = Command::new("ldapsearch")
                .args([
                    "-x",
                    "-H",
                    &self.ldap_url(),
                    "-b",
                    "",
                    "-s",
                    "base",
                    "(objectClass=*)",
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if up {
                return;
            }
            if let Some(Some(status)) = self.child.as_mut().map(|c| c.try_wait().unwrap()) {
                panic!(
                    "slapd exited ({status}):\n{}",
                    std::fs::read_to_string(d.join("slapd.log")).unwrap_or_default()
                );
            }
            assert!(
                Instant::now() < deadline,
                "slapd did not answer within 20 s:\n{}",
                std::fs::read_to_string(d.join("slapd.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        if let Some(c) = self.child.as_ref() {
            // A frozen server would not die of SIGKILL's wait otherwise.
            let _ = Command::new("kill")
                .args(["-CONT", &c.id().to_string()])
                .status();
        }
        self.stop();
    }
}

/// A CA and a server certificate for 127.0.0.1 signed by it, with `openssl`.
fn make_certificates(d: &Path) {
    let ossl = |args: &[&str]| run(Command::new("openssl").args(args).current_dir(d), "openssl");
    ossl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=zaitaku test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    ossl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    std::fs::write(
        d.join("server.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    ossl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "server.ext",
    ]);
}
