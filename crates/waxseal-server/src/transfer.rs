//! Moving a deployment from one database to another (`waxseal export` / `waxseal import`), typically the embedded
//! SQLite to PostgreSQL when one instance is no longer enough, without logging anybody out.
//!
//! The dump is a versioned JSON document holding every row: users with their argon2id hashes, clients with their
//! secret digests, signing keys still sealed under the master key (which the operator copies separately: the dump
//! alone cannot sign), sessions with their refresh-token digests — consumed ones included, so that a token used
//! before the move is still detected as reused after it —, denied `jti`s and `sid`s, and per-user "not before"
//! times, and the records of revoked keys (kids only). It holds no secret in clear, but password hashes and digests
//! are worth protecting: keep it mode 0600.
//!
//! Import is one transaction, refused on a store that already holds users, clients, keys or sessions unless
//! `replace` is asked for, and only after the keys were checked to open with the master key the target will use. A
//! dump holding a key revoked in the target (or in the dump itself) is refused: it was taken before the revocation,
//! and importing it would bring a leaked key back.

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use waxseal::Algorithm;

use crate::error::{Error, ErrorKind, Result};
use crate::master_key::MasterKey;
use crate::store::{
    Client, Contents, DenylistSnapshot, FamilyRotation, GrantType, Profile, RefreshTokenRecord,
    Resource, RevokedKey, Store, StoredKey, StoredRefreshToken, TokenFamily, User, WebClient,
};

mod document;
pub use document::{
    Dump, DumpClient, DumpDenied, DumpKey, DumpRefreshToken, DumpResource, DumpRevokedKey,
    DumpRotated, DumpSession, DumpUser, FORMAT, VERSION,
};

fn bad(what: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorKind::InvalidRequest,
        format!("the dump is not usable: {what}"),
    )
}

fn digest(text: &str, what: &str) -> Result<[u8; 32]> {
    URL_SAFE_NO_PAD
        .decode(text)
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(|| bad(format!("a {what} is not 32 bytes of base64url")))
}

fn denied(rows: &[(String, u64)]) -> Vec<DumpDenied> {
    rows.iter()
        .map(|(id, time)| DumpDenied {
            id: id.clone(),
            time: *time,
        })
        .collect()
}

fn pairs(rows: &[DumpDenied]) -> Vec<(String, u64)> {
    rows.iter().map(|d| (d.id.clone(), d.time)).collect()
}

