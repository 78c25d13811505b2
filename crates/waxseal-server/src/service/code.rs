//! Authorization codes (RFC 6749 §4.1 with PKCE, RFC 7636) and the ID tokens they lead to (OpenID Connect Core
//! §3.1.3).
//!
//! A code is sealed ([`seal`]): it carries everything its exchange is checked against — client, redirect URI, PKCE
//! challenge, scope, nonce, `auth_time`, and the `sid` of the session the exchange will start, chosen now so that
//! a code presented a second time can revoke whatever the first presentation issued (RFC 6749 §4.1.2), even an
//! access token without a refresh token. Issuing one writes nothing. Presenting one records its use first
//! ([`crate::store::SignInStore::use_code`]): of two presentations racing through any number of instances, one
//! finds it unused; the other revokes the `sid`, which the first's session then cannot start with, or loses.

mod seal;

use aws_lc_rs::digest::{SHA256, SHA384, SHA512, digest};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use subtle::ConstantTimeEq as _;
use url::Url;
use waxseal::Algorithm;
use waxseal::dpop::VerifiedProof;

use seal::CodeGrant;
pub(crate) use seal::CodeKey;

use super::authorize::AuthorizationRequest;
use super::encrypt::encrypt_id_token;
use super::resources::invalid_target;
use super::sso::SignedIn;
use super::{
    AuthService, GrantedTokens, invalid_grant, random_id, random_token, refresh_token_digest,
    unauthorized_client,
};
use crate::error::{Error, Result};
use crate::secret::sha256;
use crate::store::{
    AppSessionStart, Client, DenylistSnapshot, GrantType, IdTokenEncryption, TokenFamily, UsedCode,
};

/// How long a code may wait for its exchange: RFC 6749 §4.1.2 recommends at most ten minutes; a client exchanges
/// it within a second or two of receiving it.
pub const CODE_TTL_SECS: u64 = 60;

/// What a code's exchange presents beside the code (RFC 6749 §4.1.3, RFC 7636 §4.5, RFC 8707 §2.2).
#[derive(Debug, Clone, Copy, Default)]
pub struct CodeExchange<'a> {
    /// `redirect_uri`: the authorization request's, exactly.
    pub redirect_uri: Option<&'a str>,
    /// `code_verifier`: the PKCE verifier of the request's challenge.
    pub verifier: Option<&'a str>,
    /// `resource`: absent, or the authorization request's.
    pub resource: Option<&'a str>,
}

/// The claims of an ID token (OpenID Connect Core §2).
#[derive(Serialize)]
struct IdTokenClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    exp: u64,
    iat: u64,
    auth_time: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
    at_hash: String,
    azp: &'a str,
    sid: &'a str,
    amr: [&'static str; 1],
}

/// `at_hash`: the left half of the hash of the access token, with the hash of the ID token's algorithm
/// (OpenID Connect Core §3.1.3.6; SHA-512 for EdDSA over Ed25519).
pub fn at_hash(alg: Algorithm, access_token: &str) -> String {
    let name = alg.to_string();
    let hashed = if name.ends_with("384") {
        digest(&SHA384, access_token.as_bytes())
    } else if name.ends_with("512") || name == "EdDSA" {
        digest(&SHA512, access_token.as_bytes())
    } else {
        digest(&SHA256, access_token.as_bytes())
    };
    let bytes = hashed.as_ref();
    URL_SAFE_NO_PAD.encode(&bytes[..bytes.len() / 2])
}

/// `redirect_uri` with `params` added to its query (after any query it has); without params, `redirect_uri` as it
/// is (no empty `?` added: RP-initiated logout without `state` returns to the registered URI exactly).
pub fn redirect_with(redirect_uri: &str, params: &[(&str, &str)]) -> Result<String> {
    let mut url = Url::parse(redirect_uri).map_err(|_| {
        Error::new(
            crate::error::ErrorKind::InvalidRequest,
            "the redirect URI does not parse",
        )
    })?;
    if !params.is_empty() {
        let mut query = url.query_pairs_mut();
        for (name, value) in params {
            query.append_pair(name, value);
        }
    }
    Ok(url.into())
}

/// Whether `verifier` is an RFC 7636 §4.1 code verifier (43 to 128 unreserved characters) whose S256 challenge is
/// `challenge`; the comparison is constant-time.
fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    let shaped = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    let computed = URL_SAFE_NO_PAD.encode(sha256(verifier));
    shaped & bool::from(computed.as_bytes().ct_eq(challenge.as_bytes()))
}

