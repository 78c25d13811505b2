//! Signing keys in use, and their life: published before they sign, retired when a successor signs, unpublished
//! and destroyed once every token they signed has expired.
//!
//! Resource servers cache the JWKS (`Cache-Control: max-age`, [`crate::Config::jwks_max_age`]). A key that signed
//! the moment it was created would make every cache that fetched the JWKS a second earlier reject its tokens until
//! the cache expires, so a new key is published first and signs only after [`publish_delay`]: by then every cache
//! that honours the max-age has seen it. The one exception is the very first key, which nobody can have cached.
//! A key that stops signing stays published for [`RETIRED_KEY_PUBLISHED_FOR`] (the longest access-token lifetime the
//! server allows, plus the clock leeway) so the tokens it signed verify until they expire, whatever lifetime was
//! configured when they were issued.
//!
//! Everything here is computed from two stored times per key (`created_at`: published; `activates_at`: signs), so
//! several processes on one store agree on which key signs without coordinating writes.
//!
//! Keys form two series, told apart by algorithm ([`KeySeries`]): the RS256 keys, which sign ID tokens for the
//! clients registered for RS256 (OpenID Connect Core §15.1 requires a provider to offer it), and the keys of every
//! other algorithm, the configured one's. Keys take turns only within their series: an RS256 key activating never
//! retires an ES256 key, nor the reverse. The series follow from the stored algorithm alone, never from the
//! configuration, so an admin command run with other settings computes the same states (and deletes the same
//! expired keys) as the server. Which active key signs what does depend on the configured algorithm
//! ([`signers`]): when it is RS256, the RS256 series is the only one and signs everything.

use std::time::Duration;

use waxseal::Algorithm;

use crate::config::{CLOCK_LEEWAY, Config, MAX_ACCESS_TOKEN_TTL};
use crate::store::StoredKey;

/// How long a retired key stays published: the longest access-token lifetime plus the clock leeway.
pub const RETIRED_KEY_PUBLISHED_FOR: Duration =
    Duration::from_secs(MAX_ACCESS_TOKEN_TTL.as_secs() + CLOCK_LEEWAY.as_secs());

/// How long a new key is published before it signs: one JWKS cache lifetime plus the clock leeway.
pub fn publish_delay(config: &Config) -> Duration {
    config.jwks_max_age + CLOCK_LEEWAY
}

/// Where a key is in its life at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    /// Published, signing from its activation time on.
    Pending,
    /// Signs new tokens.
    Active,
    /// No longer signs; published until `until` (Unix seconds) so the tokens it signed still verify.
    Retired {
        /// When it leaves the JWKS.
        until: u64,
    },
    /// Every token it signed has expired: unpublished, and deleted at the next key maintenance.
    Expired,
    /// Withdrawn because it leaked (`waxseal keys revoke`): unpublished, its tokens refused, the key destroyed;
    /// only the record of its kid is kept, so that it can never come back.
    Revoked {
        /// When it was revoked (Unix seconds).
        at: u64,
    },
}

impl KeyState {
    /// A word for people (`waxseal keys list`).
    pub fn label(self) -> &'static str {
        match self {
            KeyState::Pending => "pending",
            KeyState::Active => "active",
            KeyState::Retired { .. } => "retired",
            KeyState::Expired => "expired",
            KeyState::Revoked { .. } => "revoked",
        }
    }

    pub(crate) fn is_published(self) -> bool {
        !matches!(self, KeyState::Expired | KeyState::Revoked { .. })
    }
}

/// The series a key belongs to, by its algorithm. Keys take turns within their series only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySeries {
    /// The keys of every algorithm but RS256: the configured algorithm's, which sign access tokens and ID tokens.
    Main,
    /// The RS256 keys: they sign ID tokens for the clients registered with `--id-token-alg RS256`, and everything
    /// when RS256 is the configured algorithm (the one series then serves both).
    Rs256,
}

impl KeySeries {
    /// The series of a key of `alg` (a JWS algorithm name, as stored).
    pub fn of(alg: &str) -> KeySeries {
        if alg == "RS256" {
            KeySeries::Rs256
        } else {
            KeySeries::Main
        }
    }

