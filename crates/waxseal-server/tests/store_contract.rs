//! The store contract: one body per property, run against both backends — SQLite in a temporary file and a fresh
//! PostgreSQL database — so that the flows in `service` behave the same whichever one an operator picks.
//! Each body gets two handles on the same database (`a`, `b`), as two processes would have.
// The bodies shared by the SQLite and PostgreSQL variants are plain functions, not `#[test]`s.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashSet;
use std::sync::Arc;

use waxseal_server::store::postgres::PostgresStore;
use waxseal_server::store::sqlite::SqliteStore;
use waxseal_server::store::{
    AppSessionStart, Client, GrantType, Logout, LogoutScope, Profile, Prunable, RefreshTokenRecord,
    Resource, ReuseAllowance, Rotation, SsoSession, Store, StoreError, StoredKey, TokenFamily,
    UsedCode, User, WebClient,
};

use waxseal_testkit::postgres::TestDatabase;

type Shared = Arc<dyn Store>;

const NOW: u64 = 1_700_000_000;

fn user(id: &str, name: &str) -> User {
    User {
        id: id.into(),
        username: name.into(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        disabled: false,
        scopes: vec!["read".into(), "write".into()],
        created_at: NOW,
        profile: Profile {
            email: Some(format!("{name}@example.com")),
            name: None,
        },
    }
}

/// A client's public encryption key as stored (the store keeps the text; the service checks it at registration).
const ENCRYPTION_JWK: &str =
    r#"{"kty":"RSA","alg":"RSA-OAEP-256","kid":"rp-enc","n":"AQAB","e":"AQAB"}"#;

fn client(id: &str, name: &str) -> Client {
    Client {
        client_id: id.into(),
        secret_hash: [7; 32],
        name: name.into(),
        grant_types: vec![GrantType::Password, GrantType::RefreshToken],
        scopes: vec!["read".into()],
        created_at: NOW,
        may_introspect: false,
        web: WebClient::default(),
        encrypt_access_tokens: false,
        require_dpop: false,
    }
}

fn family(sid: &str, user_id: &str, client_id: Option<&str>) -> TokenFamily {
    TokenFamily {
        sid: sid.into(),
        user_id: user_id.into(),
        created_at: NOW,
        expires_at: NOW + 1000,
        revoked_at: None,
        client_id: client_id.map(Into::into),
        scope: client_id.map(|_| "read".into()),
        // A client's session bound to a DPoP key: every read of the family must carry the binding back.
        dpop_jkt: client_id.map(|_| "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs".into()),
        // And to a resource (RFC 8707): a refresh keeps the audience only if every read carries it back.
        resource: client_id.map(|_| "https://mcp.example/mcp".into()),
    }
}

fn resource(uri: &str, scopes: &[&str]) -> Resource {
    Resource {
        uri: uri.into(),
        scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        created_at: NOW,
    }
}

async fn resources(a: Shared, b: Shared) {
    a.create_resource(&resource("https://mcp.example/mcp", &["read"]))
        .await
        .unwrap();
    a.create_resource(&resource("https://api.example", &["read", "write"]))
        .await
        .unwrap();
    assert!(matches!(
        b.create_resource(&resource("https://api.example", &["x"]))
            .await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(
        b.resource_by_uri("https://api.example").await.unwrap(),
        Some(resource("https://api.example", &["read", "write"]))
    );
    assert_eq!(
        b.resource_by_uri("https://api.example/").await.unwrap(),
        None,
        "compared exactly, never normalized"
    );
    let uris: Vec<String> = b
        .list_resources()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.uri)
        .collect();
    assert_eq!(uris, ["https://api.example", "https://mcp.example/mcp"]);
    assert!(a.delete_resource("https://api.example").await.unwrap());
    assert!(!a.delete_resource("https://api.example").await.unwrap());
    assert_eq!(b.list_resources().await.unwrap().len(), 1);
}

fn token(byte: u8, sid: &str, expires_at: u64) -> RefreshTokenRecord {
    RefreshTokenRecord {
        hash: [byte; 32],
        sid: sid.into(),
        created_at: NOW,
        expires_at,
    }
}

fn key(kid: &str, created_at: u64, activates_at: u64) -> StoredKey {
    StoredKey {
        kid: kid.into(),
        alg: "ES256".into(),
        encrypted_private_key: vec![1, 2, 3, kid.len() as u8],
        created_at,
        activates_at,
    }
}

async fn with_session(store: &Shared, sid: &str, first: u8) {
    store
        .create_session(&family(sid, "u1", None), &token(first, sid, NOW + 100))
        .await
        .unwrap();
}

async fn users(a: Shared, b: Shared) {
    a.create_user(&user("u2", "zoe")).await.unwrap();
    a.create_user(&user("u1", "alice")).await.unwrap();
    assert!(matches!(
        b.create_user(&user("u3", "alice")).await,
        Err(StoreError::Conflict)
    ));
    let alice = b.user_by_name("alice").await.unwrap().unwrap();
    assert_eq!(
        (
            alice.id.as_str(),
            alice.scopes.clone(),
            alice.disabled,
            alice.created_at
        ),
        (
            "u1",
            vec!["read".to_owned(), "write".to_owned()],
            false,
            NOW
        )
    );
    assert_eq!(b.user_by_id("u2").await.unwrap().unwrap().username, "zoe");
    assert!(b.user_by_name("nobody").await.unwrap().is_none());
    assert!(b.user_by_id("nobody").await.unwrap().is_none());
    let names: Vec<String> = b
        .list_users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.username)
        .collect();
    assert_eq!(names, ["alice", "zoe"]);

    assert!(a.set_user_disabled("alice", true).await.unwrap());
    assert!(b.user_by_id("u1").await.unwrap().unwrap().disabled);
    assert!(a.set_user_disabled("alice", false).await.unwrap());
    assert!(!b.user_by_id("u1").await.unwrap().unwrap().disabled);
    assert!(!a.set_user_disabled("nobody", true).await.unwrap());

    assert!(a.set_password_hash("u1", "$argon2id$new").await.unwrap());
    assert_eq!(
        b.user_by_id("u1").await.unwrap().unwrap().password_hash,
        "$argon2id$new"
    );
    assert!(!a.set_password_hash("nobody", "x").await.unwrap());

    // Deleting a user deletes the sessions with it.
    with_session(&a, "s1", 1).await;
    assert!(b.family_of_token(&[1; 32]).await.unwrap().is_some());
    assert!(a.delete_user("u1").await.unwrap());
    assert!(!a.delete_user("u1").await.unwrap());
    assert!(b.family_of_token(&[1; 32]).await.unwrap().is_none());
    assert!(b.user_by_name("alice").await.unwrap().is_none());
}

async fn clients(a: Shared, b: Shared) {
    a.create_client(&client("c2", "billing")).await.unwrap();
    a.create_client(&client("c1", "billing")).await.unwrap();
    a.create_client(&client("c0", "zz")).await.unwrap();
    assert!(matches!(
        b.create_client(&client("c1", "other")).await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(
        b.client_by_id("c1").await.unwrap().unwrap(),
        client("c1", "billing")
    );
    assert!(b.client_by_id("nope").await.unwrap().is_none());
    let ids: Vec<String> = b
        .list_clients()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.client_id)
        .collect();
    assert_eq!(ids, ["c1", "c2", "c0"], "by name, then id");
    assert!(a.set_client_secret_hash("c1", &[9; 32]).await.unwrap());
    assert_eq!(
        b.client_by_id("c1").await.unwrap().unwrap().secret_hash,
        [9; 32]
    );
    assert!(!a.set_client_secret_hash("nope", &[9; 32]).await.unwrap());

    // Deleting a client ends the sessions it started (and only those) and refuses its own tokens.
    a.create_user(&user("u1", "alice")).await.unwrap();
    a.create_session(&family("s1", "u1", Some("c1")), &token(1, "s1", NOW + 100))
        .await
        .unwrap();
    a.create_session(&family("s2", "u1", Some("c1")), &token(2, "s2", NOW + 100))
        .await
        .unwrap();
    a.create_session(&family("s3", "u1", Some("c2")), &token(3, "s3", NOW + 100))
        .await
        .unwrap();
    a.revoke_session("s2", NOW, NOW + 50).await.unwrap();
    assert_eq!(
        a.delete_client("nope", NOW, NOW + 60, NOW).await.unwrap(),
        None
    );
    let revoked = b
        .delete_client("c1", NOW + 1, NOW + 60, NOW + 2)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        revoked,
        ["s1"],
        "already revoked sessions are not revoked again"
    );
    assert!(a.client_by_id("c1").await.unwrap().is_none());
    assert_eq!(
        a.family_of_token(&[1; 32])
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        Some(NOW + 1)
    );
    assert_eq!(
        a.family_of_token(&[3; 32])
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        None
    );
    let denied = a.load_denylist(NOW).await.unwrap();
    assert!(denied.sids.contains(&("s1".into(), NOW + 60)), "{denied:?}");
    assert!(
        denied.not_before.contains(&("c1".into(), NOW + 2)),
        "{denied:?}"
    );
    assert!(
        a.delete_client("c1", NOW, NOW, NOW)
            .await
            .unwrap()
            .is_none()
    );
}

async fn introspection_reads(a: Shared, b: Shared) {
    // The permission to introspect every client's access tokens is stored, read back and listed.
    let resource_server = Client {
        may_introspect: true,
        ..client("rs", "orders-api")
    };
    a.create_client(&resource_server).await.unwrap();
    a.create_client(&client("c1", "app")).await.unwrap();
    assert_eq!(
        b.client_by_id("rs").await.unwrap().unwrap(),
        resource_server
    );
    assert!(!b.client_by_id("c1").await.unwrap().unwrap().may_introspect);
    let listed: Vec<(String, bool)> = b
        .list_clients()
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.client_id, c.may_introspect))
        .collect();
    assert_eq!(listed, [("c1".into(), false), ("rs".into(), true)]);

    // A refresh token's state: the token (used or not) and its family, read without changing either.
    a.create_user(&user("u1", "alice")).await.unwrap();
    assert!(b.refresh_token_state(&[1; 32]).await.unwrap().is_none());
    a.create_session(&family("s1", "u1", Some("c1")), &token(1, "s1", NOW + 100))
        .await
        .unwrap();
    let (stored, fam) = b.refresh_token_state(&[1; 32]).await.unwrap().unwrap();
    assert_eq!(stored.record, token(1, "s1", NOW + 100));
    assert_eq!(stored.used_at, None);
    assert_eq!(fam, family("s1", "u1", Some("c1")));
    assert_eq!(
        b.refresh_token_state(&[1; 32])
            .await
            .unwrap()
            .unwrap()
            .0
            .used_at,
        None,
        "reading changes nothing"
    );
    // Rotated: the presented token is used, the successor (its idle limit capped by the family's end) is not.
    let got = a
        .rotate_refresh_token(&[1; 32], &token(2, "s1", NOW + 5000), NOW + 10, NOW + 900)
        .await
        .unwrap();
    assert!(matches!(got, Rotation::Rotated(_)), "{got:?}");
    let (used, _) = b.refresh_token_state(&[1; 32]).await.unwrap().unwrap();
    assert_eq!(used.used_at, Some(NOW + 10));
    let (successor, _) = b.refresh_token_state(&[2; 32]).await.unwrap().unwrap();
    assert_eq!(successor.used_at, None);
    assert_eq!(successor.record.expires_at, NOW + 1000);
    // Revoked: the family says so.
    a.revoke_session("s1", NOW + 20, NOW + 900).await.unwrap();
    let (_, fam) = b.refresh_token_state(&[2; 32]).await.unwrap().unwrap();
    assert_eq!(fam.revoked_at, Some(NOW + 20));
}

