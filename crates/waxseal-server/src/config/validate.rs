//! The checks of a [`Config`] before the server starts: values against each other and the server's limits, each
//! refusal naming the setting to fix.

use std::time::Duration;

use super::{
    Config, MAX_ACCESS_TOKEN_TTL, MAX_CLIENT_METADATA_TIMEOUT, MAX_DPOP_PROOF_WINDOW,
    MAX_REFRESH_REUSE_INTERVAL, MIN_KEY_ROTATION_INTERVAL, MIN_REGISTERED_CLIENT_EXPIRY, PublicUrl,
    SIGNING_ALGORITHMS, limits,
};
use crate::error::{Error, Result};

impl Config {
    /// Checks the values against each other and the server's limits; the error names the setting to fix.
    pub fn validate(&self) -> Result<()> {
        if self.database_max_connections == 0 {
            return Err(Error::config(
                "the database pool needs at least one connection (--database-max-connections)",
            ));
        }
        if self.access_token_ttl > MAX_ACCESS_TOKEN_TTL {
            return Err(Error::config(format!(
                "access-token lifetime {} s is longer than the maximum of {} s (1 hour); \
                 shorten it and rely on refresh tokens",
                self.access_token_ttl.as_secs(),
                MAX_ACCESS_TOKEN_TTL.as_secs()
            )));
        }
        if self.access_token_ttl.as_secs() == 0 {
            return Err(Error::config(
                "access-token lifetime must be at least one second",
            ));
        }
        if self.refresh_idle_ttl.as_secs() == 0 || self.refresh_absolute_ttl.as_secs() == 0 {
            return Err(Error::config(
                "refresh-token idle and absolute lifetimes must be at least one second",
            ));
        }
        if self.refresh_idle_ttl > self.refresh_absolute_ttl {
            return Err(Error::config(format!(
                "refresh-token idle lifetime ({} s) is longer than the absolute session lifetime ({} s)",
                self.refresh_idle_ttl.as_secs(),
                self.refresh_absolute_ttl.as_secs()
            )));
        }
        if self.refresh_reuse_interval > MAX_REFRESH_REUSE_INTERVAL {
            return Err(Error::config(format!(
                "refresh-token reuse interval {} s is longer than the maximum of {} s: it only has to cover a client \
                 retrying a refresh whose answer was lost, and a thief holding the rotated token can use it as long; \
                 a few seconds to 30 s is enough",
                self.refresh_reuse_interval.as_secs(),
                MAX_REFRESH_REUSE_INTERVAL.as_secs()
            )));
        }
        if self.redis_key_prefix.is_empty()
            || self.redis_key_prefix.len() > 64
            || !self.redis_key_prefix.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(Error::config(
                "the Redis key prefix must be 1 to 64 printable ASCII characters without spaces",
            ));
        }
        if self.issuer.is_empty() || self.audience.is_empty() || self.client_id.is_empty() {
            return Err(Error::config(
                "issuer, audience and client id must not be empty",
            ));
        }
        if self.refresh_cookie {
            let issuer = PublicUrl::parse(&self.issuer)?;
            if !issuer.secure && !issuer.loopback {
                return Err(Error::config(format!(
                    "cookie mode needs an https issuer: browsers keep Secure cookies only from https (or http on \
                     loopback), and {} is neither; set the issuer to the https URL clients use",
                    issuer.origin
                )));
            }
        }
        if self.dpop_proof_window.as_secs() == 0 || self.dpop_proof_window > MAX_DPOP_PROOF_WINDOW {
            return Err(Error::config(format!(
                "the DPoP proof window must be 1 s to {} s (--dpop-proof-window); a proof is usable by whoever holds \
                 it for that long, and 60 s covers ordinary clock skew",
                MAX_DPOP_PROOF_WINDOW.as_secs()
            )));
        }
        if self.registrations_per_hour == 0 {
            return Err(Error::config(
                "--registrations-per-hour must be at least 1; to refuse every registration, leave \
                 --allow-registration off",
            ));
        }
        if self.registered_client_expiry < MIN_REGISTERED_CLIENT_EXPIRY {
            return Err(Error::config(
                "--registered-client-expiry must be at least 2d: a registered client's last use is recorded at most \
                 once a day, so a shorter time could delete a client in use",
            ));
        }
        let scopes: Vec<&str> = self.registration_scope.split(' ').collect();
        if scopes.iter().any(|s| {
            s.is_empty()
                || !s
                    .bytes()
                    .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
        }) {
            return Err(Error::config(
                "--registration-scope is scope tokens separated by single spaces (RFC 6749 §3.3), e.g. \
                 \"openid profile email offline_access\"",
            ));
        }
        if self.management_listen == Some(self.listen) && self.listen.port() != 0 {
            return Err(Error::config(format!(
                "the management listener cannot share the public listener's address {}: pass --management-listen \
                 with another address, or --management-listen off",
                self.listen
            )));
        }
        self.validate_client_metadata()?;
        limits::validate(self)?;
        self.validate_signing()
    }

    fn validate_client_metadata(&self) -> Result<()> {
        let timeout = self.client_metadata_timeout;
        if timeout < Duration::from_secs(1) || timeout > MAX_CLIENT_METADATA_TIMEOUT {
            return Err(Error::config(format!(
                "--client-metadata-timeout must be 1s to {}s: an authorization request waits for the fetch",
                MAX_CLIENT_METADATA_TIMEOUT.as_secs()
            )));
        }
        for host in &self.client_metadata_allowed_hosts {
            if !crate::service::client_metadata::is_host_pattern(host) {
                return Err(Error::config(format!(
                    "--client-metadata-allow-host {:?} is not a host name or host:port (e.g. mcp.internal or \
                     10.0.0.5:8443)",
                    host.chars().take(80).collect::<String>()
                )));
            }
        }
        Ok(())
    }

    fn validate_signing(&self) -> Result<()> {
        let alg = self.signing_alg;
        if !SIGNING_ALGORITHMS.contains(&alg) {
            let names: Vec<String> = SIGNING_ALGORITHMS.iter().map(ToString::to_string).collect();
            return Err(Error::config(format!(
                "the server does not sign with {alg}: not every JOSE library verifies it; choose one of {}",
                names.join(", ")
            )));
        }
        if alg.is_symmetric() && !self.allow_symmetric_signing {
            return Err(Error::config(format!(
                "{alg} signs with a shared secret: every service that verifies the tokens must hold it and could \
                 mint its own, and the JWKS cannot publish it. Prefer ES256 or EdDSA; to use {alg} anyway, allow \
                 symmetric signing explicitly (--allow-symmetric-signing)"
            )));
        }
        if let Some(interval) = self.key_rotation_interval
            && interval < MIN_KEY_ROTATION_INTERVAL
        {
            return Err(Error::config(format!(
                "key rotation every {} s is more often than the minimum of once a day; a compromised key is \
                 replaced with `waxseal keys rotate`, not by rotating constantly",
                interval.as_secs()
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use waxseal::Algorithm;

    #[test]
    fn defaults_are_valid() {
        assert!(Config::default().validate().is_ok());
    }

    #[test]
    fn the_management_listener_cannot_take_the_public_address() {
        let config = Config {
            management_listen: Some(Config::default().listen),
            ..Config::default()
        };
        let err = config.validate().unwrap_err();
        assert!(err.message().contains("--management-listen off"), "{err}");
        let both_any_port = Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            management_listen: Some("127.0.0.1:0".parse().unwrap()),
            ..Config::default()
        };
        assert!(both_any_port.validate().is_ok());
    }

    #[test]
    fn access_token_ttl_longer_than_an_hour_is_refused() {
        let config = Config {
            access_token_ttl: Duration::from_secs(60 * 60 + 1),
            ..Config::default()
        };
        let err = config.validate().unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Config);
        assert!(err.message().contains("maximum of 3600 s"), "{err}");
        let hour = Config {
            access_token_ttl: MAX_ACCESS_TOKEN_TTL,
            ..Config::default()
        };
        assert!(hour.validate().is_ok());
    }

    #[test]
    fn a_refresh_reuse_interval_longer_than_a_minute_is_refused() {
        let config = Config {
            refresh_reuse_interval: MAX_REFRESH_REUSE_INTERVAL + Duration::from_secs(1),
            ..Config::default()
        };
        let err = config.validate().unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Config);
        assert!(err.message().contains("maximum of 60 s"), "{err}");
        let minute = Config {
            refresh_reuse_interval: MAX_REFRESH_REUSE_INTERVAL,
            ..Config::default()
        };
        assert!(minute.validate().is_ok());
        assert_eq!(Config::default().refresh_reuse_interval, Duration::ZERO);
    }

    #[test]
    fn debug_never_shows_the_master_key() {
        let config = Config {
            master_key: crate::MasterKey::parse(&"5a".repeat(32)).ok(),
            ..Config::default()
        };
        let shown = format!("{config:?}");
        assert!(shown.contains("MasterKey(<redacted>)"), "{shown}");
        assert!(
            !shown.contains("5a5a") && !shown.contains("90, 90"),
            "{shown}"
        );
    }

    #[test]
    fn symmetric_signing_needs_an_explicit_allowance() {
        let hs = Config {
            signing_alg: Algorithm::HS256,
            ..Config::default()
        };
        let err = hs.validate().unwrap_err();
        assert!(err.message().contains("--allow-symmetric-signing"), "{err}");
        let allowed = Config {
            allow_symmetric_signing: true,
            ..hs
        };
        assert!(allowed.validate().is_ok());
    }

    #[test]
    fn only_widely_verifiable_algorithms_sign() {
        let k1 = Config {
            signing_alg: Algorithm::ES256K,
            ..Config::default()
        };
        assert!(k1.validate().unwrap_err().message().contains("ES256, "));
        for alg in SIGNING_ALGORITHMS.into_iter().filter(|a| !a.is_symmetric()) {
            let config = Config {
                signing_alg: alg,
                ..Config::default()
            };
            assert!(config.validate().is_ok(), "{alg}");
        }
    }

    #[test]
    fn rotation_more_often_than_daily_is_refused() {
        let config = Config {
            key_rotation_interval: Some(Duration::from_secs(3600)),
            ..Config::default()
        };
        assert!(config.validate().is_err());
        let off = Config {
            key_rotation_interval: None,
            ..Config::default()
        };
        assert!(off.validate().is_ok());
    }

    #[test]
    fn cookie_mode_needs_an_https_or_loopback_issuer() {
        let with = |issuer: &str| Config {
            refresh_cookie: true,
            issuer: issuer.into(),
            ..Config::default()
        };
        assert!(with("https://auth.example.com").validate().is_ok());
        assert!(with("http://127.0.0.1:8080").validate().is_ok());
        let err = with("http://auth.example.com").validate().unwrap_err();
        assert!(err.message().contains("https issuer"), "{err}");
        assert!(with("waxseal").validate().is_err());
        assert!(
            Config {
                issuer: "waxseal".into(),
                ..Config::default()
            }
            .validate()
            .is_ok(),
            "only cookie mode cares"
        );
    }

    #[test]
    fn a_dpop_proof_window_of_zero_or_over_five_minutes_is_refused() {
        for secs in [0, 301] {
            let config = Config {
                dpop_proof_window: Duration::from_secs(secs),
                ..Config::default()
            };
            let err = config.validate().unwrap_err();
            assert!(err.message().contains("--dpop-proof-window"), "{err}");
        }
        let five = Config {
            dpop_proof_window: MAX_DPOP_PROOF_WINDOW,
            ..Config::default()
        };
        assert!(five.validate().is_ok());
    }

    #[test]
    fn a_database_pool_without_connections_is_refused() {
        let config = Config {
            database_max_connections: 0,
            ..Config::default()
        };
        let err = config.validate().unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Config);
        assert_eq!(
            err.message(),
            "the database pool needs at least one connection (--database-max-connections)"
        );
    }

    #[test]
    fn idle_longer_than_absolute_is_refused() {
        let config = Config {
            refresh_idle_ttl: Duration::from_secs(100),
            refresh_absolute_ttl: Duration::from_secs(10),
            ..Config::default()
        };
        assert_eq!(
            config.validate().unwrap_err().kind(),
            crate::ErrorKind::Config
        );
    }
}
