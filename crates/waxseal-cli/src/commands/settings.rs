//! Where `waxseal serve` takes its settings from, highest first: flags, `WAXSEAL_*` variables (clap reads both into
//! [`ServeArgs`]), the optional TOML file (`--config` / `WAXSEAL_CONFIG`), the defaults of [`Config`]. The settings
//! themselves, their layering and their checks are `waxseal_server::settings`'; this module reads the sources.
//!
//! The TOML file uses the same names as the flags (with `_`); an unknown key is an error naming it, so a typo never
//! silently leaves a default in force. The master key has no key in the file and no flag: it comes only from
//! `WAXSEAL_MASTER_KEY` or the generated key file, and `--print-config` says which, never what.
//!
//! [`Config`]: waxseal_server::Config

use std::path::{Path, PathBuf};

use anyhow::{Context as _, anyhow};
use waxseal_server::MASTER_KEY_FILE;
use waxseal_server::MasterKey;
use waxseal_server::settings::{Resolved, Settings, SettingsFile};

use crate::Failure;
use crate::cli::ServeArgs;

/// The environment variable holding the master key; never a flag, so it stays out of `ps` and shell history.
const MASTER_KEY_ENV: &str = "WAXSEAL_MASTER_KEY";

/// The master key from the environment, when it is set.
pub(super) fn master_key() -> Result<Option<MasterKey>, Failure> {
    match std::env::var(MASTER_KEY_ENV) {
        Ok(text) if !text.is_empty() => Ok(Some(
            MasterKey::parse(&text)
                .with_context(|| format!("{MASTER_KEY_ENV} is not usable"))
                .map_err(Failure::usage)?,
        )),
        _ => Ok(None),
    }
}

/// The effective settings of `waxseal serve`.
#[derive(Debug)]
pub(super) struct Effective {
    /// The server configuration, and whether its issuer follows the address bound.
    pub(super) resolved: Resolved,
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

/// The flags and variables clap read.
fn flags(args: &ServeArgs) -> Settings {
    Settings {
        data_dir: args.data_dir.clone(),
        listen: args.listen,
        management_listen: args.management_listen,
        public_metrics: args.public_metrics,
        issuer: args.issuer.clone(),
        audience: args.audience.clone(),
        access_ttl: args.access_ttl,
        refresh_idle_ttl: args.refresh_idle_ttl,
        refresh_absolute_ttl: args.refresh_absolute_ttl,
        refresh_reuse_interval: args.refresh_reuse_interval,
        signing_alg: args.signing_alg.clone(),
        // A flag that can only turn it on: without it, the file decides.
        allow_symmetric_signing: args.allow_symmetric_signing.then_some(true),
        key_rotation: args.key_rotation,
        tls_cert: args.tls_cert.clone(),
        tls_key: args.tls_key.clone(),
        token_cache: args.token_cache,
        refresh_cookie: args.refresh_cookie,
        database_url: args.database_url.clone(),
        database_max_connections: args.database_max_connections,
        redis_url: args.redis_url.clone(),
        redis_key_prefix: args.redis_key_prefix.clone(),
        header_read_timeout: args.header_read_timeout,
        idle_timeout: args.idle_timeout,
        body_timeout: args.body_timeout,
        max_connections: args.max_connections,
        max_connections_per_address: args.max_connections_per_address,
        dpop_nonce: args.dpop_nonce,
        dpop_proof_window: args.dpop_proof_window,
        allow_registration: args.allow_registration,
        registration_scope: args.registration_scope.clone(),
        registrations_per_hour: args.registrations_per_hour,
        registered_client_expiry: args.registered_client_expiry,
        allow_client_metadata_documents: args.allow_client_metadata_documents,
        // No flag given: the file decides (an empty list from the command line would erase it).
        client_metadata_allowed_hosts: (!args.client_metadata_allowed_hosts.is_empty())
            .then(|| args.client_metadata_allowed_hosts.clone()),
        client_metadata_ca_file: args.client_metadata_ca_file.clone(),
        client_metadata_timeout: args.client_metadata_timeout,
    }
}

impl Effective {
    /// Layers flags and variables over the file over the defaults, and checks the result.
    pub(super) fn resolve(args: &ServeArgs) -> Result<Effective, Failure> {
        let file = match &args.config {
            Some(path) => read_file(path).map_err(Failure::usage)?,
            None => SettingsFile::default(),
        };
        let master_key = master_key()?;
        let resolved = flags(args)
            .over(file)
            .and_then(|settings| settings.resolve(master_key))
            .map_err(|e| Failure::usage(anyhow!(e)))?;
        Ok(Effective {
            resolved,
            file: args.config.clone(),
        })
    }

    /// The effective settings as a TOML settings file, with comments for where the master key and the file come
    /// from.
    pub(super) fn render(&self) -> Result<String, Failure> {
        let c = &self.resolved.config;
        let body = toml::to_string(&SettingsFile::shown(c))
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
        let issuer = if self.resolved.issuer_is_derived {
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
    fn unknown_keys_in_the_file_are_named() {
        let err = toml::from_str::<SettingsFile>("acces_ttl = \"5m\"\n").unwrap_err();
        assert!(err.to_string().contains("acces_ttl"), "{err}");
    }
}