impl Dump {
    /// The dump of `contents`, written at `now`.
    pub fn new(contents: &Contents, now: u64) -> Dump {
        let rotated: HashMap<&str, &FamilyRotation> = contents
            .rotations
            .iter()
            .map(|r| (r.sid.as_str(), r))
            .collect();
        Dump {
            format: FORMAT.into(),
            version: VERSION,
            exported_at: now,
            users: contents
                .users
                .iter()
                .map(|u| DumpUser {
                    id: u.id.clone(),
                    username: u.username.clone(),
                    password_hash: u.password_hash.clone(),
                    disabled: u.disabled,
                    scopes: u.scopes.clone(),
                    created_at: u.created_at,
                    email: u.profile.email.clone(),
                    name: u.profile.name.clone(),
                })
                .collect(),
            clients: contents
                .clients
                .iter()
                .map(|c| DumpClient {
                    client_id: c.client_id.clone(),
                    secret_sha256: URL_SAFE_NO_PAD.encode(c.secret_hash),
                    name: c.name.clone(),
                    grant_types: c.grant_types.iter().map(|g| g.as_str().into()).collect(),
                    scopes: c.scopes.clone(),
                    created_at: c.created_at,
                    may_introspect: c.may_introspect,
                    redirect_uris: c.web.redirect_uris.clone(),
                    post_logout_redirect_uris: c.web.post_logout_redirect_uris.clone(),
                    web_origins: c.web.web_origins.clone(),
                    public: c.web.public,
                    first_party: c.web.first_party,
                    id_token_alg: c.web.id_token_alg.map(|alg| alg.to_string()),
                    pkce_exempt: c.web.pkce_exempt,
                    encryption_jwk: c.web.id_token_encryption.as_ref().map(|e| e.jwk.clone()),
                    encryption_enc: c
                        .web
                        .id_token_encryption
                        .as_ref()
                        .map(|e| e.enc.name().to_owned()),
                    encrypt_access_tokens: c.encrypt_access_tokens,
                    require_dpop: c.require_dpop,
                    registered: c.web.registered,
                    last_used_at: c.web.last_used_at,
                })
                .collect(),
            resources: contents
                .resources
                .iter()
                .map(|r| DumpResource {
                    uri: r.uri.clone(),
                    scopes: r.scopes.clone(),
                    created_at: r.created_at,
                })
                .collect(),
            signing_keys: contents
                .keys
                .iter()
                .map(|k| DumpKey {
                    kid: k.kid.clone(),
                    alg: k.alg.clone(),
                    sealed_private_key: URL_SAFE_NO_PAD.encode(&k.encrypted_private_key),
                    created_at: k.created_at,
                    activates_at: k.activates_at,
                })
                .collect(),
            revoked_signing_keys: contents
                .revoked_keys
                .iter()
                .map(|r| DumpRevokedKey {
                    kid: r.kid.clone(),
                    alg: r.alg.clone(),
                    created_at: r.created_at,
                    revoked_at: r.revoked_at,
                })
                .collect(),
            sessions: contents
                .families
                .iter()
                .map(|f| DumpSession {
                    sid: f.sid.clone(),
                    user_id: f.user_id.clone(),
                    created_at: f.created_at,
                    expires_at: f.expires_at,
                    revoked_at: f.revoked_at,
                    client_id: f.client_id.clone(),
                    scope: f.scope.clone(),
                    dpop_jkt: f.dpop_jkt.clone(),
                    resource: f.resource.clone(),
                    rotated: rotated.get(f.sid.as_str()).map(|r| DumpRotated {
                        sha256: URL_SAFE_NO_PAD.encode(r.hash),
                        at: r.rotated_at,
                        reissues: r.reissues,
                    }),
                })
                .collect(),
            refresh_tokens: contents
                .refresh_tokens
                .iter()
                .map(|t| DumpRefreshToken {
                    sha256: URL_SAFE_NO_PAD.encode(t.record.hash),
                    sid: t.record.sid.clone(),
                    created_at: t.record.created_at,
                    expires_at: t.record.expires_at,
                    used_at: t.used_at,
                    parent_sha256: t.parent.map(|p| URL_SAFE_NO_PAD.encode(p)),
                })
                .collect(),
            denied_jtis: denied(&contents.denylist.jtis),
            denied_sids: denied(&contents.denylist.sids),
            not_before: denied(&contents.denylist.not_before),
        }
    }

    /// Reads a dump, refusing another format or a newer version.
    pub fn from_json(text: &str) -> Result<Dump> {
        #[derive(Deserialize)]
        struct Head {
            format: Option<String>,
            version: Option<u32>,
        }
        let head: Head = serde_json::from_str(text).map_err(|e| bad(format!("not JSON: {e}")))?;
        if head.format.as_deref() != Some(FORMAT) {
            return Err(bad(format!(
                "it is not a waxseal dump (no \"format\": \"{FORMAT}\")"
            )));
        }
        match head.version {
            Some(1..=VERSION) => {}
            Some(v) => {
                return Err(bad(format!(
                    "it is version {v}, and this waxseal reads version {VERSION}: import it with the waxseal that \
                     wrote it, or a later one"
                )));
            }
            None => return Err(bad("it has no version")),
        }
        serde_json::from_str(text).map_err(bad)
    }