async fn rotation(a: Shared, b: Shared) {
    a.create_user(&user("u1", "alice")).await.unwrap();
    with_session(&a, "s1", 1).await;
    let created = b.family_of_token(&[1; 32]).await.unwrap().unwrap();
    assert_eq!(created, family("s1", "u1", None));
    assert!(matches!(
        a.create_session(&family("s1", "u1", None), &token(9, "s1", NOW + 100))
            .await,
        Err(StoreError::Conflict)
    ));

    // The first presentation rotates; the successor is in the same family.
    let got = b
        .rotate_refresh_token(&[1; 32], &token(2, "s1", NOW + 200), NOW + 10, NOW + 900)
        .await
        .unwrap();
    assert_eq!(got, Rotation::Rotated(created.clone()));
    assert_eq!(
        a.family_of_token(&[2; 32]).await.unwrap().unwrap().sid,
        "s1"
    );
    // The second is reuse: the family is revoked and its sid denied.
    let got = a
        .rotate_refresh_token(&[1; 32], &token(3, "s1", NOW + 200), NOW + 11, NOW + 900)
        .await
        .unwrap();
    assert_eq!(
        got,
        Rotation::Reused(TokenFamily {
            revoked_at: Some(NOW + 11),
            ..created.clone()
        })
    );
    assert!(
        a.family_of_token(&[3; 32]).await.unwrap().is_none(),
        "no successor on reuse"
    );
    assert!(
        b.load_denylist(NOW)
            .await
            .unwrap()
            .sids
            .contains(&("s1".into(), NOW + 900))
    );
    // The successor now belongs to a revoked family.
    let got = b
        .rotate_refresh_token(&[2; 32], &token(4, "s1", NOW + 200), NOW + 12, NOW + 900)
        .await
        .unwrap();
    assert_eq!(got, Rotation::Revoked);
    let got = b
        .rotate_refresh_token(&[0xee; 32], &token(5, "s1", NOW + 200), NOW, NOW)
        .await
        .unwrap();
    assert_eq!(got, Rotation::Unknown);
}