    /// The series of a key of `alg`.
    pub fn of_algorithm(alg: Algorithm) -> KeySeries {
        KeySeries::of(&alg.to_string())
    }
}

/// The state of each of `keys` at `now`. `keys` must be in the store's order: by activation time, then creation
/// time, then kid — in each [`KeySeries`], the active key is the last one whose activation time has come, and a key
/// retires when the next one of its series activates.
pub(crate) fn key_states(keys: &[StoredKey], now: u64) -> Vec<KeyState> {
    let mut states = vec![KeyState::Pending; keys.len()];
    for series in [KeySeries::Main, KeySeries::Rs256] {
        let members: Vec<usize> = (0..keys.len())
            .filter(|&i| KeySeries::of(&keys[i].alg) == series)
            .collect();
        let in_series: Vec<&StoredKey> = members.iter().map(|&i| &keys[i]).collect();
        for (&i, state) in members.iter().zip(series_states(&in_series, now)) {
            states[i] = state;
        }
    }
    states
}

/// [`key_states`] for the keys of one series, in the store's order.
fn series_states(keys: &[&StoredKey], now: u64) -> Vec<KeyState> {
    let active = keys.iter().rposition(|k| k.activates_at <= now);
    keys.iter()
        .enumerate()
        .map(|(i, key)| match active {
            Some(a) if i == a => KeyState::Active,
            Some(a) if i < a => {
                let retired_at = keys[i + 1].activates_at.max(key.activates_at);
                let until = retired_at.saturating_add(RETIRED_KEY_PUBLISHED_FOR.as_secs());
                if now >= until {
                    KeyState::Expired
                } else {
                    KeyState::Retired { until }
                }
            }
            _ => KeyState::Pending,
        })
        .collect()
}

/// Which of the active keys sign what, as indexes into the keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Signers {
    /// Signs access tokens, and the ID tokens of clients that take the server's default algorithm: the active key
    /// of the configured algorithm's series. While that series has none — the first key of a new series waits out
    /// the publish delay after a change of the configured algorithm to or from RS256 — the other series' active key
    /// goes on signing, as the previous key does after any change of algorithm.
    pub(crate) main: Option<usize>,
    /// Signs the ID tokens of clients registered for RS256: the active RS256 key.
    pub(crate) rs256: Option<usize>,
}

