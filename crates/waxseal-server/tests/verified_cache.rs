//! The verified-token cache seen from outside: it makes a repeated token cheap and never makes a token valid that
//! the verifier (or the denylist) refuses — revoked, expired, forged, or verified under keys since changed.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{TestClock, TestServer, assert_invalid_token, config};
use waxseal_server::Config;

/// The verifier's leeway on `exp`, which the cache must apply exactly the same way.
const LEEWAY: Duration = Duration::from_secs(60);

#[tokio::test]
async fn a_repeated_token_is_verified_once_and_shares_its_claims() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), TestClock::new()).await;
    server.add_user("alice", &["read"]).await;
    let (access, _) = server.login_ok("alice").await;
    assert_eq!(server.service.verified_tokens_cached(), 0);

    let (status, _, first) = server.get_with("/api/me", &access).await;
    assert_eq!(status, 200);
    assert_eq!(server.service.verified_tokens_cached(), 1);
    let (status, _, second) = server.get_with("/api/me", &access).await;
    assert_eq!(status, 200);
    assert_eq!(
        first, second,
        "a hit answers exactly what a verification did"
    );
    assert_eq!(server.service.verified_tokens_cached(), 1);

    let a = server.service.verify_access(&access).unwrap();
    let b = server.service.verify_access(&access).unwrap();
    assert!(Arc::ptr_eq(&a, &b), "a hit hands out the cached claims");
    server.stop().await;
}

#[tokio::test]
async fn a_cached_token_revoked_later_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), TestClock::new()).await;
    server.add_user("bob", &[]).await;

    // Logout denies the token's jti and its session.
    let (access, _) = server.login_ok("bob").await;
    assert_eq!(server.get_with("/api/me", &access).await.0, 200);
    assert_eq!(server.logout(&access, None, false).await, 204);
    let (status, challenge, _) = server.get_with("/api/me", &access).await;
    assert_invalid_token(status, challenge.as_deref(), "revoked");

    // Disabling the user ends every session (the user's "not before"), cached tokens included.
    let (access, _) = server.login_ok("bob").await;
    assert_eq!(server.get_with("/api/me", &access).await.0, 200);
    assert!(server.service.verified_tokens_cached() >= 1);
    server.service.set_user_disabled("bob", true).await.unwrap();
    let (status, challenge, _) = server.get_with("/api/me", &access).await;
    assert_invalid_token(status, challenge.as_deref(), "revoked");
    server.stop().await;
}

#[tokio::test]
async fn a_cached_token_expires_exactly_when_the_verifier_says() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new();
    let ttl = Duration::from_secs(300);
    let server = TestServer::start_with(
        Config {
            access_token_ttl: ttl,
            ..config(dir.path())
        },
        clock.clone(),
    )
    .await;
    server.add_user("carol", &[]).await;
    let (access, _) = server.login_ok("carol").await;
    assert_eq!(server.get_with("/api/me", &access).await.0, 200);
    assert_eq!(server.service.verified_tokens_cached(), 1);

    clock.advance(ttl + LEEWAY);
    assert_eq!(
        server.get_with("/api/me", &access).await.0,
        200,
        "the last second of the leeway still counts, as in the verifier"
    );
    clock.advance(Duration::from_secs(1));
    let (status, challenge, _) = server.get_with("/api/me", &access).await;
    assert_invalid_token(status, challenge.as_deref(), "expired");
    assert_eq!(
        server.service.verified_tokens_cached(),
        0,
        "the expired entry is dropped"
    );
    server.stop().await;
}

/// Every byte string a flood could send that is not a token this server signed: none is inserted, none evicts.
#[tokio::test]
async fn tokens_that_fail_verification_are_never_cached() {
    let dir = tempfile::tempdir().unwrap();
    let other_dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), TestClock::new()).await;
    // Another server: same issuer and audience, its own key.
    let impostor = TestServer::start(other_dir.path(), TestClock::new()).await;
    server.add_user("dave", &[]).await;
    impostor.add_user("dave", &[]).await;
    let (access, _) = server.login_ok("dave").await;
    assert_eq!(server.get_with("/api/me", &access).await.0, 200);

    let mut forged = Vec::new();
    for _ in 0..20 {
        forged.push(impostor.login_ok("dave").await.0);
    }
    let (head, signature) = access.rsplit_once('.').unwrap();
    for i in 0..20_u8 {
        // Same header and claims, another signature of the right length.
        let mut bytes = signature.as_bytes().to_vec();
        bytes[usize::from(i)] = if bytes[usize::from(i)] == b'A' {
            b'B'
        } else {
            b'A'
        };
        forged.push(format!("{head}.{}", String::from_utf8(bytes).unwrap()));
        forged.push(format!("{head}.{signature}{}", char::from(b'a' + i)));
        forged.push(format!("garbage.{i}.token"));
    }
    for token in &forged {
        let (status, _, _) = server.get_with("/api/me", token).await;
        assert_eq!(status, 401);
    }
    assert_eq!(
        server.service.verified_tokens_cached(),
        1,
        "only the genuine token is cached"
    );
    assert_eq!(server.get_with("/api/me", &access).await.0, 200);
    impostor.stop().await;
    server.stop().await;
}