    /// The rows to store.
    pub fn contents(&self) -> Result<Contents> {
        Ok(Contents {
            users: self
                .users
                .iter()
                .map(|u| User {
                    id: u.id.clone(),
                    username: u.username.clone(),
                    password_hash: u.password_hash.clone(),
                    disabled: u.disabled,
                    scopes: u.scopes.clone(),
                    created_at: u.created_at,
                    profile: Profile {
                        email: u.email.clone(),
                        name: u.name.clone(),
                    },
                })
                .collect(),
            clients: self
                .clients
                .iter()
                .map(|c| {
                    // An origin is compared as text at request time, so only one written as browsers send it.
                    for origin in &c.web_origins {
                        crate::service::check_web_origin(origin).map_err(bad)?;
                    }
                    Ok(Client {
                        client_id: c.client_id.clone(),
                        secret_hash: digest(&c.secret_sha256, "client secret digest")?,
                        name: c.name.clone(),
                        grant_types: c
                            .grant_types
                            .iter()
                            .map(|g| {
                                GrantType::parse(g)
                                    .ok_or_else(|| bad(format!("unknown grant type {g:?}")))
                            })
                            .collect::<Result<_>>()?,
                        scopes: c.scopes.clone(),
                        created_at: c.created_at,
                        may_introspect: c.may_introspect,
                        web: WebClient {
                            redirect_uris: c.redirect_uris.clone(),
                            post_logout_redirect_uris: c.post_logout_redirect_uris.clone(),
                            web_origins: c.web_origins.clone(),
                            public: c.public,
                            first_party: c.first_party,
                            id_token_alg: c
                                .id_token_alg
                                .as_deref()
                                .map(|name| {
                                    Algorithm::from_name(name).map_err(|_| {
                                        bad(format!("unknown ID-token algorithm {name:?}"))
                                    })
                                })
                                .transpose()?,
                            pkce_exempt: c.pkce_exempt,
                            id_token_encryption: c.id_token_encryption()?,
                            registered: c.registered,
                            last_used_at: c.last_used_at,
                        },
                        encrypt_access_tokens: c.encrypt_access_tokens,
                        require_dpop: c.require_dpop,
                    })
                })
                .collect::<Result<_>>()?,
            resources: self
                .resources
                .iter()
                .map(|r| Resource {
                    uri: r.uri.clone(),
                    scopes: r.scopes.clone(),
                    created_at: r.created_at,
                })
                .collect(),
            keys: self
                .signing_keys
                .iter()
                .map(|k| {
                    Ok(StoredKey {
                        kid: k.kid.clone(),
                        alg: k.alg.clone(),
                        encrypted_private_key: URL_SAFE_NO_PAD
                            .decode(&k.sealed_private_key)
                            .map_err(|_| bad(format!("key {}: not base64url", k.kid)))?,
                        created_at: k.created_at,
                        activates_at: k.activates_at,
                    })
                })
                .collect::<Result<_>>()?,
            revoked_keys: self
                .revoked_signing_keys
                .iter()
                .map(|r| RevokedKey {
                    kid: r.kid.clone(),
                    alg: r.alg.clone(),
                    created_at: r.created_at,
                    revoked_at: r.revoked_at,
                })
                .collect(),
            families: self
                .sessions
                .iter()
                .map(|s| TokenFamily {
                    sid: s.sid.clone(),
                    user_id: s.user_id.clone(),
                    created_at: s.created_at,
                    expires_at: s.expires_at,
                    revoked_at: s.revoked_at,
                    client_id: s.client_id.clone(),
                    scope: s.scope.clone(),
                    dpop_jkt: s.dpop_jkt.clone(),
                    resource: s.resource.clone(),
                })
                .collect(),
            refresh_tokens: self
                .refresh_tokens
                .iter()
                .map(|t| {
                    Ok(StoredRefreshToken {
                        record: RefreshTokenRecord {
                            hash: digest(&t.sha256, "refresh-token digest")?,
                            sid: t.sid.clone(),
                            created_at: t.created_at,
                            expires_at: t.expires_at,
                        },
                        used_at: t.used_at,
                        parent: t
                            .parent_sha256
                            .as_deref()
                            .map(|p| digest(p, "refresh-token parent digest"))
                            .transpose()?,
                    })
                })
                .collect::<Result<_>>()?,
            rotations: self
                .sessions
                .iter()
                .filter_map(|s| {
                    s.rotated.as_ref().map(|r| {
                        Ok(FamilyRotation {
                            sid: s.sid.clone(),
                            hash: digest(&r.sha256, "rotated refresh-token digest")?,
                            rotated_at: r.at,
                            reissues: r.reissues,
                        })
                    })
                })
                .collect::<Result<_>>()?,
            denylist: DenylistSnapshot {
                jtis: pairs(&self.denied_jtis),
                sids: pairs(&self.denied_sids),
                not_before: pairs(&self.not_before),
            },
        })
    }

