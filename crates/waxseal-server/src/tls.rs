//! HTTPS: the certificate and key loaded once at start-up into the rustls (aws-lc-rs provider) configuration the
//! listener hands each connection's handshake to (see the `listener` module: plain and TLS connections are served
//! by the same code, with the same limits).
//!
//! Errors at start-up name the file and the flag to fix; a private key that does not belong to the certificate
//! is refused before the port is served, instead of failing every handshake later.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::ServerConfig;

use crate::config::TlsFiles;
use crate::error::{Error, Result};

fn read(path: &Path, what: &str, flag: &str) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| {
        Error::config(format!(
            "cannot read the TLS {what} {}: {e}; check {flag}",
            path.display()
        ))
    })
}

/// Reads and checks the certificate chain and key: the rustls configuration to serve with.
pub(crate) fn load(files: &TlsFiles) -> Result<Arc<ServerConfig>> {
    let cert_pem = read(&files.cert, "certificate", "--tls-cert / WAXSEAL_TLS_CERT")?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| {
            Error::config(format!(
                "the TLS certificate file {} is not valid PEM ({e}); it must hold the certificate chain, \
                 leaf first, as -----BEGIN CERTIFICATE----- blocks",
                files.cert.display()
            ))
        })?;
    if chain.is_empty() {
        return Err(Error::config(format!(
            "the TLS certificate file {} holds no -----BEGIN CERTIFICATE----- block; --tls-cert takes the \
             certificate chain in PEM (did you swap it with the key?)",
            files.cert.display()
        )));
    }
    let key_pem = zeroize::Zeroizing::new(read(
        &files.key,
        "private key",
        "--tls-key / WAXSEAL_TLS_KEY",
    )?);
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|_| {
        Error::config(format!(
            "the TLS key file {} holds no PEM private key (PKCS#8 \"PRIVATE KEY\", SEC1 \"EC PRIVATE KEY\" or \
             PKCS#1 \"RSA PRIVATE KEY\"); --tls-key takes the certificate's private key, unencrypted",
            files.key.display()
        ))
    })?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::crypto(format!("TLS set-up failed: {e}")))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| match e {
            rustls::Error::InconsistentKeys(_) => Error::config(format!(
                "the TLS private key {} does not belong to the certificate {}; give --tls-key the key the \
                 certificate was issued for",
                files.key.display(),
                files.cert.display()
            )),
            other => Error::config(format!(
                "the TLS certificate {} and key {} cannot be used together: {other}",
                files.cert.display(),
                files.key.display()
            )),
        })?;
    // The server speaks HTTP/1.1 only; saying so lets clients that offer h2 fall back at once.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