impl AuthService {
    /// Issues a code for `request` to the user of `signed_in`, granting `scope`, and returns the URL that sends the
    /// browser back to the client with it (`code`, `state`, and the RFC 9207 `iss`).
    pub fn issue_code(
        &self,
        request: &AuthorizationRequest,
        signed_in: &SignedIn,
        scope: &[String],
    ) -> Result<String> {
        let (code, _) = self.codes.seal(&CodeGrant {
            client_id: request.client.client_id.clone(),
            client_registered_at: request.client.created_at,
            user_id: signed_in.user.id.clone(),
            sso_id: signed_in.session.id.clone(),
            sid: random_id()?,
            redirect_uri_hash: URL_SAFE_NO_PAD.encode(sha256(&request.redirect_uri)),
            code_challenge: request.code_challenge.clone(),
            scope: scope.join(" "),
            nonce: request.nonce.clone(),
            auth_time: signed_in.session.auth_time,
            expires_at: self.now().saturating_add(CODE_TTL_SECS),
            dpop_jkt: request.dpop_jkt.clone(),
            resource: request.resource.clone(),
        })?;
        let mut params = vec![("code", code.as_str())];
        if let Some(state) = &request.state {
            params.push(("state", state));
        }
        params.push(("iss", &self.config.issuer));
        redirect_with(&request.redirect_uri, &params)
    }

    /// The authorization code grant (RFC 6749 §4.1.3): exchanges `code` for an access token, an ID token when
    /// `openid` was granted, and a refresh token when `offline_access` was and the client may refresh.
    ///
    /// Every presentation of a code that opens uses it up, whatever the checks decide: a code is presented once.
    /// A `resource` (RFC 8707) may only repeat the authorization request's: the tokens are for that one.
    pub async fn authorization_code_grant(
        &self,
        client: &Client,
        code: &str,
        exchange: CodeExchange<'_>,
        dpop: Option<&VerifiedProof>,
    ) -> Result<GrantedTokens> {
        let CodeExchange {
            redirect_uri,
            verifier,
            resource,
        } = exchange;
        if !client.grant_types.contains(&GrantType::AuthorizationCode) {
            return Err(unauthorized_client(GrantType::AuthorizationCode));
        }
        Self::require_dpop_if_registered(client, dpop)?;
        let unknown = || invalid_grant("the authorization code is unknown or expired");
        let (code, id) = self.codes.open(code).ok_or_else(unknown)?;
        let now = self.now();
        self.use_code(UsedCode {
            id,
            sid: code.sid.clone(),
            expires_at: code.expires_at,
        })
        .await?;
        // Used up from here on, whatever the checks below decide: a code is presented once.
        if code.expires_at <= now {
            return Err(unknown());
        }
        if let Some(refused) = exchange_mismatch(&code, client, redirect_uri, verifier) {
            return Err(refused);
        }
        check_dpop_jkt(&code, dpop)?;
        if resource.is_some_and(|r| code.resource.as_deref() != Some(r)) {
            return Err(invalid_target(
                "resource must be the one of the authorization request (or absent): a code is for one audience",
            ));
        }
        if let Some(uri) = &code.resource {
            // Removed since the code was issued: no token for it any more.
            self.registered_resource(uri).await?;
        }
        let scopes: Vec<&str> = code.scope.split(' ').filter(|s| !s.is_empty()).collect();
        let refreshable = client.grant_types.contains(&GrantType::RefreshToken)
            && scopes.contains(&"offline_access");
        let ttl = if refreshable {
            self.config.refresh_absolute_ttl
        } else {
            self.config.access_token_ttl
        };
        let family = TokenFamily {
            sid: code.sid.clone(),
            user_id: code.user_id.clone(),
            created_at: now,
            expires_at: now.saturating_add(ttl.as_secs()),
            revoked_at: None,
            client_id: Some(client.client_id.clone()),
            scope: Some(code.scope.clone()),
            // RFC 9449 §5: a public client's refresh tokens are bound to the key of its proof; a confidential
            // client's stay bound to its authentication.
            dpop_jkt: dpop
                .filter(|_| client.web.public)
                .map(|proof| proof.jkt.clone()),
            resource: code.resource.clone(),
        };
        let refresh_token = random_token()?;
        let record = if refreshable {
            Some(self.refresh_record(&refresh_token, now)?)
        } else {
            None
        };
        let session = AppSessionStart {
            family: &family,
            sso_id: &code.sso_id,
            first: record.as_ref(),
        };
        if !self.store.start_app_session(session).await? {
            return Err(invalid_grant(
                "the user was signed out or disabled since the code was issued: sign in again",
            ));
        }
        // The family has the code's scope: the user's own scopes are not needed (nor read).
        let pair = self.pair(
            client.encrypt_access_tokens,
            &[],
            &family,
            refresh_token,
            now,
            None,
            dpop.map(|p| p.jkt.as_str()),
        )?;
        let mut granted = GrantedTokens::from(pair);
        if !refreshable {
            granted.refresh_token = None;
        }
        if scopes.contains(&"openid") {
            granted.id_token = Some(self.id_token(IdTokenFor {
                user_id: &code.user_id,
                client_id: &client.client_id,
                alg: client.web.id_token_alg,
                encryption: client.web.id_token_encryption.as_ref(),
                auth_time: code.auth_time,
                nonce: code.nonce.as_deref(),
                sso_id: &code.sso_id,
                access_token: &granted.access_token,
            })?);
        }
        self.metrics.issued.authorization_code.increment(1);
        tracing::info!(user_id = %code.user_id, sid = %family.sid, client_id = %client.client_id, "authorization code exchanged");
        Ok(granted)
    }

