//! What the first start leaves on disk, and what a later start with the wrong master key says.

mod common;

use common::{TestClock, TestServer, config};
use waxseal_server::{ErrorKind, MasterKey, Server};

#[cfg(unix)]
#[tokio::test]
async fn first_start_creates_a_private_data_dir_a_key_file_and_an_encrypted_key() {
    use std::os::unix::fs::PermissionsExt as _;
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("data");
    let server = TestServer::start(&dir, TestClock::new()).await;
    let kid = server.service.signing_kid();
    server.stop().await;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join("master.key")), 0o600);
    assert!(dir.join("waxseal.db").exists());
    // The private key is stored encrypted: no JWK text anywhere in the database files.
    let mut raw = Vec::new();
    for (name, bytes) in waxseal_testkit::read_files(&dir) {
        if name.to_string_lossy().starts_with("waxseal.db") {
            raw.extend(bytes);
        }
    }
    let raw = String::from_utf8_lossy(&raw);
    assert!(raw.contains(&kid), "the kid is stored in clear");
    assert!(
        !raw.contains("\"kty\"") && !raw.contains("\"d\""),
        "private JWK stored in clear"
    );
}

#[tokio::test]
async fn a_wrong_master_key_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    TestServer::start(dir.path(), TestClock::new())
        .await
        .stop()
        .await;
    let config = waxseal_server::Config {
        master_key: Some(MasterKey::parse(&"11".repeat(32)).unwrap()),
        ..config(dir.path())
    };
    let err = Server::open(config).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(err.message().contains("master key"), "{err}");
}

#[tokio::test]
async fn a_configured_master_key_needs_no_key_file() {
    let dir = tempfile::tempdir().unwrap();
    let key = MasterKey::parse(&"22".repeat(32)).unwrap();
    let config = waxseal_server::Config {
        master_key: Some(key.clone()),
        ..config(dir.path())
    };
    let kid = {
        let server = Server::open(config.clone()).await.unwrap();
        let kid = server.service().signing_kid();
        server.close().await;
        kid
    };
    assert!(!dir.path().join("master.key").exists());
    let server = Server::open(config).await.unwrap();
    assert_eq!(server.service().signing_kid(), kid);
    server.close().await;
}

#[tokio::test]
async fn an_access_token_lifetime_over_an_hour_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let config = waxseal_server::Config {
        access_token_ttl: std::time::Duration::from_secs(2 * 3600),
        ..config(dir.path())
    };
    let err = Server::open(config).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(
        !dir.path().join("waxseal.db").exists(),
        "nothing created for a refused config"
    );
}
