//! Server nonces (RFC 9449 §8) without server state: a nonce is the current time step and an HMAC of it under a
//! key every instance shares, so any instance accepts what another issued and nothing needs storing. A nonce is
//! good during its own step and the next, so one issued just before a step ends still has a full step to be used.

use std::fmt;
use std::time::Duration;

use aws_lc_rs::hmac;

use crate::b64;
use crate::error::{Error, Result};
use crate::jwt::NumericDate;

/// What the MAC covers besides the step: nonces are no other HMAC's output under the same key.
const CONTEXT: &[u8] = b"waxseal DPoP nonce v1";
/// The step (8 bytes) and the tag.
const RAW_LEN: usize = 8 + 32;

/// Issues and checks stateless DPoP nonces.
///
/// ```
/// use std::time::Duration;
/// use waxseal::{dpop::Nonces, jwt::NumericDate};
/// let nonces = Nonces::new(&[7; 32], Duration::from_secs(60))?;
/// let nonce = nonces.issue(NumericDate::from_secs(1_000));
/// assert!(nonces.is_fresh(&nonce, NumericDate::from_secs(1_050))); // the next step
/// assert!(!nonces.is_fresh(&nonce, NumericDate::from_secs(1_200)));
/// # Ok::<(), waxseal::Error>(())
/// ```
#[derive(Clone)]
pub struct Nonces {
    key: hmac::Key,
    step: u64,
}

impl fmt::Debug for Nonces {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Nonces")
            .field("step_seconds", &self.step)
            .finish_non_exhaustive()
    }
}

impl Nonces {
    /// Nonces under `secret` (at least 32 bytes, the same on every instance), each good for one to two `step`s.
    pub fn new(secret: &[u8], step: Duration) -> Result<Self> {
        if secret.len() < 32 {
            return Err(Error::invalid_key(
                "the DPoP nonce secret must be at least 32 bytes",
            ));
        }
        if step.as_secs() == 0 {
            return Err(Error::invalid_key(
                "the DPoP nonce step must be at least one second",
            ));
        }
        Ok(Nonces {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret),
            step: step.as_secs(),
        })
    }

    /// The nonce of the step `now` is in.
    pub fn issue(&self, now: NumericDate) -> String {
        let step = now.secs() / self.step;
        let mut raw = [0u8; RAW_LEN];
        raw[..8].copy_from_slice(&step.to_be_bytes());
        raw[8..].copy_from_slice(self.tag(step).as_ref());
        b64::encode(raw)
    }

    /// True when `nonce` was issued under this secret in the step `now` is in or the one before.
    pub fn is_fresh(&self, nonce: &str, now: NumericDate) -> bool {
        // Room for base64's conservative estimate of the decoded length.
        let mut buffer = [0u8; RAW_LEN + 3];
        let Ok(raw) = b64::decode_into(nonce, &mut buffer, "nonce") else {
            return false;
        };
        if raw.len() != RAW_LEN {
            return false;
        }
        let mut step = [0u8; 8];
        step.copy_from_slice(&raw[..8]);
        let step = u64::from_be_bytes(step);
        let current = now.secs() / self.step;
        if step != current && step.checked_add(1) != Some(current) {
            return false;
        }
        hmac::verify(&self.key, &message(step), &raw[8..]).is_ok()
    }

    fn tag(&self, step: u64) -> hmac::Tag {
        hmac::sign(&self.key, &message(step))
    }
}

fn message(step: u64) -> [u8; CONTEXT.len() + 8] {
    let mut message = [0u8; CONTEXT.len() + 8];
    message[..CONTEXT.len()].copy_from_slice(CONTEXT);
    message[CONTEXT.len()..].copy_from_slice(&step.to_be_bytes());
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> NumericDate {
        NumericDate::from_secs(secs)
    }

    #[test]
    fn a_nonce_lives_its_step_and_the_next() {
        let nonces = Nonces::new(&[1; 32], Duration::from_secs(100)).unwrap();
        let nonce = nonces.issue(at(1_050));
        assert!(nonces.is_fresh(&nonce, at(1_000)));
        assert!(nonces.is_fresh(&nonce, at(1_199)));
        assert!(!nonces.is_fresh(&nonce, at(1_200)), "two steps later");
        assert!(!nonces.is_fresh(&nonce, at(999)), "from the future");
    }

    #[test]
    fn another_secret_or_a_changed_byte_is_refused() {
        let nonces = Nonces::new(&[1; 32], Duration::from_secs(60)).unwrap();
        let other = Nonces::new(&[2; 32], Duration::from_secs(60)).unwrap();
        let nonce = other.issue(at(600));
        assert!(!nonces.is_fresh(&nonce, at(600)));
        let mut forged = nonces.issue(at(600)).into_bytes();
        let last = forged.len() - 2;
        forged[last] = if forged[last] == b'A' { b'B' } else { b'A' };
        assert!(!nonces.is_fresh(std::str::from_utf8(&forged).unwrap(), at(600)));
        for junk in ["", "x", "not base64!", &"A".repeat(500)] {
            assert!(!nonces.is_fresh(junk, at(600)));
        }
    }

    #[test]
    fn short_secrets_are_refused_and_debug_hides_the_key() {
        assert!(Nonces::new(&[1; 31], Duration::from_secs(60)).is_err());
        assert!(Nonces::new(&[1; 32], Duration::ZERO).is_err());
        let nonces = Nonces::new(&[0xAB; 32], Duration::from_secs(60)).unwrap();
        assert!(!format!("{nonces:?}").contains("171"));
    }
}
