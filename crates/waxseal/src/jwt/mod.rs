//! JSON Web Tokens (RFC 7519): sign typed claims, verify and validate them.
//!
//! [`Verifier`] is built once with the keys and the rules; [`Verifier::verify`] is then a cheap call. It checks, in
//! order: size, structure, header, algorithm (from the keys, never from the token), signature, and only then
//! parses the claims — first into [`RegisteredClaims`] for validation, last into the caller's type.

mod claims;
mod nested;
mod unverified;

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::alg::{Algorithm, AlgorithmSet};
use crate::b64;
use crate::error::{Error, ErrorKind, Result, human_duration, quote};
use crate::json::{self, Limits};
use crate::jwk::KeySet;
use crate::jws::{Header, HeaderBuilder, JwsVerifier};
use crate::keys::SigningKey;

use claims::ClaimsSink;
pub use claims::{Audience, Claims, Confirmation, NumericDate, RegisteredClaims};
pub use nested::{NestedSigner, NestedVerifier};
pub use unverified::{UnverifiedToken, decode_unverified, decode_unverified_with_limits};

/// Where "now" comes from. Tests inject a fixed clock; production uses [`SystemClock`].
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> NumericDate;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> NumericDate {
        NumericDate::now()
    }
}

/// A clock stopped at one instant, for tests.
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub NumericDate);

impl Clock for FixedClock {
    fn now(&self) -> NumericDate {
        self.0
    }
}

type Check = dyn Fn(&Header, &Map<String, Value>) -> std::result::Result<(), String> + Send + Sync;

/// Verifies and validates JWTs. Build it once; [`Verifier::verify`] takes `&self` and is safe to share.
///
/// Defaults: algorithms are those of the keys; `exp` is required; 60 s leeway; a token with an `aud` claim is
/// refused unless an audience is configured (RFC 7519 §4.1.3) or [`Verifier::any_audience`] is called.
///
/// ```
/// use std::time::Duration;
/// use waxseal::{Algorithm, SigningKey, jwt::{Claims, Signer, Verifier}};
/// let key = SigningKey::generate(Algorithm::ES256)?;
/// let token = Signer::new(&key).sign(
///     &Claims::new(serde_json::json!({"scope": "read"}))
///         .issuer("https://auth.example").audience("api").expires_in(Duration::from_secs(60)),
/// )?;
/// let verifier = Verifier::new(key.verifying_key()?).issuer("https://auth.example").audience("api");
/// let claims = verifier.verify::<serde_json::Value>(&token)?;
/// assert_eq!(claims.custom["scope"], "read");
/// # Ok::<(), waxseal::Error>(())
/// ```
#[derive(Clone)]
pub struct Verifier {
    jws: JwsVerifier,
    leeway: u64,
    require_exp: bool,
    reject_future_iat: bool,
    max_age: Option<u64>,
    issuers: Vec<String>,
    audiences: Vec<String>,
    any_audience: bool,
    subject: Option<String>,
    required: Vec<String>,
    typ: Option<String>,
    check: Option<Arc<Check>>,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("algorithms", &self.jws.allowed_algorithms())
            .field("issuers", &self.issuers)
            .field("audiences", &self.audiences)
            .field("leeway", &self.leeway)
            .finish_non_exhaustive()
    }
}

impl Verifier {
    /// A verifier trusting `keys` (one [`VerifyingKey`](crate::VerifyingKey) or a [`KeySet`]).
    pub fn new(keys: impl Into<KeySet>) -> Self {
        Verifier {
            jws: JwsVerifier::new(keys),
            leeway: 60,
            require_exp: true,
            reject_future_iat: false,
            max_age: None,
            issuers: Vec::new(),
            audiences: Vec::new(),
            any_audience: false,
            subject: None,
            required: Vec::new(),
            typ: None,
            check: None,
            clock: Arc::new(SystemClock),
        }
    }

    /// Narrows the allowed algorithms; it can never widen them beyond what the keys were built for.
    #[must_use]
    pub fn algorithms(mut self, algs: impl IntoIterator<Item = Algorithm>) -> Self {
        self.jws = self.jws.algorithms(algs);
        self
    }

    /// The algorithms this verifier accepts.
    pub fn allowed_algorithms(&self) -> AlgorithmSet {
        self.jws.allowed_algorithms()
    }

