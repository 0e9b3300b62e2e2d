//! HTTPS and WSS on `--listen`: rustls (aws-lc-rs, no OpenSSL) with a certificate that is read
//! again whenever its files change, so a renewed certificate (certbot, cert-manager, a cron
//! job) is served without a restart. A new pair that does not load (half written, a key that
//! does not match the certificate) is logged and the pair in use stays.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use anyhow::Context;
use tokio_rustls::rustls::crypto::{aws_lc_rs, CryptoProvider};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::{ClientHello, ResolvesServerCert};
use tokio_rustls::rustls::sign::CertifiedKey;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;

/// How often the certificate and key files are checked for a change.
pub const RELOAD_INTERVAL: Duration = Duration::from_secs(2);

/// The certificate chain and key files given with `--tls-cert` and `--tls-key`.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Serves whichever certificate was loaded last.
pub struct ReloadingCert {
    current: RwLock<Arc<CertifiedKey>>,
}

impl fmt::Debug for ReloadingCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReloadingCert").finish_non_exhaustive()
    }
}

impl ReloadingCert {
    fn current(&self) -> Arc<CertifiedKey> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn replace(&self, key: CertifiedKey) {
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(key);
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(aws_lc_rs::default_provider())
}

/// Reads a PEM certificate chain and a PEM private key (PKCS#8, PKCS#1 or SEC1) and checks
/// that the key belongs to the first certificate.
pub fn load(files: &TlsFiles, provider: &CryptoProvider) -> anyhow::Result<CertifiedKey> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .with_context(|| format!("cannot read {}", files.cert.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("{} is not a PEM certificate chain", files.cert.display()))?;
    anyhow::ensure!(
        !chain.is_empty(),
        "{} holds no PEM certificate",
        files.cert.display()
    );
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .with_context(|| format!("{} holds no PEM private key", files.key.display()))?;
    CertifiedKey::from_der(chain, key, provider).with_context(|| {
        format!(
            "the key {} does not fit the certificate {}",
            files.key.display(),
            files.cert.display()
        )
    })
}

/// The first DNS name the certificate in `files` is for (its subject alternative names), which
/// `turns:` URLs must name: a browser checks the TURN server's certificate against the URL.
pub fn certificate_name(files: &TlsFiles) -> Option<String> {
    let first = CertificateDer::pem_file_iter(&files.cert)
        .ok()?
        .next()?
        .ok()?;
    let (_, cert) = x509_parser::parse_x509_certificate(first.as_ref()).ok()?;
    let names = cert.subject_alternative_name().ok()??;
    names
        .value
        .general_names
        .iter()
        .find_map(|name| match name {
            x509_parser::extensions::GeneralName::DNSName(dns) => Some((*dns).to_owned()),
            _ => None,
        })
}

/// Whether the pair in `files` loads (for `--check-config`).
pub fn check(files: &TlsFiles) -> anyhow::Result<()> {
    load(files, &provider()).map(|_| ())
}

/// What identifies a version of the files: modification time and size of each.
fn stamp(files: &TlsFiles) -> Option<[(SystemTime, u64); 2]> {
    let of = |path: &Path| {
        let meta = std::fs::metadata(path).ok()?;
        Some((meta.modified().ok()?, meta.len()))
    };
    Some([of(&files.cert)?, of(&files.key)?])
}

/// An acceptor serving the pair in `files`, and the task that reloads it (runs until the
/// runtime ends). Fails when the pair does not load now.
pub fn acceptor(files: TlsFiles) -> anyhow::Result<TlsAcceptor> {
    let provider = provider();
    let first_stamp = stamp(&files);
    let certified = load(&files, &provider)?;
    let resolver = Arc::new(ReloadingCert {
        current: RwLock::new(Arc::new(certified)),
    });
    let mut config = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .context("the TLS provider supports no protocol version")?
        .with_no_client_auth()
        .with_cert_resolver(resolver.clone());
    // hyper serves HTTP/1.1 here (and WebSocket upgrades need it).
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    tokio::spawn(watch(files, provider, resolver, first_stamp));
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Checks the files every [`RELOAD_INTERVAL`]; loads them when they changed. A failed load
/// is logged once per change, and the certificate in use stays.
async fn watch(
    files: TlsFiles,
    provider: Arc<CryptoProvider>,
    resolver: Arc<ReloadingCert>,
    mut seen: Option<[(SystemTime, u64); 2]>,
) {
    let mut interval = tokio::time::interval(RELOAD_INTERVAL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        let now = stamp(&files);
        if now == seen {
            continue;
        }
        seen = now;
        if now.is_none() {
            tracing::error!(
                cert = %files.cert.display(),
                key = %files.key.display(),
                "TLS certificate or key file is missing; keeping the certificate in use"
            );
            continue;
        }
        match load(&files, &provider) {
            Ok(certified) => {
                resolver.replace(certified);
                tracing::info!(cert = %files.cert.display(), "TLS certificate reloaded");
            }
            Err(error) => tracing::error!(
                error = format!("{error:#}"),
                "cannot load the changed TLS certificate; keeping the one in use"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_pair(dir: &Path, name: &str) -> (TlsFiles, Vec<u8>) {
        let certified = rcgen::generate_simple_self_signed(vec![name.to_string()]).unwrap();
        let files = TlsFiles {
            cert: dir.join(format!("{name}.crt")),
            key: dir.join(format!("{name}.key")),
        };
        std::fs::write(&files.cert, certified.cert.pem()).unwrap();
        std::fs::write(&files.key, certified.signing_key.serialize_pem()).unwrap();
        (files, certified.cert.der().to_vec())
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("oriel-tls-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn the_certificate_name_is_its_first_dns_name() {
        let dir = temp_dir("name");
        let (files, _) = write_pair(&dir, "rtc.example.com");
        assert_eq!(certificate_name(&files).as_deref(), Some("rtc.example.com"));
        std::fs::write(&files.cert, "not a certificate").unwrap();
        assert_eq!(certificate_name(&files), None);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn loads_a_pair_and_refuses_a_key_of_another_certificate() {
        let dir = temp_dir("pair");
        let (a, a_der) = write_pair(&dir, "a.example");
        let (b, _) = write_pair(&dir, "b.example");
        let loaded = load(&a, &provider()).unwrap();
        assert_eq!(loaded.cert[0].as_ref(), &a_der[..]);
        let mixed = TlsFiles {
            cert: a.cert.clone(),
            key: b.key.clone(),
        };
        let error = format!("{:#}", load(&mixed, &provider()).unwrap_err());
        assert!(error.contains("does not fit"), "{error}");
        std::fs::write(&a.cert, "not a certificate").unwrap();
        assert!(load(&a, &provider()).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn serves_a_changed_pair_and_keeps_the_old_one_when_the_new_one_is_bad() {
        let dir = temp_dir("reload");
        let (files, first_der) = write_pair(&dir, "first.example");
        let provider = provider();
        let resolver = Arc::new(ReloadingCert {
            current: RwLock::new(Arc::new(load(&files, &provider).unwrap())),
        });
        let task = tokio::spawn(watch(
            files.clone(),
            provider.clone(),
            resolver.clone(),
            stamp(&files),
        ));
        // A bad certificate: the first one stays.
        std::fs::write(&files.cert, "garbage").unwrap();
        tokio::time::sleep(RELOAD_INTERVAL * 2).await;
        assert_eq!(resolver.current().cert[0].as_ref(), &first_der[..]);
        // A good new pair is picked up.
        let (second, second_der) = write_pair(&dir, "second.example");
        std::fs::rename(&second.cert, &files.cert).unwrap();
        std::fs::rename(&second.key, &files.key).unwrap();
        tokio::time::sleep(RELOAD_INTERVAL * 2).await;
        assert_eq!(resolver.current().cert[0].as_ref(), &second_der[..]);
        task.abort();
        let _ = std::fs::remove_dir_all(&dir);
    }
}
