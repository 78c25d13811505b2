//! The dump's format: versions, the permission flags' defaults, and a round trip of every row.

use super::*;

#[test]
fn other_formats_and_newer_versions_are_refused_by_name() {
    let err = Dump::from_json("{\"users\": []}").unwrap_err();
    assert!(err.message().contains("not a waxseal dump"), "{err}");
    let newer = VERSION + 1;
    let err = Dump::from_json(&format!(
        "{{\"format\": \"waxseal-dump\", \"version\": {newer}}}"
    ))
    .unwrap_err();
    assert!(err.message().contains(&format!("version {newer}")), "{err}");
    let err = Dump::from_json("[").unwrap_err();
    assert!(err.message().contains("not JSON"), "{err}");
}

#[test]
fn the_introspection_permission_is_written_only_when_set_and_absent_means_off() {
    let client = |may_introspect| DumpClient {
        client_id: "c".into(),
        secret_sha256: URL_SAFE_NO_PAD.encode([3; 32]),
        name: "n".into(),
        grant_types: vec!["client_credentials".into()],
        scopes: vec![],
        created_at: 1,
        may_introspect,
        redirect_uris: vec![],
        post_logout_redirect_uris: vec![],
        web_origins: vec![],
        id_token_alg: None,
        pkce_exempt: false,
        encryption_jwk: None,
        encryption_enc: None,
        encrypt_access_tokens: false,
        require_dpop: false,
        public: false,
        first_party: false,
        registered: false,
        last_used_at: None,
    };
    let plain = serde_json::to_value(client(false)).unwrap();
    assert!(plain.get("may_introspect").is_none(), "{plain}");
    // A dump from a build before the permission existed reads back with it off.
    let read: DumpClient = serde_json::from_value(plain).unwrap();
    assert!(!read.may_introspect);
    let marked = serde_json::to_value(client(true)).unwrap();
    assert_eq!(marked["may_introspect"], true);
    assert!(
        serde_json::from_value::<DumpClient>(marked)
            .unwrap()
            .may_introspect
    );
}

#[test]
fn a_dump_reads_back_to_the_same_rows() {
    let contents = Contents {
        clients: vec![Client {
            client_id: "c".into(),
            secret_hash: [3; 32],
            name: "n".into(),
            grant_types: vec![GrantType::ClientCredentials],
            scopes: vec!["s".into()],
            created_at: 1,
            may_introspect: true,
            web: WebClient {
                redirect_uris: vec!["https://app.example/cb".into()],
                post_logout_redirect_uris: vec!["https://app.example/bye".into()],
                web_origins: vec!["https://spa.example".into()],
                public: false,
                first_party: true,
                id_token_alg: Some(Algorithm::RS256),
                pkce_exempt: true,
                id_token_encryption: Some(crate::store::IdTokenEncryption {
                    jwk: r#"{"kty":"RSA","alg":"RSA-OAEP-256","n":"AQAB","e":"AQAB"}"#.into(),
                    enc: waxseal::jwe::ContentEncryption::A128CbcHs256,
                }),
                registered: true,
                last_used_at: Some(7),
            },
            encrypt_access_tokens: true,
            require_dpop: true,
        }],
        refresh_tokens: vec![StoredRefreshToken {
            record: RefreshTokenRecord {
                hash: [9; 32],
                sid: "s".into(),
                created_at: 1,
                expires_at: 2,
            },
            used_at: Some(2),
            parent: Some([8; 32]),
        }],
        rotations: vec![FamilyRotation {
            sid: "s".into(),
            hash: [8; 32],
            rotated_at: 2,
            reissues: 1,
        }],
        families: vec![TokenFamily {
            sid: "s".into(),
            user_id: "u".into(),
            created_at: 1,
            expires_at: 9,
            revoked_at: None,
            client_id: None,
            scope: None,
            dpop_jkt: None,
            resource: Some("https://api.example/".into()),
        }],
        resources: vec![Resource {
            uri: "https://api.example/".into(),
            scopes: vec!["read".into()],
            created_at: 3,
        }],
        ..Contents::default()
    };
    let text = serde_json::to_string(&Dump::new(&contents, 5)).unwrap();
    let back = Dump::from_json(&text).unwrap().contents().unwrap();
    assert_eq!(back.clients, contents.clients);
    assert_eq!(back.refresh_tokens, contents.refresh_tokens);
    assert_eq!(back.rotations, contents.rotations);
    assert_eq!(back.resources, contents.resources);
    assert_eq!(back.families, contents.families);
}

#[test]
fn a_version_1_dump_still_reads() {
    let text = r#"{"format": "waxseal-dump", "version": 1, "exported_at": 5, "users": [], "clients": [],
        "signing_keys": [], "sessions": [{"sid": "s", "user_id": "u", "created_at": 1, "expires_at": 9,
        "revoked_at": null, "client_id": null, "scope": null}],
        "refresh_tokens": [{"sha256": "CQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQk", "sid": "s",
        "created_at": 1, "expires_at": 2, "used_at": null}],
        "denied_jtis": [], "denied_sids": [], "not_before": []}"#;
    let back = Dump::from_json(text).unwrap().contents().unwrap();
    assert_eq!(back.refresh_tokens[0].parent, None);
    assert!(back.rotations.is_empty());
}