    /// Accepts tokens whose `iss` is `iss` (call again to accept several issuers).
    #[must_use]
    pub fn issuer(mut self, iss: impl Into<String>) -> Self {
        self.issuers.push(iss.into());
        self
    }

    /// Accepts tokens whose `aud` names `aud` (call again to accept several). Tokens without `aud` are then refused.
    #[must_use]
    pub fn audience(mut self, aud: impl Into<String>) -> Self {
        self.audiences.push(aud.into());
        self
    }

    /// Accepts any `aud`, for inspectors and tools that check the audience elsewhere.
    #[must_use]
    pub fn any_audience(mut self) -> Self {
        self.any_audience = true;
        self
    }

    /// Requires `sub` to be `sub`.
    #[must_use]
    pub fn subject(mut self, sub: impl Into<String>) -> Self {
        self.subject = Some(sub.into());
        self
    }

    /// Clock skew tolerated on `exp`, `nbf` and `iat` (default 60 s).
    #[must_use]
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway.as_secs();
        self
    }

    /// Whether `exp` is required (default true). Tokens that never expire are rarely what you want.
    #[must_use]
    pub fn require_exp(mut self, required: bool) -> Self {
        self.require_exp = required;
        self
    }

    /// Refuses tokens whose `iat` is in the future (beyond the leeway).
    #[must_use]
    pub fn reject_future_iat(mut self) -> Self {
        self.reject_future_iat = true;
        self
    }

    /// Refuses tokens issued more than `age` ago; `iat` becomes required.
    #[must_use]
    pub fn max_age(mut self, age: Duration) -> Self {
        self.max_age = Some(age.as_secs());
        self
    }

    /// Requires these claims to be present.
    #[must_use]
    pub fn require(mut self, claims: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.required.extend(claims.into_iter().map(Into::into));
        self
    }

    /// Requires the `typ` header to be `typ`, compared as RFC 7515 §4.1.9 says: case-insensitively, with an
    /// optional `application/` prefix. For access tokens use `at+jwt` (RFC 9068).
    #[must_use]
    pub fn typ(mut self, typ: impl Into<String>) -> Self {
        self.typ = Some(typ.into());
        self
    }

    /// Adds a check of your own, run after every built-in one; return `Err(reason)` to refuse the token.
    #[must_use]
    pub fn check(
        mut self,
        check: impl Fn(&Header, &Map<String, Value>) -> std::result::Result<(), String>
        + Send
        + Sync
        + 'static,
    ) -> Self {
        self.check = Some(Arc::new(check));
        self
    }

    /// Replaces the clock (for tests).
    #[must_use]
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Replaces the input limits.
    #[must_use]
    pub fn limits(mut self, limits: Limits) -> Self {
        self.jws = self.jws.limits(limits);
        self
    }

    /// Verifies the signature, validates the claims and deserializes them into `Claims<T>`.
    pub fn verify<T: DeserializeOwned>(&self, token: &str) -> Result<Claims<T>> {
        self.verify_parts(token).map(|(_, claims)| claims)
    }

    /// Like [`Verifier::verify`], also returning the header.
    pub fn verify_with_header<T: DeserializeOwned>(
        &self,
        token: &str,
    ) -> Result<(Header, Claims<T>)> {
        self.verify_parts(token)
            .map(|(header, claims)| (header.into_owned(), claims))
    }

    fn verify_parts<T: DeserializeOwned>(
        &self,
        token: &str,
    ) -> Result<(Cow<'_, Header>, Claims<T>)> {
        let (header, payload) = self.jws.verify_compact_shared(token)?;
        // One strict pass reads the registered claims; the caller's type is built only once they are valid.
        let text = json::utf8(&payload, "JWT payload")?;
        let mut sink = ClaimsSink::new(&self.required);
        json::walk_object(
            text,
            self.jws.limits_ref().max_json_depth,
            "claims",
            &mut sink,
        )
        .map_err(|e| {
            if e.kind() == ErrorKind::Claims {
                e
            } else {
                Error::new(e.kind(), format!("JWT {e}"))
            }
        })?;
        let missing = sink.missing();
        let registered = sink.registered;
        self.validate(&header, &registered)?;
        if let Some(name) = missing {
            return Err(Error::new(
                ErrorKind::MissingClaim,
                format!("token has no {} claim", quote(name)),
            ));
        }
        if let Some(check) = &self.check {
            let object =
                json::parse_object(&payload, self.jws.limits_ref().max_json_depth, "claims")?;
            check(&header, &object).map_err(|reason| Error::new(ErrorKind::Rejected, reason))?;
        }
        let custom = serde_json::from_str::<T>(text).map_err(|e| {
            Error::new(
                ErrorKind::Claims,
                format!("claims do not fit the expected type: {e}"),
            )
        })?;
        Ok((header, Claims { registered, custom }))
    }

    /// What this verifier's clock says now.
    pub fn now(&self) -> NumericDate {
        self.clock.now()
    }

    /// The Unix seconds during which this verifier accepts a token with these registered claims as far as time goes
    /// (`exp`, `nbf`, and the `iat` rules of [`Verifier::reject_future_iat`] and [`Verifier::max_age`], leeway
    /// included); every other check it makes does not depend on the time. A cache of verified tokens keeps this
    /// window with each entry: a token that passed [`Verifier::verify`] once passes again exactly while `now` is
    /// inside it, so the cache answers as the verifier would.
    ///
    /// ```
    /// use waxseal::jwt::{NumericDate, RegisteredClaims, Verifier};
    /// # let key = waxseal::SigningKey::generate(waxseal::Algorithm::ES256)?;
    /// let verifier = Verifier::new(key.verifying_key()?); // 60 s leeway by default
    /// let claims = RegisteredClaims { exp: Some(NumericDate::from_secs(1_000)), ..Default::default() };
    /// assert_eq!(verifier.accepted_during(&claims), 0..=1_060);
    /// # Ok::<(), waxseal::Error>(())
    /// ```
    // An empty window is `1..=0`: deliberately reversed, it contains no second.
    #[allow(clippy::reversed_empty_ranges)]
    pub fn accepted_during(&self, claims: &RegisteredClaims) -> std::ops::RangeInclusive<u64> {
        let mut from = 0;
        let mut until = u64::MAX;
        if let Some(exp) = claims.exp {
            until = exp.secs().saturating_add(self.leeway);
        } else if self.require_exp {
            // Never accepted: an empty window.
            return 1..=0;
        }
        if let Some(nbf) = claims.nbf {
            from = nbf.secs().saturating_sub(self.leeway);
        }
        if let Some(iat) = claims.iat {
            if self.reject_future_iat {
                from = from.max(iat.secs().saturating_sub(self.leeway));
            }
            if let Some(max_age) = self.max_age {
                until = until.min(
                    iat.secs()
                        .saturating_add(max_age)
                        .saturating_add(self.leeway),
                );
            }
        } else if self.max_age.is_some() {
            return 1..=0;
        }
        from..=until
    }

    fn validate(&self, header: &Header, claims: &RegisteredClaims) -> Result<()> {
        if let Some(expected) = &self.typ {
            let found = header.typ.as_deref().unwrap_or("");
            if !same_media_type(found, expected) {
                return Err(Error::new(
                    ErrorKind::Type,
                    if found.is_empty() {
                        format!("token has no typ header; expected {}", quote(expected))
                    } else {
                        format!("token typ {} is not {}", quote(found), quote(expected))
                    },
                ));
            }
        }
        let now = self.clock.now().secs();
        match claims.exp {
            Some(exp) if now > exp.secs().saturating_add(self.leeway) => {
                return Err(Error::new(
                    ErrorKind::Expired,
                    format!("token expired {} ago", human_duration(now - exp.secs())),
                ));
            }
            None if self.require_exp => {
                return Err(Error::new(
                    ErrorKind::MissingClaim,
                    "token has no exp claim; it would never expire",
                ));
            }
            _ => {}
        }
        if let Some(nbf) = claims.nbf
            && now.saturating_add(self.leeway) < nbf.secs()
        {
            return Err(Error::new(
                ErrorKind::NotYetValid,
                format!(
                    "token is not valid for another {}",
                    human_duration(nbf.secs() - now)
                ),
            ));
        }
        if let Some(iat) = claims.iat
            && self.reject_future_iat
            && now.saturating_add(self.leeway) < iat.secs()
        {
            return Err(Error::new(
                ErrorKind::IssuedAt,
                format!(
                    "token claims to be issued {} in the future",
                    human_duration(iat.secs() - now)
                ),
            ));
        }
        if let Some(max_age) = self.max_age {
            let iat = claims.iat.ok_or_else(|| {
                Error::new(
                    ErrorKind::MissingClaim,
                    "token has no iat claim, needed for its age",
                )
            })?;
            let age = now.saturating_sub(iat.secs());
            if age > max_age.saturating_add(self.leeway) {
                return Err(Error::new(
                    ErrorKind::IssuedAt,
                    format!(
                        "token was issued {} ago; the maximum age is {}",
                        human_duration(age),
                        human_duration(max_age)
                    ),
                ));
            }
        }
        if !self.issuers.is_empty() {
            match &claims.iss {
                None => return Err(Error::new(ErrorKind::Issuer, "token has no iss claim")),
                Some(iss) if !self.issuers.iter().any(|i| i == iss) => {
                    return Err(Error::new(
                        ErrorKind::Issuer,
                        format!("issuer {} is not accepted", quote(iss)),
                    ));
                }
                _ => {}
            }
        }
        match (&claims.aud, self.audiences.is_empty()) {
            (None, false) => return Err(Error::new(ErrorKind::Audience, "token has no aud claim")),
            (Some(aud), false)
                if !aud
                    .iter()
                    .any(|a| self.audiences.iter().any(|want| want == a)) =>
            {
                let shown: Vec<String> = aud.iter().take(3).map(quote).collect();
                return Err(Error::new(
                    ErrorKind::Audience,
                    format!("audience {} not accepted", shown.join(", ")),
                ));
            }
            (Some(_), true) if !self.any_audience => {
                return Err(Error::new(
                    ErrorKind::Audience,
                    "token names an audience but this verifier has none configured; set .audience(..)",
                ));
            }
            _ => {}
        }
        if let Some(expected) = &self.subject
            && claims.sub.as_deref() != Some(expected.as_str())
        {
            return Err(Error::new(
                ErrorKind::Subject,
                "subject (sub) is not the expected one",
            ));
        }
        Ok(())
    }
}