/// The signers among `keys` in `states` when the server is configured for `configured`.
pub(crate) fn signers(keys: &[StoredKey], states: &[KeyState], configured: Algorithm) -> Signers {
    let active = |series: KeySeries| {
        keys.iter()
            .zip(states)
            .position(|(k, s)| *s == KeyState::Active && KeySeries::of(&k.alg) == series)
    };
    let (own, other) = match KeySeries::of_algorithm(configured) {
        KeySeries::Main => (KeySeries::Main, KeySeries::Rs256),
        KeySeries::Rs256 => (KeySeries::Rs256, KeySeries::Main),
    };
    Signers {
        main: active(own).or_else(|| active(other)),
        rs256: active(KeySeries::Rs256),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(kid: &str, created_at: u64, activates_at: u64) -> StoredKey {
        key_of("ES256", kid, created_at, activates_at)
    }

    fn key_of(alg: &str, kid: &str, created_at: u64, activates_at: u64) -> StoredKey {
        StoredKey {
            kid: kid.into(),
            alg: alg.into(),
            encrypted_private_key: Vec::new(),
            created_at,
            activates_at,
        }
    }

    #[test]
    fn a_key_is_pending_until_it_activates_then_retires_when_the_next_one_does() {
        let hour = RETIRED_KEY_PUBLISHED_FOR.as_secs();
        let keys = [key("a", 0, 0), key("b", 100, 400)];
        assert_eq!(
            key_states(&keys, 399),
            [KeyState::Active, KeyState::Pending]
        );
        assert_eq!(
            key_states(&keys, 400),
            [KeyState::Retired { until: 400 + hour }, KeyState::Active]
        );
        assert_eq!(
            key_states(&keys, 400 + hour),
            [KeyState::Expired, KeyState::Active]
        );
    }

    #[test]
    fn before_any_activation_every_key_is_pending() {
        assert_eq!(key_states(&[key("a", 0, 10)], 5), [KeyState::Pending]);
        assert!(key_states(&[], 5).is_empty());
    }

    #[test]
    fn a_key_overtaken_before_it_signed_retires_at_once() {
        // b and c were both scheduled; c activated first in order, b never signed past c's activation.
        let keys = [key("a", 0, 0), key("b", 10, 50), key("c", 20, 50)];
        let states = key_states(&keys, 60);
        assert_eq!(states[2], KeyState::Active);
        assert!(matches!(states[1], KeyState::Retired { .. }));
        assert!(matches!(states[0], KeyState::Retired { .. }));
    }

    #[test]
    fn keys_take_turns_within_their_series_only() {
        let hour = RETIRED_KEY_PUBLISHED_FOR.as_secs();
        // In the store's order (by activation): an RS256 key activating after an ES256 one retires neither it nor
        // the EdDSA key that follows, and the EdDSA key retires the ES256 key, not the RS256 one.
        let keys = [
            key_of("ES256", "es", 0, 0),
            key_of("RS256", "rs", 0, 5),
            key_of("EdDSA", "ed", 100, 400),
            key_of("RS256", "rs2", 100, 500),
        ];
        assert_eq!(
            key_states(&keys, 10),
            [
                KeyState::Active,
                KeyState::Active,
                KeyState::Pending,
                KeyState::Pending
            ]
        );
        assert_eq!(
            key_states(&keys, 450),
            [
                KeyState::Retired { until: 400 + hour },
                KeyState::Active,
                KeyState::Active,
                KeyState::Pending
            ]
        );
        assert_eq!(
            key_states(&keys, 500 + hour),
            [
                KeyState::Expired,
                KeyState::Expired,
                KeyState::Active,
                KeyState::Active
            ]
        );
    }

    #[test]
    fn the_configured_series_signs_and_the_rs256_series_signs_rs256_id_tokens() {
        let keys = [key_of("ES256", "es", 0, 0), key_of("RS256", "rs", 0, 0)];
        let states = key_states(&keys, 1);
        assert_eq!(
            signers(&keys, &states, Algorithm::ES256),
            Signers {
                main: Some(0),
                rs256: Some(1)
            }
        );
        // Configured for RS256, the RS256 series signs everything; the other one signs nothing.
        assert_eq!(
            signers(&keys, &states, Algorithm::RS256),
            Signers {
                main: Some(1),
                rs256: Some(1)
            }
        );
    }

    #[test]
    fn after_a_change_to_or_from_rs256_the_old_series_signs_until_the_new_one_activates() {
        // From RS256 to ES256: the first ES256 key waits out the publish delay; the RS256 key signs meanwhile.
        let keys = [key_of("RS256", "rs", 0, 0), key_of("ES256", "es", 100, 400)];
        let before = key_states(&keys, 399);
        assert_eq!(
            signers(&keys, &before, Algorithm::ES256),
            Signers {
                main: Some(0),
                rs256: Some(0)
            }
        );
        let after = key_states(&keys, 400);
        assert_eq!(after, [KeyState::Active, KeyState::Active]);
        assert_eq!(
            signers(&keys, &after, Algorithm::ES256),
            Signers {
                main: Some(1),
                rs256: Some(0)
            }
        );
        // To RS256 on a store that never had an RS256 key: the ES256 key signs until the first RS256 key does.
        let keys = [key_of("ES256", "es", 0, 0), key_of("RS256", "rs", 100, 400)];
        assert_eq!(
            signers(&keys, &key_states(&keys, 399), Algorithm::RS256),
            Signers {
                main: Some(0),
                rs256: None
            }
        );
        assert_eq!(
            signers(&keys, &key_states(&keys, 400), Algorithm::RS256),
            Signers {
                main: Some(1),
                rs256: Some(1)
            }
        );
    }

    #[test]
    fn nothing_signs_without_an_active_key() {
        let keys = [key_of("RS256", "rs", 0, 10)];
        assert_eq!(
            signers(&keys, &key_states(&keys, 5), Algorithm::ES256),
            Signers::default()
        );
    }
}