async fn expiry(a: Shared, b: Shared) {
    a.create_user(&user("u1", "alice")).await.unwrap();
    // Idle limit: the token expires at NOW + 100.
    with_session(&a, "s1", 1).await;
    let got = b
        .rotate_refresh_token(&[1; 32], &token(2, "s1", NOW + 500), NOW + 100, NOW)
        .await
        .unwrap();
    assert_eq!(got, Rotation::Expired);
    assert!(a.family_of_token(&[2; 32]).await.unwrap().is_none());
    // Absolute limit: a successor's idle limit is capped by its family's end (NOW + 1000).
    with_session(&a, "s2", 3).await;
    let got = b
        .rotate_refresh_token(&[3; 32], &token(4, "s2", NOW + 5000), NOW + 50, NOW)
        .await
        .unwrap();
    assert!(matches!(got, Rotation::Rotated(_)), "{got:?}");
    let got = b
        .rotate_refresh_token(&[4; 32], &token(5, "s2", NOW + 5000), NOW + 1000, NOW)
        .await
        .unwrap();
    assert_eq!(got, Rotation::Expired);
    // The first token's idle limit is capped by its family's end too: min(NOW + 100, NOW + 10).
    let long = TokenFamily {
        expires_at: NOW + 10,
        ..family("s3", "u1", None)
    };
    a.create_session(&long, &token(6, "s3", NOW + 100))
        .await
        .unwrap();
    let got = b
        .rotate_refresh_token(&[6; 32], &token(7, "s3", NOW + 100), NOW + 20, NOW)
        .await
        .unwrap();
    assert_eq!(got, Rotation::Expired);
    // Refused unconsumed: presented before the family ended, it still rotates.
    let got = b
        .rotate_refresh_token(&[6; 32], &token(7, "s3", NOW + 100), NOW + 5, NOW)
        .await
        .unwrap();
    assert!(matches!(got, Rotation::Rotated(_)), "{got:?}");
}

async fn revocation(a: Shared, b: Shared) {
    a.create_user(&user("u1", "alice")).await.unwrap();
    a.create_user(&user("u2", "bob")).await.unwrap();
    with_session(&a, "s1", 1).await;
    with_session(&a, "s2", 2).await;
    with_session(&a, "s3", 3).await;
    a.create_session(&family("t1", "u2", None), &token(4, "t1", NOW + 100))
        .await
        .unwrap();
    b.revoke_session("s1", NOW + 1, NOW + 30).await.unwrap();
    // Revoking again keeps the first revocation time and the later deny time.
    b.revoke_session("s1", NOW + 2, NOW + 20).await.unwrap();
    assert_eq!(
        a.family_of_token(&[1; 32])
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        Some(NOW + 1)
    );
    let mut revoked = a
        .revoke_all_sessions("u1", NOW + 3, NOW + 40)
        .await
        .unwrap();
    revoked.sort();
    assert_eq!(revoked, ["s2", "s3"]);
    assert_eq!(
        b.family_of_token(&[4; 32])
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        None,
        "other users untouched"
    );
    let denied = b.load_denylist(NOW).await.unwrap();
    let sids: HashSet<(String, u64)> = denied.sids.into_iter().collect();
    let want: HashSet<(String, u64)> = [("s1", NOW + 30), ("s2", NOW + 40), ("s3", NOW + 40)]
        .map(|(s, t)| (s.to_owned(), t))
        .into();
    assert_eq!(sids, want);
    assert_eq!(denied.not_before, [("u1".to_owned(), NOW + 3)]);
    // "Not before" only moves forward.
    a.revoke_all_sessions("u1", NOW + 1, NOW + 40)
        .await
        .unwrap();
    assert_eq!(
        b.load_denylist(NOW).await.unwrap().not_before,
        [("u1".to_owned(), NOW + 3)]
    );
}

async fn logout(a: Shared, b: Shared) {
    a.create_user(&user("u1", "alice")).await.unwrap();
    a.create_user(&user("u2", "bob")).await.unwrap();
    for (sid, first) in [("s1", 1), ("s2", 2), ("s3", 3), ("s4", 4)] {
        with_session(&a, sid, first).await;
    }
    a.create_session(&family("t1", "u2", None), &token(9, "t1", NOW + 100))
        .await
        .unwrap();
    let revoked_at = |sid: &'static str, byte: u8| {
        let b = b.clone();
        async move {
            let family = b.family_of_token(&[byte; 32]).await.unwrap().unwrap();
            assert_eq!(family.sid, sid);
            family.revoked_at
        }
    };
    let logout = |jti, scope| Logout {
        user_id: "u1",
        jti,
        jti_until: NOW + 50,
        scope,
        now: NOW + 1,
        deny_until: NOW + 30,
    };
    // The access token's session and the refresh token's, when that is another session of the same user.
    let ended = b
        .logout(&logout(
            "j1",
            LogoutScope::Sessions {
                sid: Some("s1"),
                refresh: Some(&[2; 32]),
            },
        ))
        .await
        .unwrap();
    assert_eq!(ended, ["s1", "s2"]);
    assert_eq!(revoked_at("s1", 1).await, Some(NOW + 1));
    assert_eq!(revoked_at("s2", 2).await, Some(NOW + 1));
    assert_eq!(revoked_at("s3", 3).await, None);
    // Another user's refresh token ends nothing but the access token's session; the same session named twice is
    // ended once.
    let ended = a
        .logout(&logout(
            "j2",
            LogoutScope::Sessions {
                sid: Some("s3"),
                refresh: Some(&[9; 32]),
            },
        ))
        .await
        .unwrap();
    assert_eq!(ended, ["s3"]);
    assert_eq!(revoked_at("t1", 9).await, None, "other users untouched");
    let ended = a
        .logout(&logout(
            "j3",
            LogoutScope::Sessions {
                sid: None,
                refresh: Some(&[4; 32]),
            },
        ))
        .await
        .unwrap();
    assert_eq!(ended, ["s4"]);
    let denied = a.load_denylist(NOW).await.unwrap();
    let sids: HashSet<(String, u64)> = denied.sids.into_iter().collect();
    let want: HashSet<(String, u64)> = ["s1", "s2", "s3", "s4"]
        .map(|s| (s.to_owned(), NOW + 30))
        .into();
    assert_eq!(sids, want);
    let mut jtis = denied.jtis;
    jtis.sort();
    assert_eq!(
        jtis,
        ["j1", "j2", "j3"].map(|j| (j.to_owned(), NOW + 50)),
        "each logout denies its access token"
    );
    assert!(denied.not_before.is_empty());
    // Everywhere: every live session of the user, and their "not before".
    with_session(&a, "s5", 5).await;
    with_session(&a, "s6", 6).await;
    let mut ended = b
        .logout(&logout("j4", LogoutScope::Everywhere))
        .await
        .unwrap();
    ended.sort();
    assert_eq!(ended, ["s5", "s6"]);
    assert_eq!(revoked_at("s6", 6).await, Some(NOW + 1));
    assert_eq!(revoked_at("t1", 9).await, None, "other users untouched");
    let denied = b.load_denylist(NOW).await.unwrap();
    assert_eq!(denied.not_before, [("u1".to_owned(), NOW + 1)]);
    assert!(denied.jtis.contains(&("j4".to_owned(), NOW + 50)));
    assert!(denied.sids.contains(&("s6".to_owned(), NOW + 30)));
}

