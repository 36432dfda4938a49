//! The city's directory over LDAP (SPEC §12), through the `ldap3` crate: no LDAP wire code
//! here. Two questions are asked of it: is this login's password right (`authenticate`: the
//! search account finds the entry, then a bind as that entry checks the password), and who
//! works here (`people`: every entry the user filter matches, a page at a time, as Active
//! Directory hands out at most 1,000 entries per page).
//!
//! The connection is always TLS (`ldaps://`, or StartTLS on `ldap://`), verified against the
//! public roots and the city's own CA (`ca_file`). Every step is bounded by the configured
//! timeout, so a directory that stops answering is an error within seconds, not a hung login.

use std::collections::HashMap;
use std::sync::Arc;

use ldap3::adapters::{EntriesOnly, PagedResults};
use ldap3::{LdapConnAsync, LdapConnSettings, Scope, SearchEntry};
use tokio_rustls::rustls::ClientConfig;
use tokio_rustls::rustls::pki_types::CertificateDer;
use tokio_rustls::rustls::pki_types::pem::PemObject;

use crate::config::{LdapConfig, LdapTls};
use crate::error::{Error, Result};

/// LDAP result codes a bind answers a wrong password (or a locked, expired or disabled
/// account) with: invalidCredentials (49), and unwillingToPerform (53), which some servers
/// give for a disabled account. Anything else is the directory failing, not the person.
const REFUSED: &[u32] = &[49, 53];

/// One entry of the directory, as zaitaku reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub dn: String,
    pub employee_id: Option<String>,
    pub name: Option<String>,
    pub emails: Vec<String>,
    pub department: Option<String>,
    /// The `memberOf` values: the DNs of the person's groups.
    pub groups: Vec<String>,
}

fn tls_config(cfg: &LdapConfig) -> Result<Arc<ClientConfig>> {
    let mut roots = crate::mail::tls::public_roots();
    if let Some(path) = &cfg.ca_file {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
            .and_then(|it| it.collect::<std::result::Result<_, _>>())
            .map_err(|e| {
                Error::bad(
                    "ldap.ca_file",
                    format!("{}: expected PEM certificates ({e})", path.display()),
                )
            })?;
        if certs.is_empty() {
            return Err(Error::bad(
                "ldap.ca_file",
                format!("{}: expected PEM certificates, found none", path.display()),
            ));
        }
        for c in certs {
            roots
                .add(c)
                .map_err(|e| Error::bad("ldap.ca_file", format!("{}: {e}", path.display())))?;
        }
    }
    Ok(crate::mail::tls::client_config(roots))
}

fn unreachable(cfg: &LdapConfig, what: &str, e: impl std::fmt::Display) -> Error {
    Error::Directory(format!("{}: {what}: {e}", cfg.url))
}

/// A connection, over TLS, not yet bound.
async fn connect(cfg: &LdapConfig) -> Result<ldap3::Ldap> {
    let settings = LdapConnSettings::new()
        .set_conn_timeout(cfg.timeout)
        .set_config(tls_config(cfg)?)
        .set_starttls(cfg.tls == LdapTls::StartTls);
    let (conn, mut ldap) = LdapConnAsync::with_settings(settings, &cfg.url)
        .await
        .map_err(|e| unreachable(cfg, "connect", e))?;
    ldap3::drive!(conn);
    ldap.with_timeout(cfg.timeout);
    Ok(ldap)
}

/// Connected and bound as the search account.
async fn search_account(cfg: &LdapConfig) -> Result<ldap3::Ldap> {
    let mut ldap = connect(cfg).await?;
    let r = ldap
        .simple_bind(&cfg.bind_dn, &cfg.bind_password)
        .await
        .map_err(|e| unreachable(cfg, "bind as ldap.bind_dn", e))?;
    if r.rc != 0 {
        return Err(Error::Directory(format!(
            "{}: the search account ldap.bind_dn was refused (result {}: {})",
            cfg.url, r.rc, r.text
        )));
    }
    ldap.with_timeout(cfg.timeout);
    Ok(ldap)
}

/// The attributes asked for: the mapped ones and the groups.
fn wanted(cfg: &LdapConfig) -> Vec<String> {
    let a = &cfg.attributes;
    vec![
        a.employee_id.clone(),
        a.name.clone(),
        a.email.clone(),
        a.department.clone(),
        "memberOf".into(),
    ]
}

/// The user filter for one typed login (escaped: `*`, `(`, `)`, `\` and NUL typed into the
/// login form are literal characters, never filter syntax).
pub fn filter_for(cfg: &LdapConfig, login: &str) -> String {
    cfg.user_filter
        .replace("{login}", &ldap3::ldap_escape(login))
}