fn same_media_type(found: &str, expected: &str) -> bool {
    let strip = |t: &str| {
        let lower = t.to_ascii_lowercase();
        lower
            .strip_prefix("application/")
            .map(str::to_owned)
            .unwrap_or(lower)
    };
    strip(found) == strip(expected)
}

/// Signs JWTs with one key. The header (`alg`, `typ: JWT`, the key's `kid`) is encoded once, at construction.
#[derive(Debug, Clone)]
pub struct Signer {
    key: SigningKey,
    encoded_header: String,
}

impl Signer {
    /// A signer with the default header: `{"alg":…,"typ":"JWT","kid":…}`.
    pub fn new(key: &SigningKey) -> Self {
        Self::with_header(key, &HeaderBuilder::new().typ("JWT"))
            .unwrap_or_else(|_| unreachable!("default header"))
    }

    /// A signer with a custom header (`typ`, `kid`, `cty`, custom members).
    pub fn with_header(key: &SigningKey, header: &HeaderBuilder) -> Result<Self> {
        if header.is_unencoded() {
            return Err(Error::malformed(
                "a JWT payload is always base64url-encoded; b64=false is for raw JWS",
            ));
        }
        let json = header.to_json(key.algorithm(), key.kid())?;
        let mut encoded_header = b64::encode(json);
        encoded_header.push('.');
        Ok(Signer {
            key: key.clone(),
            encoded_header,
        })
    }

    /// Signs `claims`, which must serialize to a JSON object; registered claims must have their proper types, and
    /// no member may appear twice (as can happen with `#[serde(flatten)]`).
    pub fn sign(&self, claims: &impl Serialize) -> Result<String> {
        let payload = serde_json::to_string(claims).map_err(|e| {
            Error::new(
                ErrorKind::Claims,
                format!("claims could not be serialized: {e}"),
            )
        })?;
        // The claims are checked as a verifier would read them (strict JSON, registered claims of the right type)
        // without being built, so waxseal never issues a token it would refuse.
        json::walk_object(
            &payload,
            Limits::default().max_json_depth,
            "claims",
            &mut ClaimsSink::checking(),
        )?;
        let mut token = Vec::with_capacity(self.encoded_header.len() + payload.len() * 4 / 3 + 700);
        token.extend_from_slice(self.encoded_header.as_bytes());
        b64::encode_to_vec(&payload, &mut token);
        let signature = self.key.sign(&token)?;
        token.push(b'.');
        b64::encode_to_vec(signature, &mut token);
        // Every byte is base64url or '.', so this cannot fail; the check is one pass over ASCII.
        String::from_utf8(token).map_err(|_| Error::new(ErrorKind::Crypto, "token encoding failed"))
    }
}