    /// Records that a code was presented. A second presentation revokes what the first started (RFC 6749
    /// §4.1.2), here and on every instance, and is refused.
    async fn use_code(&self, used: UsedCode) -> Result<()> {
        if self.store.use_code(&used).await? {
            return Ok(());
        }
        let now = self.now();
        let deny_until = self.sid_deny_until(now);
        self.store
            .revoke_session(&used.sid, now, deny_until)
            .await?;
        self.revoked(DenylistSnapshot {
            sids: vec![(used.sid.clone(), deny_until)],
            ..Default::default()
        })
        .await;
        tracing::warn!(sid = %used.sid, "authorization code presented twice: its tokens are revoked");
        Err(invalid_grant(
            "the authorization code was already used; the tokens issued for it are revoked",
        ))
    }
}

/// Why the exchange of `code` by `client` must be refused, if it must: another client (or an earlier
/// registration under the same id), another redirect URI, or a PKCE verifier that does not match.
fn exchange_mismatch(
    code: &CodeGrant,
    client: &Client,
    redirect_uri: Option<&str>,
    verifier: Option<&str>,
) -> Option<Error> {
    if code.client_id != client.client_id || code.client_registered_at != client.created_at {
        return Some(invalid_grant(
            "the authorization code was issued to another client",
        ));
    }
    let presented = redirect_uri.map(|uri| URL_SAFE_NO_PAD.encode(sha256(uri)));
    if presented.as_deref() != Some(code.redirect_uri_hash.as_str()) {
        return Some(invalid_grant(
            "redirect_uri must be the one of the authorization request, exactly",
        ));
    }
    match (&code.code_challenge, verifier) {
        (Some(challenge), verifier) if !verifier.is_some_and(|v| pkce_matches(v, challenge)) => {
            Some(invalid_grant(
                "code_verifier is missing or does not match the code_challenge (PKCE S256)",
            ))
        }
        // RFC 9700 §4.8.2: a verifier for a code requested without a challenge means the challenge was lost on the
        // way (a downgrade attack), not that PKCE can be skipped.
        (None, Some(_)) => Some(invalid_grant(
            "code_verifier was sent, but the authorization request had no code_challenge",
        )),
        _ => None,
    }
}

/// RFC 9449 §10: a code requested with `dpop_jkt` is exchanged only with a proof by that key. A code requested
/// without one may be exchanged with any proof, or none.
fn check_dpop_jkt(code: &CodeGrant, dpop: Option<&VerifiedProof>) -> Result<()> {
    let Some(expected) = &code.dpop_jkt else {
        return Ok(());
    };
    match dpop {
        Some(proof) if proof.jkt == *expected => Ok(()),
        Some(_) => Err(Error::new(
            crate::error::ErrorKind::DpopProof,
            "the DPoP proof's key is not the one the authorization request named in dpop_jkt",
        )),
        None => Err(Error::new(
            crate::error::ErrorKind::DpopProof,
            "the authorization request named a DPoP key (dpop_jkt): send a DPoP proof made with it",
        )),
    }
}

/// What an ID token is issued for.
#[derive(Clone, Copy)]
struct IdTokenFor<'a> {
    user_id: &'a str,
    client_id: &'a str,
    /// The algorithm the client registered for its ID tokens (`None`: the server's default).
    alg: Option<Algorithm>,
    /// The client's key its ID tokens are encrypted to (`None`: signed only).
    encryption: Option<&'a IdTokenEncryption>,
    auth_time: u64,
    nonce: Option<&'a str>,
    sso_id: &'a str,
    access_token: &'a str,
}