/// The filter for everyone: the user filter with `*` (a presence test) for the login.
pub fn filter_for_everyone(cfg: &LdapConfig) -> String {
    cfg.user_filter.replace("{login}", "*")
}

fn person(cfg: &LdapConfig, e: SearchEntry) -> Person {
    // Servers answer with the schema's spelling of a name (`employeeID` for `employeeid`).
    let attrs: HashMap<String, Vec<String>> = e
        .attrs
        .into_iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .collect();
    let all = |name: &str| -> Vec<String> {
        attrs
            .get(&name.to_ascii_lowercase())
            .map(|v| {
                v.iter()
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    };
    let one = |name: &str| all(name).into_iter().next();
    let a = &cfg.attributes;
    Person {
        dn: e.dn,
        employee_id: one(&a.employee_id),
        name: one(&a.name),
        emails: all(&a.email),
        department: one(&a.department),
        groups: all("memberOf"),
    }
}

/// Checks a login's password against the directory. `Ok(None)`: no such person, more than
/// one, or the password is wrong: the caller answers all three alike. `Err`: the directory
/// could not be asked (down, TLS refused, the search account refused).
pub async fn authenticate(cfg: &LdapConfig, login: &str, password: &str) -> Result<Option<Person>> {
    // An empty password is an "unauthenticated bind" (RFC 4513 §5.1.2), which many servers
    // answer with success for any DN: it must never reach the directory as a login.
    if login.is_empty() || password.is_empty() {
        return Ok(None);
    }
    let mut ldap = search_account(cfg).await?;
    let (entries, _) = ldap
        .search(
            &cfg.base_dn,
            Scope::Subtree,
            &filter_for(cfg, login),
            wanted(cfg),
        )
        .await
        .and_then(|r| r.success())
        .map_err(|e| unreachable(cfg, "search", e))?;
    let mut found: Vec<SearchEntry> = entries
        .into_iter()
        .filter(|e| !e.is_ref())
        .map(SearchEntry::construct)
        .collect();
    if found.len() != 1 {
        let _ = ldap.unbind().await;
        return Ok(None);
    }
    let entry = found.remove(0);
    let r = ldap
        .simple_bind(&entry.dn, password)
        .await
        .map_err(|e| unreachable(cfg, "bind", e))?;
    let _ = ldap.unbind().await;
    if REFUSED.contains(&r.rc) {
        return Ok(None);
    }
    if r.rc != 0 {
        return Err(Error::Directory(format!(
            "{}: bind answered result {}: {}",
            cfg.url, r.rc, r.text
        )));
    }
    Ok(Some(person(cfg, entry)))
}

/// Everyone the user filter matches under `base_dn`, 500 entries a page.
pub async fn people(cfg: &LdapConfig) -> Result<Vec<Person>> {
    let mut ldap = search_account(cfg).await?;
    let adapters: Vec<Box<dyn ldap3::adapters::Adapter<_, _>>> = vec![
        Box::new(EntriesOnly::new()),
        Box::new(PagedResults::new(500)),
    ];
    let mut stream = ldap
        .streaming_search_with(
            adapters,
            &cfg.base_dn,
            Scope::Subtree,
            &filter_for_everyone(cfg),
            wanted(cfg),
        )
        .await
        .map_err(|e| unreachable(cfg, "search", e))?;
    let mut out = Vec::new();
    while let Some(entry) = stream
        .next()
        .await
        .map_err(|e| unreachable(cfg, "search", e))?
    {
        out.push(person(cfg, SearchEntry::construct(entry)));
    }
    stream
        .finish()
        .await
        .success()
        .map_err(|e| unreachable(cfg, "search", e))?;
    let _ = ldap.unbind().await;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> LdapConfig {
        let text = "[ldap]\nurl = \"ldaps://ad.city.example\"\nbind_dn = \"CN=z,DC=c\"\nbind_password = \"pw\"\nbase_dn = \"DC=c\"\n";
        crate::config::Config::from_strs(None, text, crate::config::EMBEDDED_DEPARTMENTS_TOML)
            .unwrap()
            .ldap
            .unwrap()
    }

    #[test]
    fn a_typed_login_cannot_widen_the_filter() {
        let c = cfg();
        assert_eq!(filter_for(&c, "yamada"), "(sAMAccountName=yamada)");
        assert_eq!(filter_for(&c, "*"), "(sAMAccountName=\\2a)");
        assert_eq!(
            filter_for(&c, "x)(|(sAMAccountName=*"),
            "(sAMAccountName=x\\29\\28|\\28sAMAccountName=\\2a)"
        );
        assert_eq!(filter_for_everyone(&c), "(sAMAccountName=*)");
    }
}
