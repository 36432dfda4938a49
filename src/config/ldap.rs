//! `[ldap]` (SPEC §12): the city's directory (Active Directory or OpenLDAP). The search
//! account (`bind_dn`, `bind_password`) finds the person a login names under `base_dn` with
//! `user_filter`; `[ldap.attributes]` names the attributes that hold the employee ID, name,
//! address and department; `[ldap.roles]` maps a group (a `memberOf` value) to a role; `sync`
//! is the daemon's schedule for `employees sync --ldap`. Everything is checked here, when the
//! configuration loads, so a typo is one line and exit 2 at start, not a failed login later.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;

use crate::error::Error;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLdap {
    url: Option<String>,
    ca_file: Option<String>,
    bind_dn: Option<String>,
    bind_password: Option<String>,
    base_dn: Option<String>,
    user_filter: Option<String>,
    sync: Option<String>,
    timeout_seconds: Option<u64>,
    #[serde(default)]
    attributes: RawAttributes,
    #[serde(default)]
    roles: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAttributes {
    employee_id: Option<String>,
    name: Option<String>,
    email: Option<String>,
    department: Option<String>,
}

/// Which directory attribute holds each field of an employee.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LdapAttributes {
    pub employee_id: String,
    pub name: String,
    pub email: String,
    pub department: String,
}

/// How the connection is protected. There is no plain-text mode: a login's password
/// crosses this connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LdapTls {
    /// `ldaps://`: TLS from the first byte (port 636 by default).
    Ldaps,
    /// `ldap://`: StartTLS before anything else is sent (port 389 by default).
    StartTls,
}

/// `[ldap]`, checked. `Debug` does not show the password.
#[derive(Clone, PartialEq, Eq)]
pub struct LdapConfig {
    pub url: String,
    pub tls: LdapTls,
    /// PEM certificates of the CA that signed the directory's certificate, besides the
    /// public roots (a city's own CA).
    pub ca_file: Option<PathBuf>,
    pub bind_dn: String,
    pub bind_password: String,
    pub base_dn: String,
    /// With `{login}` where the typed login goes (escaped, RFC 4515).
    pub user_filter: String,
    pub sync: Option<(String, cron::Schedule)>,
    /// How long a connection, a bind or a search may take before the directory counts as
    /// unreachable.
    pub timeout: std::time::Duration,
    pub attributes: LdapAttributes,
    /// Group DN (a `memberOf` value) as `dn_key` writes it → role name (`supervisor`, `it`,
    /// `hr`, `division_head`).
    pub roles: BTreeMap<String, String>,
}

impl fmt::Debug for LdapConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LdapConfig")
            .field("url", &self.url)
            .field("tls", &self.tls)
            .field("ca_file", &self.ca_file)
            .field("bind_dn", &self.bind_dn)
            .field("base_dn", &self.base_dn)
            .field("user_filter", &self.user_filter)
            .field("roles", &self.roles)
            .finish_non_exhaustive()
    }
}

/// The roles a group may give; anyone in none of the groups is a teleworker.
pub const ROLES: &[&str] = &["supervisor", "it", "hr", "division_head"];

pub const DEFAULT_USER_FILTER: &str = "(sAMAccountName={login})";
pub const DEFAULT_TIMEOUT_SECONDS: u64 = 10;

/// A DN as the role table compares it: lower case, no spaces around the `,` and `=` of its
/// parts (`CN=所属長, OU=Groups` and `cn=所属長,ou=groups` are the same group).
pub fn dn_key(dn: &str) -> String {
    dn.split(',')
        .map(|rdn| {
            rdn.split_once('=')
                .map(|(k, v)| format!("{}={}", k.trim(), v.trim()))
                .unwrap_or_else(|| rdn.trim().to_string())
        })
        .collect::<Vec<_>>()
        .join(",")
        .to_lowercase()
}

