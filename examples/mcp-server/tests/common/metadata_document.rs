//! A client ID metadata document served over https from 127.0.0.1, as an MCP client's publisher would host it: a
//! certificate for `localhost` issued by a test CA, whose PEM file the auth server is told to trust
//! (`client_metadata_ca_file`, the `--client-metadata-ca` flag).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio_rustls::TlsAcceptor;

/// The longest request head read: a fetch of a document is one short GET.
const MAX_HEAD: usize = 16 * 1024;

/// The document's server; stops when dropped.
pub struct MetadataDocument {
    /// `https://localhost:PORT/PATH`: the client id, and where the document is.
    pub url: String,
    /// The test CA's certificate (PEM).
    pub ca_file: PathBuf,
    task: tokio::task::JoinHandle<()>,
}

impl MetadataDocument {
    /// Serves `document(url)` at `path` (404 elsewhere), writing the CA certificate into `dir`.
    pub async fn serve(dir: &Path, path: &str, document: impl FnOnce(&str) -> Value) -> Self {
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "waxseal MCP example test CA");
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign];
        let ca_key = KeyPair::generate().unwrap();
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);
        let leaf_params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        let leaf_key = KeyPair::generate().unwrap();
        let leaf = leaf_params.signed_by(&leaf_key, &issuer).unwrap();
        let ca_file = dir.join("metadata-ca.pem");
        std::fs::write(&ca_file, ca_cert.pem()).unwrap();

        let tls = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(leaf.der().to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
        )
        .unwrap();
        let acceptor = TlsAcceptor::from(Arc::new(tls));
        let listener = super::bind().await;
        let url = format!(
            "https://localhost:{}{path}",
            listener.local_addr().unwrap().port()
        );
        let response: Arc<str> = {
            let body = document(&url).to_string();
            format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n{body}",
                body.len()
            )
            .into()
        };
        let path = path.to_owned();
        let task = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, response, path) = (acceptor.clone(), response.clone(), path.clone());
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let Some(asked) = request_path(&mut tls).await else {
                        return;
                    };
                    let answer = if asked == path {
                        &*response
                    } else {
                        "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    };
                    let _ = tls.write_all(answer.as_bytes()).await;
                    let _ = tls.shutdown().await;
                });
            }
        });
        MetadataDocument { url, ca_file, task }
    }
}

impl Drop for MetadataDocument {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The path of the request line, once the whole head is in.
async fn request_path<S: tokio::io::AsyncRead + Unpin>(stream: &mut S) -> Option<String> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await.ok()?;
        if n == 0 || head.len() > MAX_HEAD {
            return None;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&head).lines().next()?.to_owned();
    line.split(' ').nth(1).map(str::to_owned)
}