impl AuthService {
    /// Signs an ID token (`typ: JWT`) beside `access_token`: with the signing key, or the RS256 key for a client
    /// registered for RS256; then, for a client registered with an encryption key, encrypts it to that key (a
    /// nested JWT, `cty: JWT`: [`super::encrypt`]).
    fn id_token(&self, t: IdTokenFor<'_>) -> Result<String> {
        let now = self.now();
        let keyring = self.keyring();
        let (signer, alg) = keyring.id_token_signer(t.alg)?;
        let claims = IdTokenClaims {
            iss: &self.config.issuer,
            sub: t.user_id,
            aud: t.client_id,
            exp: now.saturating_add(self.config.access_token_ttl.as_secs()),
            iat: now,
            auth_time: t.auth_time,
            nonce: t.nonce,
            at_hash: at_hash(alg, t.access_token),
            azp: t.client_id,
            sid: t.sso_id,
            amr: ["pwd"],
        };
        let signed = signer
            .sign(&claims)
            .map_err(|e| Error::crypto(format!("signing failed: {e}")))?;
        match t.encryption {
            Some(to) => encrypt_id_token(&signed, to),
            None => Ok(signed),
        }
    }

    /// The refresh token grant for an authenticated client: [`AuthService::refresh_for_client`], and for a
    /// session started by an OpenID Connect sign-in (scope `openid`), a new ID token with the same `iss`, `sub`,
    /// `aud`, `azp`, `auth_time` and `sid` as the first (OpenID Connect Core §12.2).
    pub async fn refresh_grant(
        &self,
        client: &Client,
        refresh_token: &str,
        scope: Option<&str>,
        resource: Option<&str>,
        dpop: Option<&VerifiedProof>,
    ) -> Result<GrantedTokens> {
        // Read before the rotation, which must be the last thing that can fail: a client answered an error after
        // its token was consumed would retry with it and revoke its own session.
        let mut signed_in = None;
        if client.grant_types.contains(&GrantType::AuthorizationCode)
            && let Some(digest) = refresh_token_digest(refresh_token)
            && let Some(family) = self.store.family_of_token(&digest).await?
            && family.client_id.as_deref() == Some(client.client_id.as_str())
            && family
                .scope
                .as_deref()
                .is_some_and(|s| s.split(' ').any(|s| s == "openid"))
        {
            signed_in = self.store.sso_session_of_family(&family.sid).await?;
        }
        let pair = self
            .refresh_for_client(client, refresh_token, scope, resource, dpop)
            .await?;
        let openid = pair
            .scope
            .as_deref()
            .is_some_and(|s| s.split(' ').any(|s| s == "openid"));
        let user_id = signed_in.as_ref().map(|s| s.user_id.clone());
        let mut granted = GrantedTokens::from(pair);
        if let (Some(sso), Some(user_id), true) = (signed_in, user_id, openid) {
            granted.id_token = Some(self.id_token(IdTokenFor {
                user_id: &user_id,
                client_id: &client.client_id,
                alg: client.web.id_token_alg,
                encryption: client.web.id_token_encryption.as_ref(),
                auth_time: sso.auth_time,
                nonce: None,
                sso_id: &sso.id,
                access_token: &granted.access_token,
            })?);
        }
        Ok(granted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_matches_the_rfc_7636_example() {
        // RFC 7636 Appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(pkce_matches(verifier, challenge));
        assert!(!pkce_matches(
            verifier,
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cN"
        ));
        assert!(!pkce_matches("short", challenge));
        assert!(
            !pkce_matches(challenge, challenge),
            "the challenge is not its own verifier"
        );
    }

    #[test]
    fn at_hash_is_the_left_half_of_the_algorithms_hash() {
        // OpenID Connect Core §A.3 example: the access token and its at_hash under RS256.
        let token = "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y";
        assert_eq!(at_hash(Algorithm::RS256, token), "77QmUPtjPfzWtF2AnpK9RQ");
        assert_eq!(at_hash(Algorithm::ES384, token).len(), 32);
        assert_eq!(at_hash(Algorithm::EdDSA, token).len(), 43);
    }

    #[test]
    fn redirects_keep_the_registered_query() {
        let url = redirect_with(
            "https://app.example/cb?tenant=a",
            &[("code", "x y"), ("state", "s&t")],
        )
        .unwrap();
        assert_eq!(url, "https://app.example/cb?tenant=a&code=x+y&state=s%26t");
    }

    #[test]
    fn a_redirect_without_params_is_the_registered_uri() {
        for uri in ["https://app.example/", "https://app.example/bye?tenant=a"] {
            assert_eq!(redirect_with(uri, &[]).unwrap(), uri);
        }
    }
}