pub(super) fn ldap_config(file: &str, raw: RawLdap) -> Result<LdapConfig, Error> {
    let required = |k: &str, v: Option<String>, example: &str| {
        v.map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| Error::bad(field(file, k), format!("expected {example}, got nothing")))
    };
    let url = required(
        "url",
        raw.url,
        "the directory's URL like \"ldaps://ad.city.example.lg.jp\"",
    )?;
    let tls = tls_of(file, &url)?;
    let ca_file = ca_file_of(file, raw.ca_file.as_deref())?;
    let bind_dn = required(
        "bind_dn",
        raw.bind_dn,
        "the search account's DN like \"CN=zaitaku,OU=Service,DC=city,DC=example\"",
    )?;
    let bind_password = raw.bind_password.filter(|p| !p.is_empty()).ok_or_else(|| {
        Error::bad(
            field(file, "bind_password"),
            "expected the search account's password, got nothing",
        )
    })?;
    let base_dn = required(
        "base_dn",
        raw.base_dn,
        "where staff are, like \"OU=Staff,DC=city,DC=example\"",
    )?;
    let timeout = match raw.timeout_seconds {
        Some(0) => {
            return Err(Error::bad(
                field(file, "timeout_seconds"),
                "expected a number of seconds above 0, got 0",
            ));
        }
        Some(n) => n,
        None => DEFAULT_TIMEOUT_SECONDS,
    };
    Ok(LdapConfig {
        url,
        tls,
        ca_file,
        bind_dn,
        bind_password,
        base_dn,
        user_filter: user_filter_of(file, raw.user_filter)?,
        sync: sync_of(file, raw.sync.as_deref())?,
        timeout: std::time::Duration::from_secs(timeout),
        attributes: attributes_of(file, raw.attributes)?,
        roles: roles_of(file, raw.roles)?,
    })
}

/// The name of key `k` of the `[ldap]` table of `file`, for an error line.
fn field(file: &str, k: &str) -> String {
    format!("{file}: ldap.{k}")
}

/// `ldaps://` or StartTLS on `ldap://`: there is no unencrypted mode.
fn tls_of(file: &str, url: &str) -> Result<LdapTls, Error> {
    let parsed = url::Url::parse(url).ok();
    match parsed
        .as_ref()
        .map(|u| (u.scheme(), u.host_str().unwrap_or("")))
    {
        Some(("ldaps", h)) if !h.is_empty() => Ok(LdapTls::Ldaps),
        Some(("ldap", h)) if !h.is_empty() => Ok(LdapTls::StartTls),
        _ => Err(Error::bad(
            field(file, "url"),
            format!("expected ldaps://HOST[:PORT] or ldap://HOST[:PORT] (StartTLS), got {url:?}"),
        )),
    }
}

fn ca_file_of(file: &str, raw: Option<&str>) -> Result<Option<PathBuf>, Error> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(p) => {
            let path = PathBuf::from(p);
            if !path.is_file() {
                return Err(Error::bad(
                    field(file, "ca_file"),
                    format!("expected a PEM file of CA certificates, but {p:?} is not a file"),
                ));
            }
            Ok(Some(path))
        }
    }
}

fn user_filter_of(file: &str, raw: Option<String>) -> Result<String, Error> {
    let user_filter = raw
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| DEFAULT_USER_FILTER.into());
    if !(user_filter.starts_with('(')
        && user_filter.ends_with(')')
        && user_filter.contains("{login}"))
    {
        return Err(Error::bad(
            field(file, "user_filter"),
            format!(
                "expected an LDAP filter with {{login}} where the typed login goes, like \"(sAMAccountName={{login}})\", got {user_filter:?}"
            ),
        ));
    }
    Ok(user_filter)
}

fn sync_of(file: &str, raw: Option<&str>) -> Result<Option<(String, cron::Schedule)>, Error> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(e) => {
            let s = e.parse::<cron::Schedule>().map_err(|err| {
                Error::bad(field(file, "sync"), format!("expected a cron expression with seconds like \"0 0 6 * * *\", got {e:?} ({err})"))
            })?;
            Ok(Some((e.to_string(), s)))
        }
    }
}

