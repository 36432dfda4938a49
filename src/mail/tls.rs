//! TLS for `imaps://`, with the public CA roots (webpki-roots) and ring as the crypto provider.

use std::sync::{Arc, OnceLock};

use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::{ClientConfig, RootCertStore, pki_types::ServerName};

use crate::error::{Error, Result};

/// The public CA roots (webpki-roots).
pub fn public_roots() -> RootCertStore {
    RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    }
}

/// A client configuration trusting `roots`, with ring as the crypto provider: the one TLS
/// set-up of the tree (mail here, the directory in `ldap`).
pub fn client_config(roots: RootCertStore) -> Arc<ClientConfig> {
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let cfg = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(cfg)
}

fn config() -> Arc<ClientConfig> {
    static CONFIG: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    CONFIG.get_or_init(|| client_config(public_roots())).clone()
}

pub async fn connect(host: &str, tcp: TcpStream) -> Result<TlsStream<TcpStream>> {
    let name =
        ServerName::try_from(host.to_string()).map_err(|e| Error::Mail(format!("{host}: {e}")))?;
    TlsConnector::from(config())
        .connect(name, tcp)
        .await
        .map_err(|e| Error::Mail(format!("{host}: TLS: {e}")))
}