    /// How many rows of each kind, for progress and summaries.
    pub fn counts(&self) -> [(&'static str, usize); 9] {
        [
            ("users", self.users.len()),
            ("clients", self.clients.len()),
            ("resources", self.resources.len()),
            ("signing keys", self.signing_keys.len()),
            ("sessions", self.sessions.len()),
            ("refresh tokens", self.refresh_tokens.len()),
            ("denied jtis", self.denied_jtis.len()),
            ("denied sids", self.denied_sids.len()),
            ("not-before times", self.not_before.len()),
        ]
    }

    /// Checks that every signing key opens with `master`: importing keys the target cannot decrypt would leave it
    /// unable to sign or verify.
    pub fn check_keys(&self, master: &MasterKey) -> Result<()> {
        for key in &self.signing_keys {
            let sealed = URL_SAFE_NO_PAD
                .decode(&key.sealed_private_key)
                .map_err(|_| bad(format!("key {}: not base64url", key.kid)))?;
            master.open(&sealed, key.kid.as_bytes()).map_err(|_| {
                Error::config(format!(
                    "signing key {} in the dump does not open with this master key: give the target the master key \
                     of the exported deployment (its WAXSEAL_MASTER_KEY, or its DATA_DIR/master.key copied into \
                     --data-dir)",
                    key.kid
                ))
            })?;
        }
        Ok(())
    }
}

/// Reads every row of `store` into a dump written at `now`.
pub async fn export(store: &dyn Store, now: u64) -> Result<Dump> {
    Ok(Dump::new(&store.export_all().await?, now))
}

/// Writes `dump` into `store` in one transaction; [`ErrorKind::Conflict`] when the store is not empty and `replace`
/// is not set (nothing is written then).
pub async fn import(store: &dyn Store, dump: &Dump, replace: bool) -> Result<()> {
    let contents = dump.contents()?;
    refuse_revoked_keys(&contents, &store.revoked_keys().await?)?;
    if store.import_all(&contents, replace).await? {
        Ok(())
    } else {
        Err(Error::new(
            ErrorKind::Conflict,
            "the target database already holds users, clients, keys or sessions; import into an empty database, \
             or replace everything in it with --replace",
        ))
    }
}

/// Refuses contents holding a key that was revoked — in the target (`revoked`) or in the dump itself: importing a
/// dump taken before a revocation must not bring the leaked key back.
fn refuse_revoked_keys(contents: &Contents, revoked: &[RevokedKey]) -> Result<()> {
    let record = |kid: &str| {
        revoked
            .iter()
            .chain(&contents.revoked_keys)
            .find(|r| r.kid == kid)
    };
    match contents.keys.iter().find_map(|k| record(&k.kid)) {
        Some(r) => Err(Error::new(
            ErrorKind::Conflict,
            format!(
                "signing key {} in the dump was revoked (at {}, Unix seconds) and must never sign or verify again; \
                 the dump was taken before the revocation: export a new one, or delete that key from the dump's \
                 signing_keys",
                r.kid, r.revoked_at
            ),
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests;