async fn denylist(a: Shared, b: Shared) {
    a.deny_jti("j1", NOW + 10).await.unwrap();
    a.deny_jti("j1", NOW + 5).await.unwrap();
    a.deny_jti("j2", NOW + 20).await.unwrap();
    b.revoke_session("gone", NOW, NOW + 10).await.unwrap();
    let at = |t| {
        let b = b.clone();
        async move {
            let mut jtis = b.load_denylist(t).await.unwrap().jtis;
            jtis.sort();
            jtis
        }
    };
    assert_eq!(
        at(NOW).await,
        [("j1".to_owned(), NOW + 10), ("j2".to_owned(), NOW + 20)]
    );
    assert_eq!(
        at(NOW + 10).await,
        [("j2".to_owned(), NOW + 20)],
        "in force until strictly before"
    );
    assert!(b.load_denylist(NOW + 10).await.unwrap().sids.is_empty());
    assert_eq!(
        b.load_denylist(NOW + 9).await.unwrap().sids,
        [("gone".to_owned(), NOW + 10)]
    );
}

async fn keys(a: Shared, b: Shared) {
    a.insert_key(&key("k2", 10, 50)).await.unwrap();
    a.insert_key(&key("k1", 20, 50)).await.unwrap();
    a.insert_key(&key("k0", 30, 40)).await.unwrap();
    assert!(matches!(
        a.insert_key(&key("k0", 1, 1)).await,
        Err(StoreError::Conflict)
    ));
    let stored = b.keys().await.unwrap();
    let order: Vec<&str> = stored.iter().map(|k| k.kid.as_str()).collect();
    assert_eq!(
        order,
        ["k0", "k2", "k1"],
        "by activation, then creation, then kid"
    );
    assert_eq!(
        stored[0].encrypted_private_key,
        key("k0", 30, 40).encrypted_private_key
    );
    assert_eq!(
        (
            stored[0].created_at,
            stored[0].activates_at,
            stored[0].alg.as_str()
        ),
        (30, 40, "ES256")
    );
    b.delete_key("k2").await.unwrap();
    b.delete_key("k2").await.unwrap();
    let seen: Vec<String> = vec!["k1".into(), "k0".into()];
    assert!(
        !a.insert_key_if_unchanged(&key("k3", 60, 60), &["k0".into()])
            .await
            .unwrap()
    );
    assert!(
        a.insert_key_if_unchanged(&key("k3", 60, 60), &seen)
            .await
            .unwrap()
    );
    assert!(
        !b.insert_key_if_unchanged(&key("k4", 60, 60), &seen)
            .await
            .unwrap(),
        "k3 came since"
    );
    assert_eq!(b.keys().await.unwrap().len(), 3);
}

