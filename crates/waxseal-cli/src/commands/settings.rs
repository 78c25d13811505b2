//! Where `waxseal serve` takes its settings from, highest first: flags, `WAXSEAL_*` variables (clap reads both into
//! [`ServeArgs`]), the optional TOML file (`--config` / `WAXSEAL_CONFIG`), the defaults of [`Config`].
//!
//! The TOML file uses the same names as the flags (with `_`); an unknown key is an error naming it, so a typo never
//! silently leaves a default in force. The master key has no key in the file and no flag: it comes only from
//! `WAXSEAL_MASTER_KEY` or the generated key file, and `--print-config` says which, never what.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, anyhow};
use serde::{Deserialize, Serialize};
use waxseal::Algorithm;
use waxseal_server::store::postgres::redact_url;
use waxseal_server::{Config, Database, MASTER_KEY_FILE, SecretUrl, TlsFiles};

use super::serve::{config as base_config, database};
use crate::Failure;
use crate::cli::{Rotation, ServeArgs, duration, reuse_interval, rotation};

/// The settings file, and the `--print-config` output (so the output is itself a valid settings file).
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct SettingsFile {
    #[serde(skip_serializing_if = "Option::is_none")]
    data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    listen: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    issuer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    audience: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    access_ttl: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_idle_ttl: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_absolute_ttl: Option<String>,
    /// A duration, or `0` / `off`.
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_reuse_interval: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    signing_alg: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    allow_symmetric_signing: Option<bool>,
    /// A duration, or `off`.
    #[serde(skip_serializing_if = "Option::is_none")]
    key_rotation: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tls_cert: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tls_key: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    token_cache: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_cookie: Option<bool>,
    /// Shown with its password as `***`.
    #[serde(skip_serializing_if = "Option::is_none")]
    database_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    database_max_connections: Option<u32>,
    /// Shown with its password replaced by `***`.
    #[serde(skip_serializing_if = "Option::is_none")]
    redis_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    redis_key_prefix: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    header_read_timeout: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    idle_timeout: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body_timeout: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_connections: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_connections_per_address: Option<usize>,
}

/// The effective settings of `waxseal serve`.
#[derive(Debug)]
pub(super) struct Settings {
    /// The server configuration; `issuer` is the derived one when `issuer_is_derived`.
    pub(super) config: Config,
    /// No flag, variable or file set the issuer: it follows the address actually bound.
    pub(super) issuer_is_derived: bool,
    /// The settings file read, if any.
    pub(super) file: Option<PathBuf>,
}

fn read_file(path: &Path) -> anyhow::Result<SettingsFile> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the config file {}", path.display()))?;
    toml::from_str(&text).map_err(|e| {
        anyhow!(
            "the config file {} is not usable: {}",
            path.display(),
            e.to_string().trim_end()
        )
    })
}

fn file_duration(key: &str, value: Option<&String>) -> anyhow::Result<Option<Duration>> {
    value
        .map(|text| duration(text).map_err(|e| anyhow!("config file key {key}: {e}")))
        .transpose()
}

/// The issuer when none is configured: the server's own URL, `https://` when it serves TLS.
pub(super) fn derived_issuer(config: &Config, addr: SocketAddr) -> String {
    let scheme = if config.tls.is_some() {
        "https"
    } else {
        "http"
    };
    format!("{scheme}://{addr}")
}

/// `15m`, `7d`: the largest unit that divides the lifetime exactly.
fn format_duration(d: Duration) -> String {
    let secs = d.as_secs();
    for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60)] {
        if secs != 0 && secs % size == 0 {
            return format!("{}{unit}", secs / size);
        }
    }
    format!("{secs}s")
}

