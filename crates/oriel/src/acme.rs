//! Automatic certificates (ACME, RFC 8555) for a node with a public name: `--acme-domain`
//! instead of `--tls-cert`/`--tls-key`. The certificate is ordered from Let's Encrypt (or the
//! `--acme-directory` given), proven with the TLS-ALPN-01 challenge on `--listen` itself (no
//! port 80 needed: the CA connects to the domain's port 443 asking for `acme-tls/1`), kept under
//! `--data-dir/acme` so a restart serves it at once, and renewed before it expires, all by
//! rustls-acme driven on a task of its own.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use futures_util::StreamExt;
use rustls_acme::caches::DirCache;
use rustls_acme::AcmeConfig;
use tokio_rustls::rustls::crypto::aws_lc_rs;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::CertificateDer;
use tokio_rustls::rustls::{ClientConfig, RootCertStore, ServerConfig};
use tokio_rustls::TlsAcceptor;

/// The ALPN protocol of a TLS-ALPN-01 validation connection (RFC 8737): answered by the
/// handshake alone, then closed.
pub const CHALLENGE_ALPN: &[u8] = b"acme-tls/1";

/// Let's Encrypt's production directory, the default CA.
pub const LETS_ENCRYPT: &str = "https://acme-v02.api.letsencrypt.org/directory";

/// What `--acme-*` give.
#[derive(Clone, Debug)]
pub struct AcmeSettings {
    /// The names the certificate covers; each must resolve to this node, port 443 reaching
    /// `--listen`.
    pub domains: Vec<String>,
    /// `mailto:` addresses the CA may write to about the certificate (expiry, revocation).
    pub contacts: Vec<String>,
    /// The CA's ACME directory URL.
    pub directory: String,
    /// A PEM file of extra roots to trust when talking to the CA (a private CA, a test one).
    pub ca_file: Option<PathBuf>,
}

/// An acceptor that serves the ordered certificate (none until the first arrives: handshakes
/// fail until then) and answers the CA's validation, and the task that orders and renews it.
pub fn acceptor(settings: &AcmeSettings, data_dir: &Path) -> anyhow::Result<TlsAcceptor> {
    anyhow::ensure!(!settings.domains.is_empty(), "--acme-domain is needed");
    let provider = Arc::new(aws_lc_rs::default_provider());
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = &settings.ca_file {
        for cert in CertificateDer::pem_file_iter(path)
            .with_context(|| format!("cannot read {}", path.display()))?
        {
            let cert = cert.with_context(|| format!("{} is not PEM", path.display()))?;
            roots.add(cert).with_context(|| {
                format!("{} holds a certificate rustls refuses", path.display())
            })?;
        }
    }
    let client = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .context("the TLS provider supports no protocol version")?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let cache = data_dir.join("acme");
    let mut state = AcmeConfig::new_with_client_config(&settings.domains, Arc::new(client))
        .contact(&settings.contacts)
        .directory(&settings.directory)
        .cache(DirCache::new(cache))
        .state();
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("the TLS provider supports no protocol version")?
        .with_no_client_auth()
        .with_cert_resolver(state.resolver());
    // hyper serves HTTP/1.1 (WebSocket upgrades need it); the CA's validation asks acme-tls/1.
    config.alpn_protocols = vec![b"http/1.1".to_vec(), CHALLENGE_ALPN.to_vec()];
    let domains = settings.domains.clone();
    tokio::spawn(async move {
        // The stream orders, validates, deploys and renews; it never ends.
        while let Some(event) = state.next().await {
            match event {
                Ok(done) => tracing::info!(?domains, event = ?done, "ACME certificate"),
                Err(error) => {
                    tracing::error!(?domains, error = ?error, "ACME certificate order failed; retrying")
                }
            }
        }
    });
    Ok(TlsAcceptor::from(Arc::new(config)))
}