async fn one_key_rotation_wins(a: Shared, b: Shared) {
    a.insert_key(&key("k0", 0, 0)).await.unwrap();
    let seen = vec!["k0".to_owned()];
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let store = if i % 2 == 0 { a.clone() } else { b.clone() };
            let seen = seen.clone();
            tokio::spawn(async move {
                store
                    .insert_key_if_unchanged(&key(&format!("new{i}"), 5, 5), &seen)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut won = 0;
    for task in tasks {
        won += usize::from(task.await.unwrap());
    }
    assert_eq!(won, 1);
    assert_eq!(a.keys().await.unwrap().len(), 2);
}

async fn concurrent_presentations_rotate_once(a: Shared, b: Shared) {
    a.create_user(&user("u1", "alice")).await.unwrap();
    for round in 0..5u8 {
        let sid = format!("s{round}");
        let first = round * 50;
        a.create_session(&family(&sid, "u1", None), &token(first, &sid, NOW + 100))
            .await
            .unwrap();
        let tasks: Vec<_> = (0..12u8)
            .map(|i| {
                let store = if i % 2 == 0 { a.clone() } else { b.clone() };
                let sid = sid.clone();
                tokio::spawn(async move {
                    store
                        .rotate_refresh_token(
                            &[first; 32],
                            &token(first + 1 + i, &sid, NOW + 100),
                            NOW + 1,
                            NOW + 99,
                        )
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut rotated = 0;
        let mut reused = 0;
        for task in tasks {
            match task.await.unwrap() {
                Rotation::Rotated(_) => rotated += 1,
                Rotation::Reused(_) => reused += 1,
                Rotation::Revoked => {}
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(rotated, 1, "round {round}");
        assert!(reused >= 1, "round {round}");
        let now = a.family_of_token(&[first; 32]).await.unwrap().unwrap();
        assert!(
            now.revoked_at.is_some(),
            "the family is revoked after reuse"
        );
    }
}

/// A reuse interval of 30 s and at most 3 reissues, as the service passes it with `--refresh-reuse-interval 30s`.
const REUSE: ReuseAllowance = ReuseAllowance {
    interval: 30,
    max_reissues: 3,
};

/// Presents the token with digest `[presented; 32]`, storing `[successor; 32]` in `sid` if it is accepted.
async fn present(
    store: &Shared,
    presented: u8,
    successor: u8,
    sid: &str,
    now: u64,
    reuse: ReuseAllowance,
) -> Rotation {
    store
        .rotate_refresh_token_with_reuse(
            &[presented; 32],
            &token(successor, sid, NOW + 500),
            now,
            NOW + 900,
            reuse,
        )
        .await
        .unwrap()
}

fn is_reused(got: &Rotation) -> bool {
    matches!(got, Rotation::Reused(f) if f.revoked_at.is_some())
}

async fn reuse_interval(a: Shared, b: Shared) {
    a.create_user(&user("u1", "alice")).await.unwrap();
    let t = NOW + 10;
    let live = family("s1", "u1", None);

    // Within the interval (rotated at t, 30 s: up to t + 29), the rotated token yields a pair in the same family,
    // and the successor its first presentation stored stays valid beside the new one.
    with_session(&a, "s1", 1).await;
    assert!(matches!(
        present(&a, 1, 2, "s1", t, REUSE).await,
        Rotation::Rotated(_)
    ));
    assert_eq!(
        present(&b, 1, 3, "s1", t + 29, REUSE).await,
        Rotation::Reissued(live.clone())
    );
    for successor in [2, 3] {
        let family = a.family_of_token(&[successor; 32]).await.unwrap().unwrap();
        assert_eq!(family, live, "successor {successor}");
    }
    assert_eq!(
        present(&a, 2, 4, "s1", t + 30, REUSE).await,
        Rotation::Rotated(live.clone()),
        "the first successor still rotates"
    );
    // Its sibling, issued for the same parent, is now a superseded branch: presenting it is reuse.
    assert!(is_reused(&present(&b, 3, 5, "s1", t + 31, REUSE).await));
    assert_eq!(
        present(&a, 4, 6, "s1", t + 32, REUSE).await,
        Rotation::Revoked
    );

    // At the interval's end (t + 30) the rotated token is reuse again: the family is revoked.
    with_session(&a, "s2", 11).await;
    assert!(matches!(
        present(&a, 11, 12, "s2", t, REUSE).await,
        Rotation::Rotated(_)
    ));
    assert!(is_reused(&present(&b, 11, 13, "s2", t + 30, REUSE).await));
    assert!(
        a.family_of_token(&[13; 32]).await.unwrap().is_none(),
        "no successor"
    );
    assert_eq!(
        present(&a, 12, 14, "s2", t + 31, REUSE).await,
        Rotation::Revoked
    );
    assert!(
        b.load_denylist(NOW)
            .await
            .unwrap()
            .sids
            .contains(&("s2".into(), NOW + 900)),
        "its sid denied"
    );

    // The bound: three reissues, the fourth presentation is reuse.
    with_session(&a, "s3", 21).await;
    assert!(matches!(
        present(&a, 21, 22, "s3", t, REUSE).await,
        Rotation::Rotated(_)
    ));
    for (n, successor) in [23, 24, 25].into_iter().enumerate() {
        let store = if n % 2 == 0 { &a } else { &b };
        assert!(
            matches!(
                present(store, 21, successor, "s3", t + 1, REUSE).await,
                Rotation::Reissued(_)
            ),
            "reissue {n}"
        );
    }
    assert!(is_reused(&present(&b, 21, 26, "s3", t + 2, REUSE).await));
    assert_eq!(
        present(&a, 25, 27, "s3", t + 3, REUSE).await,
        Rotation::Revoked
    );

    // The retry's successor carries the session on; the first one is then a superseded branch.
    with_session(&a, "s4", 31).await;
    assert!(matches!(
        present(&a, 31, 32, "s4", t, REUSE).await,
        Rotation::Rotated(_)
    ));
    assert!(matches!(
        present(&b, 31, 33, "s4", t + 1, REUSE).await,
        Rotation::Reissued(_)
    ));
    assert!(matches!(
        present(&a, 33, 34, "s4", t + 2, REUSE).await,
        Rotation::Rotated(_)
    ));
    // The count starts again for the token rotated now.
    assert!(matches!(
        present(&b, 33, 35, "s4", t + 3, REUSE).await,
        Rotation::Reissued(_)
    ));
    assert!(is_reused(&present(&a, 32, 36, "s4", t + 4, REUSE).await));

    // An older ancestor is theft, however recently it was rotated.
    with_session(&a, "s5", 41).await;
    assert!(matches!(
        present(&a, 41, 42, "s5", t, REUSE).await,
        Rotation::Rotated(_)
    ));
    assert!(matches!(
        present(&b, 42, 43, "s5", t + 1, REUSE).await,
        Rotation::Rotated(_)
    ));
    assert!(is_reused(&present(&a, 41, 44, "s5", t + 2, REUSE).await));

    // Without an allowance (the default), any second presentation is reuse, as before.
    with_session(&a, "s6", 51).await;
    assert!(matches!(
        present(&a, 51, 52, "s6", t, ReuseAllowance::NONE).await,
        Rotation::Rotated(_)
    ));
    assert!(is_reused(
        &present(&b, 51, 53, "s6", t, ReuseAllowance::NONE).await
    ));
    // Nor does a store that rotated without an allowance let the token come back once one is given.
    with_session(&a, "s7", 61).await;
    a.rotate_refresh_token(&[61; 32], &token(62, "s7", NOW + 500), t, NOW + 900)
        .await
        .unwrap();
    assert!(matches!(
        present(&b, 61, 63, "s7", t + 1, REUSE).await,
        Rotation::Reissued(_)
    ));

    // An ended family gives nothing, reissue or not.
    let short = TokenFamily {
        expires_at: t + 5,
        ..family("s8", "u1", None)
    };
    a.create_session(&short, &token(71, "s8", NOW + 100))
        .await
        .unwrap();
    assert!(matches!(
        present(&a, 71, 72, "s8", t, REUSE).await,
        Rotation::Rotated(_)
    ));
    assert!(!matches!(
        present(&b, 71, 73, "s8", t + 5, REUSE).await,
        Rotation::Reissued(_)
    ));
    assert!(a.family_of_token(&[73; 32]).await.unwrap().is_none());
}

async fn concurrent_reissues_stay_within_the_bound(a: Shared, b: Shared) {
    a.create_user(&user("u1", "alice")).await.unwrap();
    for round in 0..4u8 {
        let sid = format!("s{round}");
        let first = round * 50;
        with_session(&a, &sid, first).await;
        assert!(matches!(
            present(&a, first, first + 1, &sid, NOW + 1, REUSE).await,
            Rotation::Rotated(_)
        ));
        let tasks: Vec<_> = (0..12u8)
            .map(|i| {
                let store = if i % 2 == 0 { a.clone() } else { b.clone() };
                let sid = sid.clone();
                tokio::spawn(async move {
                    present(&store, first, first + 2 + i, &sid, NOW + 2, REUSE).await
                })
            })
            .collect();
        let (mut reissued, mut reused) = (0, 0);
        for task in tasks {
            match task.await.unwrap() {
                Rotation::Reissued(_) => reissued += 1,
                Rotation::Reused(_) => reused += 1,
                Rotation::Revoked => {}
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(
            reissued, REUSE.max_reissues,
            "round {round}: exactly the bound"
        );
        assert!(reused >= 1, "round {round}: past the bound, reuse");
        let family = a.family_of_token(&[first; 32]).await.unwrap().unwrap();
        assert!(family.revoked_at.is_some(), "round {round}");
    }
}

async fn concurrent_siblings_continue_one_branch(a: Shared, b: Shared) {
    a.create_user(&user("u1", "alice")).await.unwrap();
    for round in 0..6u8 {
        let sid = format!("s{round}");
        let first = round * 40;
        with_session(&a, &sid, first).await;
        assert!(matches!(
            present(&a, first, first + 1, &sid, NOW + 1, REUSE).await,
            Rotation::Rotated(_)
        ));
        assert!(matches!(
            present(&b, first, first + 2, &sid, NOW + 1, REUSE).await,
            Rotation::Reissued(_)
        ));
        // Both siblings presented at once, through different handles: one carries the session on, the other is
        // a superseded branch whichever comes first — never two live branches, never a deadlock.
        let (x, y) = tokio::join!(
            present(&a, first + 1, first + 3, &sid, NOW + 2, REUSE),
            present(&b, first + 2, first + 4, &sid, NOW + 2, REUSE),
        );
        let rotated = [&x, &y]
            .iter()
            .filter(|r| matches!(r, Rotation::Rotated(_)))
            .count();
        assert_eq!(rotated, 1, "round {round}: {x:?} {y:?}");
        assert!(is_reused(&x) || is_reused(&y), "round {round}: {x:?} {y:?}");
    }
}

async fn pruning(a: Shared, b: Shared) {
    a.create_user(&user("u1", "alice")).await.unwrap();
    // Unused tokens past their idle limit go; a consumed one stays with its family.
    with_session(&a, "s1", 1).await;
    with_session(&a, "s2", 2).await;
    with_session(&a, "s3", 3).await;
    a.rotate_refresh_token(&[3; 32], &token(4, "s3", NOW + 200), NOW + 1, NOW)
        .await
        .unwrap();
    assert_eq!(
        b.prune_batch(Prunable::UnusedRefreshTokens, NOW + 100, 1)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        b.prune_batch(Prunable::UnusedRefreshTokens, NOW + 100, 10)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        b.prune_batch(Prunable::UnusedRefreshTokens, NOW + 100, 10)
            .await
            .unwrap(),
        0
    );
    assert!(
        a.family_of_token(&[3; 32]).await.unwrap().is_some(),
        "consumed: kept"
    );
    // Ended families: their tokens first, then the families.
    assert_eq!(
        b.prune_batch(Prunable::EndedFamilies, NOW + 999, 10)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        b.prune_batch(Prunable::TokensOfEndedFamilies, NOW + 1000, 10)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        b.prune_batch(Prunable::EndedFamilies, NOW + 1000, 10)
            .await
            .unwrap(),
        3
    );
    assert_eq!(
        b.prune_batch(Prunable::EndedFamilies, NOW + 1000, 10)
            .await
            .unwrap(),
        0
    );
    // Denylist rows go once their time has passed.
    a.deny_jti("j1", NOW).await.unwrap();
    a.deny_jti("j2", NOW + 5).await.unwrap();
    a.revoke_session("x", NOW, NOW).await.unwrap();
    a.revoke_all_sessions("u1", NOW, NOW).await.unwrap();
    assert_eq!(
        b.prune_batch(Prunable::DeniedJtis, NOW, 10).await.unwrap(),
        1
    );
    assert_eq!(
        b.prune_batch(Prunable::DeniedSids, NOW, 10).await.unwrap(),
        1
    );
    assert_eq!(
        b.prune_batch(Prunable::UserNotBefore, NOW - 1, 10)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        b.prune_batch(Prunable::UserNotBefore, NOW, 10)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        a.load_denylist(0).await.unwrap().jtis,
        [("j2".to_owned(), NOW + 5)]
    );
}

async fn transfer(a: Shared, b: Shared) {
    a.create_user(&user("u1", "alice")).await.unwrap();
    a.create_client(&client("c1", "app")).await.unwrap();
    a.create_client(&Client {
        may_introspect: true,
        ..client("rs", "orders-api")
    })
    .await
    .unwrap();
    let rp = Client {
        grant_types: vec![GrantType::AuthorizationCode],
        web: WebClient {
            redirect_uris: vec!["https://rp.example/cb".into()],
            id_token_alg: Some(waxseal::Algorithm::RS256),
            pkce_exempt: true,
            id_token_encryption: Some(waxseal_server::IdTokenEncryption {
                jwk: ENCRYPTION_JWK.into(),
                enc: waxseal::jwe::ContentEncryption::A256Gcm,
            }),
            ..WebClient::default()
        },
        encrypt_access_tokens: true,
        require_dpop: false,
        ..client("rp", "relying-party")
    };
    a.create_client(&rp).await.unwrap();
    a.insert_key(&key("k1", 1, 1)).await.unwrap();
    a.create_resource(&resource("https://mcp.example/mcp", &["read"]))
        .await
        .unwrap();
    a.create_session(&family("s1", "u1", Some("c1")), &token(1, "s1", NOW + 100))
        .await
        .unwrap();
    a.rotate_refresh_token(&[1; 32], &token(2, "s1", NOW + 100), NOW + 1, NOW)
        .await
        .unwrap();
    with_session(&a, "s2", 3).await;
    a.revoke_all_sessions("u1", NOW + 2, NOW + 500)
        .await
        .unwrap();
    a.deny_jti("j1", NOW + 5).await.unwrap();
    let json = |c: &waxseal_server::store::Contents| {
        serde_json::to_string(&waxseal_server::transfer::Dump::new(c, 0)).unwrap()
    };
    let before = a.export_all().await.unwrap();
    assert_eq!(
        (
            before.users.len(),
            before.clients.len(),
            before.keys.len(),
            before.families.len()
        ),
        (1, 3, 1, 2)
    );
    assert_eq!(
        before.resources,
        [resource("https://mcp.example/mcp", &["read"])],
        "resources are exported"
    );
    assert_eq!(
        before
            .families
            .iter()
            .find(|f| f.sid == "s1")
            .and_then(|f| f.resource.as_deref()),
        Some("https://mcp.example/mcp"),
        "and the resource of each session"
    );
    assert!(
        before.clients.contains(&rp),
        "the ID-token algorithm, its encryption, the PKCE exemption and access-token encryption are exported"
    );
    assert!(
        before
            .clients
            .iter()
            .any(|c| c.client_id == "rs" && c.may_introspect),
        "the permission to introspect is exported"
    );
    assert_eq!(
        before
            .refresh_tokens
            .iter()
            .filter(|t| t.used_at == Some(NOW + 1))
            .count(),
        1
    );
    assert_eq!(
        before
            .rotations
            .iter()
            .map(|r| (r.sid.as_str(), r.hash, r.rotated_at))
            .collect::<Vec<_>>(),
        [("s1", [1; 32], NOW + 1)],
        "which token each family rotated last moves too"
    );
    assert_eq!(
        before
            .refresh_tokens
            .iter()
            .find(|t| t.record.hash == [2; 32])
            .and_then(|t| t.parent),
        Some([1; 32])
    );
    assert_eq!(before.denylist.jtis, [("j1".to_owned(), NOW + 5)]);
    assert_eq!(before.denylist.sids.len(), 2);
    assert!(
        !b.import_all(&before, false).await.unwrap(),
        "not empty: refused"
    );
    a.delete_user("u1").await.unwrap();
    assert!(
        !b.import_all(&before, false).await.unwrap(),
        "a client and a key are still there"
    );
    assert!(b.import_all(&before, true).await.unwrap());
    assert_eq!(
        json(&a.export_all().await.unwrap()),
        json(&before),
        "the same rows back"
    );
    assert_eq!(a.export_all().await.unwrap().clients, before.clients);
    // A failing import changes nothing: one transaction.
    let mut broken = before.clone();
    broken.users.push(user("u9", "alice"));
    assert!(b.import_all(&broken, true).await.is_err());
    assert_eq!(json(&a.export_all().await.unwrap()), json(&before));
}

fn sso(id: &str, user_id: &str, hash: u8) -> SsoSession {
    SsoSession {
        id: id.into(),
        hash: [hash; 32],
        user_id: user_id.into(),
        auth_time: NOW,
        created_at: NOW,
        expires_at: NOW + 3600,
        ended_at: None,
        address: Some("127.0.0.1".into()),
        user_agent: Some("test".into()),
    }
}

fn used(id: u8, sid: &str, expires_at: u64) -> UsedCode {
    UsedCode {
        id: [id; 32],
        sid: sid.into(),
        expires_at,
    }
}

/// The session a code's exchange starts, from SSO session `sso_id`, with no refresh token.
fn start<'a>(family: &'a TokenFamily, sso_id: &'a str) -> AppSessionStart<'a> {
    AppSessionStart {
        family,
        sso_id,
        first: None,
    }
}

/// Profiles and browser registrations are stored and read back whole.
async fn profiles_and_web_clients(a: Shared, b: Shared) {
    a.create_user(&user("u1", "alice")).await.unwrap();
    assert_eq!(
        b.user_by_id("u1")
            .await
            .unwrap()
            .unwrap()
            .profile
            .email
            .as_deref(),
        Some("alice@example.com")
    );
    let profile = Profile {
        email: None,
        name: Some("Alice Liddell".into()),
    };
    assert!(a.set_profile("u1", &profile).await.unwrap());
    assert_eq!(
        b.user_by_name("alice").await.unwrap().unwrap().profile,
        profile
    );
    assert!(!a.set_profile("nobody", &profile).await.unwrap());
    let web = Client {
        grant_types: vec![GrantType::AuthorizationCode],
        web: WebClient {
            redirect_uris: vec![
                "https://a.example/cb".into(),
                "http://127.0.0.1:9/cb".into(),
            ],
            post_logout_redirect_uris: vec!["https://a.example/bye".into()],
            web_origins: vec![],
            public: true,
            first_party: true,
            id_token_alg: None,
            pkce_exempt: false,
            id_token_encryption: None,
            registered: true,
            last_used_at: Some(5),
        },
        ..client("w1", "web")
    };
    a.create_client(&web).await.unwrap();
    assert_eq!(b.client_by_id("w1").await.unwrap().unwrap(), web);
    // A registered client's use is recorded on every instance; an operator's client has none to record, and only
    // registered clients unused since the cutoff are listed for expiry.
    a.touch_client("w1", 9).await.unwrap();
    let touched = b.client_by_id("w1").await.unwrap().unwrap();
    assert_eq!(touched.web.last_used_at, Some(9));
    assert_eq!(
        b.unused_registered_clients(8, 10).await.unwrap(),
        Vec::<String>::new()
    );
    assert_eq!(b.unused_registered_clients(9, 10).await.unwrap(), ["w1"]);
    assert_eq!(
        b.unused_registered_clients(9, 0).await.unwrap(),
        Vec::<String>::new()
    );
    a.touch_client("w1", 5).await.unwrap();
    // A confidential client registered for RS256 ID tokens, exempt from PKCE, with its ID tokens encrypted to its
    // key and its access tokens to the server's, reads back as registered, in the single read and in the list.
    let rp = Client {
        grant_types: vec![GrantType::AuthorizationCode],
        web: WebClient {
            redirect_uris: vec!["https://rp.example/cb".into()],
            id_token_alg: Some(waxseal::Algorithm::RS256),
            pkce_exempt: true,
            id_token_encryption: Some(waxseal_server::IdTokenEncryption {
                jwk: ENCRYPTION_JWK.into(),
                enc: waxseal::jwe::ContentEncryption::A256Gcm,
            }),
            ..WebClient::default()
        },
        encrypt_access_tokens: true,
        require_dpop: false,
        ..client("w2", "rp")
    };
    a.create_client(&rp).await.unwrap();
    assert_eq!(b.client_by_id("w2").await.unwrap().unwrap(), rp);
    let listed = b.list_clients().await.unwrap();
    assert!(listed.contains(&rp) && listed.contains(&web), "{listed:?}");
    // Web origins (CORS) read back as registered; a preflight's lookup finds the clients that registered an origin
    // as a whole word, and public clients without any by their redirect URIs, never a look-alike.
    let spa = Client {
        grant_types: vec![GrantType::AuthorizationCode],
        web: WebClient {
            redirect_uris: vec!["https://spa.example/cb".into()],
            web_origins: vec![
                "https://spa.example".into(),
                "https://spa.example:8443".into(),
            ],
            public: true,
            ..WebClient::default()
        },
        ..client("w3", "spa")
    };
    a.create_client(&spa).await.unwrap();
    assert_eq!(b.client_by_id("w3").await.unwrap().unwrap(), spa);
    let found = |origin: &'static str| {
        let b = b.clone();
        async move {
            let mut redirects: Vec<String> = b
                .clients_with_web_origin(origin)
                .await
                .unwrap()
                .into_iter()
                .flat_map(|web| web.redirect_uris)
                .collect();
            redirects.sort();
            redirects
        }
    };
    assert_eq!(
        found("https://spa.example").await,
        ["https://spa.example/cb"]
    );
    assert_eq!(
        found("https://spa.example:8443").await,
        ["https://spa.example/cb"]
    );
    // w1 is public and registered none: its redirect URIs' origins count.
    assert_eq!(
        found("https://a.example").await,
        ["http://127.0.0.1:9/cb", "https://a.example/cb"]
    );
    assert_eq!(
        found("http://127.0.0.1:9").await,
        ["http://127.0.0.1:9/cb", "https://a.example/cb"]
    );
    // w2 is confidential: its redirect URI's origin is not a web origin.
    assert!(found("https://rp.example").await.is_empty());
    for near in [
        "https://spa.example.evil.test",
        "https://spa.exampl",
        "https://spa.example:84",
        "null",
    ] {
        assert!(found(near).await.is_empty(), "{near}");
    }
}

/// An SSO session is found by its hash on every instance, and ending it revokes the sessions started from it.
async fn sso_sessions(a: Shared, b: Shared) {
    a.create_user(&user("u1", "alice")).await.unwrap();
    a.create_user(&user("u2", "bob")).await.unwrap();
    a.create_sso_session(&sso("sso1", "u1", 1)).await.unwrap();
    a.create_sso_session(&sso("sso2", "u1", 2)).await.unwrap();
    let (session, of) = b.sso_session(&[1; 32]).await.unwrap().unwrap();
    assert_eq!(session, sso("sso1", "u1", 1));
    let alice = user("u1", "alice");
    assert_eq!(
        (of.id, of.username, of.password_hash, of.disabled, of.scopes),
        (
            alice.id,
            alice.username,
            alice.password_hash,
            alice.disabled,
            alice.scopes
        ),
        "the session and its user, in one read"
    );
    assert!(b.sso_session(&[9; 32]).await.unwrap().is_none());
    assert_eq!(b.sso_sessions_of_user("u1", NOW).await.unwrap().len(), 2);
    let app = family("app1", "u1", Some("c1"));
    let first = token(5, "app1", NOW + 100);
    let session = AppSessionStart {
        first: Some(&first),
        ..start(&app, "sso1")
    };
    assert!(a.start_app_session(session).await.unwrap());
    let listed = b.app_sessions_of_user("u1", NOW).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].sso_id.as_deref(), Some("sso1"));
    assert_eq!(listed[0].refreshed_at, None);

    assert_eq!(
        b.end_sso_sessions("u2", Some("sso1"), NOW, NOW + 60)
            .await
            .unwrap(),
        None,
        "not bob's"
    );
    assert_eq!(
        b.end_sso_sessions("u1", Some("sso1"), NOW, NOW + 60)
            .await
            .unwrap(),
        Some(vec!["app1".to_owned()])
    );
    assert!(
        a.sso_session(&[1; 32])
            .await
            .unwrap()
            .unwrap()
            .0
            .ended_at
            .is_some()
    );
    assert!(b.app_sessions_of_user("u1", NOW).await.unwrap().is_empty());
    assert!(
        a.load_denylist(NOW)
            .await
            .unwrap()
            .sids
            .iter()
            .any(|(sid, _)| sid == "app1")
    );
    assert_eq!(
        b.end_sso_sessions("u1", Some("sso1"), NOW, NOW + 60)
            .await
            .unwrap(),
        None,
        "ended already"
    );
    assert_eq!(
        b.end_sso_sessions("u1", None, NOW, NOW + 60).await.unwrap(),
        Some(vec![])
    );
    assert!(b.sso_sessions_of_user("u1", NOW).await.unwrap().is_empty());
}

/// A code's first presentation is seen once, whichever instance and however many at once; its record goes once
/// the code has expired.
async fn codes_are_used_once(a: Shared, b: Shared) {
    let (one, two) = (used(1, "s1", NOW + 60), used(2, "s2", NOW + 60));
    let (x, y) = tokio::join!(a.use_code(&one), b.use_code(&one));
    let mut firsts = [x.unwrap(), y.unwrap()];
    firsts.sort_unstable();
    assert_eq!(firsts, [false, true]);
    let (x, y) = tokio::join!(a.use_code(&one), b.use_code(&one));
    assert_eq!([x.unwrap(), y.unwrap()], [false, false], "used ever after");
    assert!(b.use_code(&two).await.unwrap(), "another code");

    assert_eq!(
        b.prune_batch(Prunable::Codes, NOW + 59, 10).await.unwrap(),
        0
    );
    assert_eq!(
        b.prune_batch(Prunable::Codes, NOW + 60, 10).await.unwrap(),
        2
    );
}

/// A code's session is not started when, since the code was issued, its SSO session ended or expired, its user
/// was disabled, or its sid was denied (the code presented again): nothing is stored then.
async fn codes_start_no_session_for_a_signed_out_user(a: Shared, b: Shared) {
    a.create_user(&user("u1", "alice")).await.unwrap();
    a.create_user(&user("u2", "bob")).await.unwrap();
    a.create_sso_session(&sso("sso1", "u1", 1)).await.unwrap();
    a.create_sso_session(&sso("sso2", "u2", 2)).await.unwrap();
    let first = token(9, "f0", NOW + 100);
    let starts = async |family: &TokenFamily, sso_id: &str, refreshable: bool| {
        let session = AppSessionStart {
            first: refreshable.then_some(&first),
            ..start(family, sso_id)
        };
        b.start_app_session(session).await.unwrap()
    };
    for refreshable in [false, true] {
        let alices = family("f1", "u1", Some("c1"));
        assert!(
            !starts(&alices, "sso2", refreshable).await,
            "another user's SSO session"
        );
        let late = TokenFamily {
            created_at: NOW + 3600,
            ..alices.clone()
        };
        assert!(
            !starts(&late, "sso1", refreshable).await,
            "an expired SSO session"
        );
        assert!(a.set_user_disabled("alice", true).await.unwrap());
        assert!(
            !starts(&alices, "sso1", refreshable).await,
            "a disabled user"
        );
        assert!(a.set_user_disabled("alice", false).await.unwrap());
        let denied = family(if refreshable { "f2" } else { "f3" }, "u1", Some("c1"));
        a.revoke_session(&denied.sid, NOW, NOW + 60).await.unwrap();
        assert!(!starts(&denied, "sso1", refreshable).await, "a denied sid");
    }
    assert!(a.app_sessions_of_user("u1", NOW).await.unwrap().is_empty());
    assert!(a.refresh_token_state(&[9; 32]).await.unwrap().is_none());

    assert!(starts(&family("f0", "u1", Some("c1")), "sso1", true).await);
    b.end_sso_sessions("u1", Some("sso1"), NOW, NOW + 60)
        .await
        .unwrap();
    assert!(
        !starts(&family("f4", "u1", Some("c1")), "sso1", false).await,
        "an ended SSO session"
    );
    assert!(a.app_sessions_of_user("u1", NOW).await.unwrap().is_empty());
}

/// Consent is remembered per user and client, and replaced whole.
async fn consent(a: Shared, b: Shared) {
    a.create_user(&user("u1", "alice")).await.unwrap();
    assert_eq!(b.consented_scope("u1", "c1").await.unwrap(), None);
    a.save_consent("u1", "c1", "openid profile", NOW)
        .await
        .unwrap();
    assert_eq!(
        b.consented_scope("u1", "c1").await.unwrap(),
        Some(vec!["openid".to_owned(), "profile".to_owned()])
    );
    b.save_consent("u1", "c1", "openid", NOW).await.unwrap();
    assert_eq!(
        a.consented_scope("u1", "c1").await.unwrap(),
        Some(vec!["openid".to_owned()])
    );
    assert_eq!(a.consented_scope("u1", "c2").await.unwrap(), None);
}

async fn ping_and_close(a: Shared, b: Shared) {
    a.ping().await.unwrap();
    b.close().await;
    assert!(b.ping().await.is_err(), "a closed store does not answer");
    a.ping().await.unwrap();
}

/// Runs each body against SQLite (a temporary file opened twice) and PostgreSQL (a fresh database, two pools).
macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let dir = tempfile::tempdir().unwrap();
                    let path = dir.path().join("waxseal.db");
                    let a: super::Shared = std::sync::Arc::new(super::SqliteStore::open(&path).await.unwrap());
                    let b: super::Shared = std::sync::Arc::new(super::SqliteStore::open(&path).await.unwrap());
                    super::$name(a.clone(), b.clone()).await;
                    a.close().await;
                    b.close().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(db) = super::TestDatabase::create().await else { return };
                    let a: super::Shared = std::sync::Arc::new(super::PostgresStore::open(&db.url, 8).await.unwrap());
                    let b: super::Shared = std::sync::Arc::new(super::PostgresStore::open(&db.url, 8).await.unwrap());
                    super::$name(a.clone(), b.clone()).await;
                    a.close().await;
                    b.close().await;
                }
            )*
        }
    };
}

contract!(
    users,
    clients,
    resources,
    introspection_reads,
    rotation,
    expiry,
    revocation,
    logout,
    denylist,
    keys,
    one_key_rotation_wins,
    concurrent_presentations_rotate_once,
    reuse_interval,
    concurrent_reissues_stay_within_the_bound,
    concurrent_siblings_continue_one_branch,
    pruning,
    transfer,
    profiles_and_web_clients,
    sso_sessions,
    codes_are_used_once,
    codes_start_no_session_for_a_signed_out_user,
    consent,
    ping_and_close,
);
