//! The listener's limits as settings: their defaults (and why), and the check of a configured value. The listener
//! ([`crate::listener`]) applies them; they live here so that the configuration depends on nothing above it.

use std::time::Duration;

use super::Config;
use crate::error::{Error, Result};

/// The default [`Config::header_read_timeout`]: a browser or API client sends its headers in one packet, so
/// 10 s is generous even over a slow mobile link, and short enough that a client holding connections open with
/// partial headers gets few of them.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// The default [`Config::idle_timeout`]: longer than the 30–60 s keep-alive of common HTTP client pools, so a
/// pooled connection is rarely closed under a client that is about to reuse it, and short enough that idle
/// connections do not pile up.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// The default [`Config::body_timeout`]: the server's request bodies are small forms and JSON documents (a few
/// kilobytes), which take well under a second even on a poor link; 30 s leaves room for a stalled mobile network
/// without letting a client hold a request open by trickling.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// The default [`Config::max_connections`]: ten thousand connections cost about 10k file descriptors and a few
/// tens of megabytes, within what a small server has and under the usual hard open-file limit of 2^19 or more.
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;
/// The default [`Config::max_connections_per_address`]: a browser opens at most 6 connections per host and an
/// API client's pool a few dozen, and a NAT gateway or office network shares one address among many users; 256
/// covers those while one address can hold at most 2.5 % of [`DEFAULT_MAX_CONNECTIONS`].
pub const DEFAULT_MAX_CONNECTIONS_PER_ADDRESS: usize = 256;
/// The longest timeout accepted: anything longer protects nothing.
const MAX_TIMEOUT: Duration = Duration::from_secs(60 * 60);
/// The most connections accepted as a cap: beyond this the cap is no longer a limit on any real machine.
const MAX_CONNECTIONS_CAP: usize = 1_000_000;
/// Checks the listener's settings; the error names the setting.
pub(super) fn validate(config: &Config) -> Result<()> {
    for (name, flag, value) in [
        (
            "header read timeout",
            "--header-read-timeout",
            config.header_read_timeout,
        ),
        ("idle timeout", "--idle-timeout", config.idle_timeout),
        ("body timeout", "--body-timeout", config.body_timeout),
    ] {
        if value.is_zero() || value > MAX_TIMEOUT {
            return Err(Error::config(format!(
                "the {name} must be more than 0 and at most 1 hour (got {} ms); set {flag} to something like 10s",
                value.as_millis()
            )));
        }
    }
    if config.max_connections == 0 || config.max_connections > MAX_CONNECTIONS_CAP {
        return Err(Error::config(format!(
            "the connection cap must be from 1 to {MAX_CONNECTIONS_CAP} (got {}); set --max-connections",
            config.max_connections
        )));
    }
    if config.max_connections_per_address == 0
        || config.max_connections_per_address > config.max_connections
    {
        return Err(Error::config(format!(
            "the per-address connection cap must be from 1 to the total cap of {} (got {}); set \
             --max-connections-per-address",
            config.max_connections, config.max_connections_per_address
        )));
    }
    Ok(())
}