impl Settings {
    /// Layers flags and variables over the file over the defaults, and checks the result.
    pub(super) fn resolve(args: &ServeArgs) -> Result<Settings, Failure> {
        let file = match &args.config {
            Some(path) => read_file(path).map_err(Failure::usage)?,
            None => SettingsFile::default(),
        };
        let defaults = Config::default();
        let data_dir = args
            .data_dir
            .clone()
            .or(file.data_dir)
            .unwrap_or(defaults.data_dir);
        let mut config = base_config(&data_dir)?;
        config.database = database(args.database_url.clone().or(file.database_url).as_deref())?;
        config.database_max_connections = args
            .database_max_connections
            .or(file.database_max_connections)
            .unwrap_or(defaults.database_max_connections);
        if config.database_max_connections == 0 {
            return Err(Failure::usage(anyhow!(
                "the database pool needs at least one connection (--database-max-connections)"
            )));
        }
        config.listen = args.listen.or(file.listen).unwrap_or(defaults.listen);
        config.tls = match (
            args.tls_cert.clone().or(file.tls_cert),
            args.tls_key.clone().or(file.tls_key),
        ) {
            (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
            (None, None) => None,
            (Some(_), None) => {
                return Err(Failure::usage(anyhow!(
                    "a TLS certificate was given without its key: set --tls-key (WAXSEAL_TLS_KEY, tls_key) too"
                )));
            }
            (None, Some(_)) => {
                return Err(Failure::usage(anyhow!(
                    "a TLS key was given without its certificate: set --tls-cert (WAXSEAL_TLS_CERT, tls_cert) too"
                )));
            }
        };
        config.verified_token_cache = args
            .token_cache
            .or(file.token_cache)
            .unwrap_or(defaults.verified_token_cache);
        let issuer = args.issuer.clone().or(file.issuer);
        let issuer_is_derived = issuer.is_none();
        config.issuer = issuer.unwrap_or_else(|| derived_issuer(&config, config.listen));
        config.audience = args
            .audience
            .clone()
            .or(file.audience)
            .unwrap_or(defaults.audience);
        let ttl = |flag: Option<Duration>, key: &str, value: Option<&String>, default: Duration| {
            Ok::<_, Failure>(match flag {
                Some(d) => d,
                None => file_duration(key, value)
                    .map_err(Failure::usage)?
                    .unwrap_or(default),
            })
        };
        config.access_token_ttl = ttl(
            args.access_ttl,
            "access_ttl",
            file.access_ttl.as_ref(),
            defaults.access_token_ttl,
        )?;
        config.refresh_idle_ttl = ttl(
            args.refresh_idle_ttl,
            "refresh_idle_ttl",
            file.refresh_idle_ttl.as_ref(),
            defaults.refresh_idle_ttl,
        )?;
        config.refresh_absolute_ttl = ttl(
            args.refresh_absolute_ttl,
            "refresh_absolute_ttl",
            file.refresh_absolute_ttl.as_ref(),
            defaults.refresh_absolute_ttl,
        )?;
        config.refresh_reuse_interval =
            match (args.refresh_reuse_interval, &file.refresh_reuse_interval) {
                (Some(d), _) => d,
                (None, Some(text)) => reuse_interval(text).map_err(|e| {
                    Failure::usage(anyhow!("config file key refresh_reuse_interval: {e}"))
                })?,
                (None, None) => defaults.refresh_reuse_interval,
            };
        if let Some(name) = args.signing_alg.clone().or(file.signing_alg) {
            config.signing_alg = Algorithm::from_name(&name)
                .map_err(|e| Failure::usage(anyhow!("signing algorithm {name:?}: {e}")))?;
        }
        config.allow_symmetric_signing =
            args.allow_symmetric_signing || file.allow_symmetric_signing.unwrap_or(false);
        let rotation = match (args.key_rotation, file.key_rotation.as_deref()) {
            (Some(r), _) => Some(r),
            (None, Some(text)) => Some(
                rotation(text)
                    .map_err(|e| Failure::usage(anyhow!("config file key key_rotation: {e}")))?,
            ),
            (None, None) => None,
        };
        match rotation {
            Some(Rotation::Off) => config.key_rotation_interval = None,
            Some(Rotation::Every(every)) => config.key_rotation_interval = Some(every),
            None => {}
        }
        config.refresh_cookie = args
            .refresh_cookie
            .or(file.refresh_cookie)
            .unwrap_or(defaults.refresh_cookie);
        config.redis_url = args
            .redis_url
            .clone()
            .or(file.redis_url)
            .map(SecretUrl::new);
        config.redis_key_prefix = args
            .redis_key_prefix
            .clone()
            .or(file.redis_key_prefix)
            .unwrap_or(defaults.redis_key_prefix);
        config.header_read_timeout = ttl(
            args.header_read_timeout,
            "header_read_timeout",
            file.header_read_timeout.as_ref(),
            defaults.header_read_timeout,
        )?;
        config.idle_timeout = ttl(
            args.idle_timeout,
            "idle_timeout",
            file.idle_timeout.as_ref(),
            defaults.idle_timeout,
        )?;
        config.body_timeout = ttl(
            args.body_timeout,
            "body_timeout",
            file.body_timeout.as_ref(),
            defaults.body_timeout,
        )?;
        config.max_connections = args
            .max_connections
            .or(file.max_connections)
            .unwrap_or(defaults.max_connections);
        config.max_connections_per_address = args
            .max_connections_per_address
            .or(file.max_connections_per_address)
            .unwrap_or(defaults.max_connections_per_address);
        config
            .validate()
            .map_err(|e| Failure::usage(anyhow!("the configuration is not usable: {e}")))?;
        Ok(Settings {
            config,
            issuer_is_derived,
            file: args.config.clone(),
        })
    }

    /// The effective settings as a TOML settings file, with comments for where the master key and the file come
    /// from.
    pub(super) fn render(&self) -> Result<String, Failure> {
        let c = &self.config;
        let shown = SettingsFile {
            data_dir: Some(c.data_dir.clone()),
            listen: Some(c.listen),
            issuer: Some(c.issuer.clone()),
            audience: Some(c.audience.clone()),
            access_ttl: Some(format_duration(c.access_token_ttl)),
            refresh_idle_ttl: Some(format_duration(c.refresh_idle_ttl)),
            refresh_absolute_ttl: Some(format_duration(c.refresh_absolute_ttl)),
            refresh_reuse_interval: Some(format_duration(c.refresh_reuse_interval)),
            signing_alg: Some(c.signing_alg.to_string()),
            allow_symmetric_signing: Some(c.allow_symmetric_signing),
            key_rotation: Some(
                c.key_rotation_interval
                    .map_or_else(|| "off".to_owned(), format_duration),
            ),
            tls_cert: c.tls.as_ref().map(|t| t.cert.clone()),
            tls_key: c.tls.as_ref().map(|t| t.key.clone()),
            token_cache: Some(c.verified_token_cache),
            refresh_cookie: Some(c.refresh_cookie),
            database_url: match &c.database {
                Database::Embedded => None,
                Database::Sqlite(path) => Some(format!("sqlite://{}", path.display())),
                Database::Postgres(url) => Some(redact_url(url)),
            },
            database_max_connections: c
                .database
                .is_postgres()
                .then_some(c.database_max_connections),
            redis_url: c.redis_url.as_ref().map(ToString::to_string),
            redis_key_prefix: c.redis_url.as_ref().map(|_| c.redis_key_prefix.clone()),
            header_read_timeout: Some(format_duration(c.header_read_timeout)),
            idle_timeout: Some(format_duration(c.idle_timeout)),
            body_timeout: Some(format_duration(c.body_timeout)),
            max_connections: Some(c.max_connections),
            max_connections_per_address: Some(c.max_connections_per_address),
        };
        let body = toml::to_string(&shown)
            .context("cannot render the settings")
            .map_err(Failure::usage)?;
        let file = self
            .file
            .as_ref()
            .map_or_else(|| "none".to_owned(), |p| p.display().to_string());
        let master_key = if c.master_key.is_some() {
            "from WAXSEAL_MASTER_KEY (not shown)".to_owned()
        } else {
            format!(
                "from the file {} (generated on first start if missing; not shown)",
                c.data_dir.join(MASTER_KEY_FILE).display()
            )
        };
        let issuer = if self.issuer_is_derived {
            "\n# issuer: derived from the listen address (the bound port when listen uses port 0)"
        } else {
            ""
        };
        Ok(format!(
            "# waxseal serve: effective settings (flags > WAXSEAL_* variables > config file > defaults)\n\
             # config file: {file}\n\
             # master key: {master_key}{issuer}\n{body}"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_in_the_largest_exact_unit() {
        let shown: Vec<String> = [900, 3_600, 604_800, 90, 0]
            .into_iter()
            .map(|s| format_duration(Duration::from_secs(s)))
            .collect();
        assert_eq!(shown, ["15m", "1h", "7d", "90s", "0s"]);
    }

    #[test]
    fn unknown_keys_in_the_file_are_named() {
        let err = toml::from_str::<SettingsFile>("acces_ttl = \"5m\"\n").unwrap_err();
        assert!(err.to_string().contains("acces_ttl"), "{err}");
    }
}