#[tokio::test]
async fn a_key_set_change_empties_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), TestClock::new()).await;
    server.add_user("erin", &[]).await;
    let (access, _) = server.login_ok("erin").await;
    assert_eq!(server.get_with("/api/me", &access).await.0, 200);
    assert_eq!(server.service.verified_tokens_cached(), 1);
    let before = server.service.verify_access(&access).unwrap();

    server.service.verifying_keys_changed();
    assert_eq!(server.service.verified_tokens_cached(), 0);
    let after = server.service.verify_access(&access).unwrap();
    assert!(
        !Arc::ptr_eq(&before, &after),
        "verified again under the current keys"
    );
    assert_eq!(*before, *after);
    server.stop().await;
}

#[tokio::test]
async fn with_the_cache_off_every_request_is_verified() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_with(
        Config {
            verified_token_cache: 0,
            ..config(dir.path())
        },
        TestClock::new(),
    )
    .await;
    server.add_user("frank", &[]).await;
    let (access, _) = server.login_ok("frank").await;
    for _ in 0..3 {
        assert_eq!(server.get_with("/api/me", &access).await.0, 200);
    }
    assert_eq!(server.service.verified_tokens_cached(), 0);
    let a = server.service.verify_access(&access).unwrap();
    let b = server.service.verify_access(&access).unwrap();
    assert!(!Arc::ptr_eq(&a, &b));
    server.stop().await;
}

/// Many requests in flight on several cores with one token while it is revoked: every request that starts after
/// the logout has answered is refused, and none fails any other way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_see_a_revocation_as_soon_as_it_is_made() {
    let dir = tempfile::tempdir().unwrap();
    let server = Arc::new(TestServer::start(dir.path(), TestClock::new()).await);
    server.add_user("grace", &[]).await;
    let (access, _) = server.login_ok("grace").await;
    let (other, _) = server.login_ok("grace").await;

    let hammer = |token: String| {
        let server = server.clone();
        tokio::spawn(async move {
            let mut statuses = Vec::new();
            for _ in 0..100 {
                statuses.push(server.get_with("/api/me", &token).await.0);
            }
            statuses
        })
    };
    let before: Vec<_> = (0..4).map(|_| hammer(access.clone())).collect();
    let mut ok_before = 0;
    for task in before {
        let statuses = task.await.unwrap();
        assert!(statuses.iter().all(|&s| s == 200), "{statuses:?}");
        ok_before += statuses.len();
    }
    assert_eq!(ok_before, 400);

    let during: Vec<_> = (0..4).map(|_| hammer(access.clone())).collect();
    let untouched = hammer(other.clone());
    assert_eq!(server.logout(&access, None, false).await, 204);
    let after: Vec<_> = (0..4).map(|_| hammer(access.clone())).collect();
    for task in during {
        let statuses = task.await.unwrap();
        assert!(
            statuses.iter().all(|&s| s == 200 || s == 401),
            "{statuses:?}"
        );
        // Once refused, never accepted again.
        if let Some(first) = statuses.iter().position(|&s| s == 401) {
            assert!(statuses[first..].iter().all(|&s| s == 401), "{statuses:?}");
        }
    }
    for task in after {
        let statuses = task.await.unwrap();
        assert!(statuses.iter().all(|&s| s == 401), "{statuses:?}");
    }
    // The other session's token shares the user but not the session: unaffected.
    let statuses = untouched.await.unwrap();
    assert!(statuses.iter().all(|&s| s == 200), "{statuses:?}");
    let Ok(server) = Arc::try_unwrap(server) else {
        panic!("a request task still holds the server");
    };
    server.stop().await;
}