fn attributes_of(file: &str, a: RawAttributes) -> Result<LdapAttributes, Error> {
    let attr = |k: &str, v: Option<String>, default: &str| -> Result<String, Error> {
        let v = v.unwrap_or_else(|| default.into()).trim().to_string();
        if v.is_empty()
            || !v
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == ';')
        {
            return Err(Error::bad(
                field(file, &format!("attributes.{k}")),
                format!("expected an attribute name like \"{default}\", got {v:?}"),
            ));
        }
        Ok(v)
    };
    Ok(LdapAttributes {
        employee_id: attr("employee_id", a.employee_id, "employeeID")?,
        name: attr("name", a.name, "displayName")?,
        email: attr("email", a.email, "mail")?,
        department: attr("department", a.department, "department")?,
    })
}

/// `[ldap.roles]`: a group's DN (by `dn_key`, so case and spaces do not matter) to a role.
fn roles_of(file: &str, raw: BTreeMap<String, String>) -> Result<BTreeMap<String, String>, Error> {
    let mut roles = BTreeMap::new();
    for (group, role) in raw {
        let r = role.trim().to_ascii_lowercase();
        if !ROLES.contains(&r.as_str()) {
            return Err(Error::bad(
                field(file, "roles"),
                format!(
                    "expected supervisor, it, hr or division_head for group {group:?}, got {role:?}"
                ),
            ));
        }
        if !group.contains('=') {
            return Err(Error::bad(
                field(file, "roles"),
                format!(
                    "expected a group's DN like \"CN=所属長,OU=Groups,DC=city,DC=example\", got {group:?}"
                ),
            ));
        }
        roles.insert(dn_key(&group), r);
    }
    Ok(roles)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(toml_text: &str) -> Result<LdapConfig, Error> {
        #[derive(Deserialize)]
        struct W {
            ldap: RawLdap,
        }
        let w: W = toml::from_str(toml_text).unwrap();
        ldap_config("zaitaku.toml", w.ldap)
    }

    const BASE: &str = "[ldap]\nurl = \"ldaps://ad.city.example\"\nbind_dn = \"CN=zaitaku,DC=city\"\nbind_password = \"pw\"\nbase_dn = \"OU=Staff,DC=city\"\n";

    #[test]
    fn a_plain_section_takes_the_active_directory_defaults() {
        let c = raw(BASE).unwrap();
        assert_eq!(c.tls, LdapTls::Ldaps);
        assert_eq!(c.user_filter, DEFAULT_USER_FILTER);
        assert_eq!(c.attributes.employee_id, "employeeID");
        assert!(
            !format!("{c:?}").contains("pw\""),
            "Debug shows no password"
        );
    }

    #[test]
    fn each_mistake_names_its_key() {
        let cases = [
            ("url = \"http://ad\"", "ldap.url"),
            ("user_filter = \"(uid=x)\"", "ldap.user_filter"),
            ("sync = \"every day\"", "ldap.sync"),
            ("roles = { \"CN=x,DC=city\" = \"king\" }", "ldap.roles"),
            ("roles = { \"admins\" = \"it\" }", "ldap.roles"),
            (
                "attributes = { name = \"display Name\" }",
                "ldap.attributes.name",
            ),
        ];
        for (line, key) in cases {
            let text = BASE.replace("url = \"ldaps://ad.city.example\"\n", "") + line + "\n";
            let text = if key == "ldap.url" {
                text
            } else {
                text + "url = \"ldap://ad\"\n"
            };
            let e = raw(&text).unwrap_err().to_string();
            assert!(e.contains(key), "{line}: {e}");
        }
    }

    #[test]
    fn group_dns_are_compared_without_case_or_spaces() {
        assert_eq!(
            dn_key("CN=所属長, OU=Groups ,DC=City"),
            "cn=所属長,ou=groups,dc=city"
        );
        let c = raw(&(BASE.to_string() + "[ldap.roles]\n\"CN=IT, OU=Groups,DC=city\" = \"it\"\n"))
            .unwrap();
        assert_eq!(
            c.roles.get("cn=it,ou=groups,dc=city"),
            Some(&"it".to_string())
        );
    }
}
