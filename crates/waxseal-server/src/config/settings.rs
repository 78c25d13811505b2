//! `waxseal serve`'s settings, each declared once in the table below, and the one place where they are layered
//! over each other and over the defaults of [`Config`].
//!
//! A source of settings is a [`Settings`]: `None` wherever it says nothing. The command line (flags, and the
//! `WAXSEAL_*` variables behind them) is one; the TOML settings file ([`SettingsFile`], the same names, durations as
//! text) another. [`Settings::over`] puts the first over the second, reading a file value only where no flag set
//! it, so a bad value a flag overrides is no error; [`Settings::resolve`] lays the result over the defaults and
//! checks it with [`Config::validate`]. The master key is not a setting: it never comes from a flag or a file.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use waxseal::Algorithm;

use super::{Config, Database, SecretUrl, TlsFiles};
use crate::error::{Error, Result};
use crate::master_key::MasterKey;

/// Declares each setting once: its name (the file key, and the flag with `-` for `_`), its type, and, for the
/// ones written as text in the file, the function that reads that text.
macro_rules! settings {
    ($( $(#[doc = $doc:literal])* $name:ident: $ty:ty $(, text: $parse:path)? ;)*) => {
        /// One source of settings: `None` where it says nothing.
        #[derive(Debug, Clone, Default)]
        pub struct Settings {
            $( $(#[doc = $doc])* pub $name: Option<$ty>, )*
        }

        /// The settings file, and the `--print-config` output (so the output is itself a valid settings file). An
        /// unknown key is an error naming it, so a typo never silently leaves a default in force.
        #[derive(Debug, Default, Deserialize, Serialize)]
        #[serde(deny_unknown_fields)]
        pub struct SettingsFile {
            $(
                $(#[doc = $doc])*
                #[serde(skip_serializing_if = "Option::is_none")]
                pub $name: Option<settings!(@file $ty $(, $parse)?)>,
            )*
        }

        impl Settings {
            /// These settings over the file's. A file value is read only where these say nothing; the error names
            /// its key.
            pub fn over(self, file: SettingsFile) -> Result<Settings> {
                Ok(Settings {
                    $( $name: match self.$name {
                        Some(value) => Some(value),
                        None => settings!(@read file.$name, stringify!($name) $(, $parse)?),
                    }, )*
                })
            }
        }
    };
    (@file $ty:ty) => { $ty };
    (@file $ty:ty, $parse:path) => { String };
    (@read $value:expr, $key:expr) => { $value };
    (@read $value:expr, $key:expr, $parse:path) => {
        $value
            .map(|text| $parse(&text).map_err(|e| Error::config(format!("config file key {}: {e}", $key))))
            .transpose()?
    };
}

settings! {
    /// [`Config::data_dir`].
    data_dir: PathBuf;
    /// [`Config::listen`].
    listen: SocketAddr;
    /// [`Config::management_listen`]: a socket address, or `off`.
    management_listen: ManagementListen, text: management_listen;
    /// [`Config::public_metrics`].
    public_metrics: bool;
    /// [`Config::issuer`]; none: the server's own URL.
    issuer: String;
    /// [`Config::audience`].
    audience: String;
    /// [`Config::access_token_ttl`].
    access_ttl: Duration, text: duration;
    /// [`Config::refresh_idle_ttl`].
    refresh_idle_ttl: Duration, text: duration;
    /// [`Config::refresh_absolute_ttl`].
    refresh_absolute_ttl: Duration, text: duration;
    /// [`Config::refresh_reuse_interval`]: a duration, or `0` / `off`.
    refresh_reuse_interval: Duration, text: reuse_interval;
    /// [`Config::signing_alg`], by name.
    signing_alg: String;
    /// [`Config::allow_symmetric_signing`].
    allow_symmetric_signing: bool;
    /// [`Config::key_rotation_interval`]: a duration, or `off`.
    key_rotation: Rotation, text: rotation;
    /// The certificate of [`Config::tls`]; needs `tls_key`.
    tls_cert: PathBuf;
    /// The key of [`Config::tls`]; needs `tls_cert`.
    tls_key: PathBuf;
    /// [`Config::verified_token_cache`].
    token_cache: usize;
    /// [`Config::refresh_cookie`].
    refresh_cookie: bool;
    /// [`Config::database`], as a URL; shown with its password as `***`.
    database_url: String;
    /// [`Config::database_max_connections`].
    database_max_connections: u32;
    /// [`Config::redis_url`]; shown with its password as `***`.
    redis_url: String;
    /// [`Config::redis_key_prefix`].
    redis_key_prefix: String;
    /// [`Config::header_read_timeout`].
    header_read_timeout: Duration, text: duration;
    /// [`Config::idle_timeout`].
    idle_timeout: Duration, text: duration;
    /// [`Config::body_timeout`].
    body_timeout: Duration, text: duration;
    /// [`Config::max_connections`].
    max_connections: usize;
    /// [`Config::max_connections_per_address`].
    max_connections_per_address: usize;
    /// [`Config::dpop_nonces`].
    dpop_nonce: bool;
    /// [`Config::dpop_proof_window`].
    dpop_proof_window: Duration, text: duration;
    /// [`Config::allow_registration`].
    allow_registration: bool;
    /// [`Config::registration_scope`].
    registration_scope: String;
    /// [`Config::registrations_per_hour`].
    registrations_per_hour: u32;
    /// [`Config::registered_client_expiry`].
    registered_client_expiry: Duration, text: duration;
    /// [`Config::allow_client_metadata_documents`].
    allow_client_metadata_documents: bool;
    /// [`Config::client_metadata_allowed_hosts`].
    client_metadata_allowed_hosts: Vec<String>;
    /// [`Config::client_metadata_ca_file`].
    client_metadata_ca_file: PathBuf;
    /// [`Config::client_metadata_timeout`].
    client_metadata_timeout: Duration, text: duration;
}

/// A key-rotation interval, or none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    /// Only manual rotation.
    Off,
    /// Every so long.
    Every(Duration),
}

/// `off`, or a [`duration`].
pub fn rotation(text: &str) -> std::result::Result<Rotation, String> {
    if text.trim() == "off" {
        return Ok(Rotation::Off);
    }
    duration(text).map(Rotation::Every)
}

/// Where the management listener listens, or nowhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManagementListen {
    /// No management listener.
    Off,
    /// On this address.
    At(SocketAddr),
}

/// `off`, or a socket address such as `127.0.0.1:9000`.
pub fn management_listen(text: &str) -> std::result::Result<ManagementListen, String> {
    let text = text.trim();
    if text == "off" {
        return Ok(ManagementListen::Off);
    }
    text.parse().map(ManagementListen::At).map_err(|_| {
        format!("{text:?} is neither a socket address like 127.0.0.1:9000 nor \"off\"")
    })
}

/// `0` or `off` (no reuse interval), or a [`duration`].
pub fn reuse_interval(text: &str) -> std::result::Result<Duration, String> {
    if matches!(text.trim(), "0" | "off") {
        return Ok(Duration::ZERO);
    }
    duration(text)
}

/// A lifetime such as `90s`, `15m`, `1h`, `7d` or `2w`.
pub fn duration(text: &str) -> std::result::Result<Duration, String> {
    if text.trim().bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "{text:?} has no unit; write 90s, 15m, 1h, 7d or 2w"
        ));
    }
    seconds(text).map(Duration::from_secs)
}

/// Parses `90s`, `15m`, `1h`, `7d`, `2w` into seconds; the messages also fit the command line's points in time,
/// which are a duration from now or a NumericDate.
pub fn seconds(text: &str) -> std::result::Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 90s, 15m, 1h or 7d"))?;
    let factor = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 604_800,
        _ => {
            return Err(format!(
                "{text:?} has no unit; write 90s, 15m, 1h, 7d or 2w (or a NumericDate for a fixed time)"
            ));
        }
    };
    n.checked_mul(factor)
        .ok_or_else(|| format!("{text:?} is too long a duration"))
}

/// `15m`, `7d`: the largest unit that divides the duration exactly.
fn format_duration(d: Duration) -> String {
    let secs = d.as_secs();
    for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60)] {
        if secs != 0 && secs % size == 0 {
            return format!("{}{unit}", secs / size);
        }
    }
    format!("{secs}s")
}

/// Settings laid over the defaults: the server's configuration, and whether its issuer follows the address.
#[derive(Debug)]
pub struct Resolved {
    /// The configuration; `issuer` is the derived one when `issuer_is_derived`.
    pub config: Config,
    /// No source set the issuer: it is the server's own URL, and follows the address actually bound.
    pub issuer_is_derived: bool,
}

impl Resolved {
    /// The address actually bound (port 0 becomes a real port): the listen address, and the issuer if derived.
    pub fn bound(&mut self, addr: SocketAddr) {
        self.config.listen = addr;
        if self.issuer_is_derived {
            self.config.issuer = derived_issuer(&self.config);
        }
    }
}

/// The issuer when none is configured: the server's own URL, `https://` when it serves TLS.
fn derived_issuer(config: &Config) -> String {
    let scheme = if config.tls.is_some() {
        "https"
    } else {
        "http"
    };
    format!("{scheme}://{}", config.listen)
}

/// The value a source set, else the one already there.
fn set<T>(field: &mut T, value: Option<T>) {
    if let Some(value) = value {
        *field = value;
    }
}

/// TLS needs both files: the error says which one is missing and where to set it.
fn tls_files(cert: Option<PathBuf>, key: Option<PathBuf>) -> Result<Option<TlsFiles>> {
    match (cert, key) {
        (Some(cert), Some(key)) => Ok(Some(TlsFiles { cert, key })),
        (None, None) => Ok(None),
        (Some(_), None) => Err(Error::config(
            "a TLS certificate was given without its key: set --tls-key (WAXSEAL_TLS_KEY, tls_key) too",
        )),
        (None, Some(_)) => Err(Error::config(
            "a TLS key was given without its certificate: set --tls-cert (WAXSEAL_TLS_CERT, tls_cert) too",
        )),
    }
}

impl Settings {
    /// These settings over the defaults of [`Config`], with `master_key`, checked by [`Config::validate`].
    pub fn resolve(self, master_key: Option<MasterKey>) -> Result<Resolved> {
        let mut c = Config {
            master_key,
            ..Config::default()
        };
        set(&mut c.data_dir, self.data_dir);
        c.database = Database::from_url(self.database_url.as_deref())?;
        set(
            &mut c.database_max_connections,
            self.database_max_connections,
        );
        set(&mut c.listen, self.listen);
        match self.management_listen {
            Some(ManagementListen::Off) => c.management_listen = None,
            Some(ManagementListen::At(addr)) => c.management_listen = Some(addr),
            None => {}
        }
        set(&mut c.public_metrics, self.public_metrics);
        c.tls = tls_files(self.tls_cert, self.tls_key)?;
        set(&mut c.verified_token_cache, self.token_cache);
        let issuer_is_derived = self.issuer.is_none();
        c.issuer = self.issuer.unwrap_or_else(|| derived_issuer(&c));
        set(&mut c.audience, self.audience);
        set(&mut c.access_token_ttl, self.access_ttl);
        set(&mut c.refresh_idle_ttl, self.refresh_idle_ttl);
        set(&mut c.refresh_absolute_ttl, self.refresh_absolute_ttl);
        set(&mut c.refresh_reuse_interval, self.refresh_reuse_interval);
        if let Some(name) = self.signing_alg {
            c.signing_alg = Algorithm::from_name(&name)
                .map_err(|e| Error::config(format!("signing algorithm {name:?}: {e}")))?;
        }
        set(&mut c.allow_symmetric_signing, self.allow_symmetric_signing);
        match self.key_rotation {
            Some(Rotation::Off) => c.key_rotation_interval = None,
            Some(Rotation::Every(every)) => c.key_rotation_interval = Some(every),
            None => {}
        }
        set(&mut c.refresh_cookie, self.refresh_cookie);
        c.redis_url = self.redis_url.map(SecretUrl::new);
        set(&mut c.redis_key_prefix, self.redis_key_prefix);
        set(&mut c.header_read_timeout, self.header_read_timeout);
        set(&mut c.idle_timeout, self.idle_timeout);
        set(&mut c.body_timeout, self.body_timeout);
        set(&mut c.max_connections, self.max_connections);
        set(
            &mut c.max_connections_per_address,
            self.max_connections_per_address,
        );
        set(&mut c.dpop_nonces, self.dpop_nonce);
        set(&mut c.dpop_proof_window, self.dpop_proof_window);
        set(&mut c.allow_registration, self.allow_registration);
        set(&mut c.registration_scope, self.registration_scope);
        set(&mut c.registrations_per_hour, self.registrations_per_hour);
        set(
            &mut c.registered_client_expiry,
            self.registered_client_expiry,
        );
        set(
            &mut c.allow_client_metadata_documents,
            self.allow_client_metadata_documents,
        );
        set(
            &mut c.client_metadata_allowed_hosts,
            self.client_metadata_allowed_hosts,
        );
        if self.client_metadata_ca_file.is_some() {
            c.client_metadata_ca_file = self.client_metadata_ca_file;
        }
        set(&mut c.client_metadata_timeout, self.client_metadata_timeout);
        c.validate()
            .map_err(|e| Error::config(format!("the configuration is not usable: {e}")))?;
        Ok(Resolved {
            config: c,
            issuer_is_derived,
        })
    }
}

impl SettingsFile {
    /// `config` as a settings file: every setting, secrets in URLs as `***`, and the ones that do not apply (the
    /// pool size without PostgreSQL, the key prefix without Redis) left out.
    pub fn shown(c: &Config) -> SettingsFile {
        SettingsFile {
            data_dir: Some(c.data_dir.clone()),
            listen: Some(c.listen),
            management_listen: Some(
                c.management_listen
                    .map_or_else(|| "off".to_owned(), |addr| addr.to_string()),
            ),
            public_metrics: Some(c.public_metrics),
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
                Database::Postgres(url) => Some(crate::store::postgres::redact_url(url)),
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
            dpop_nonce: Some(c.dpop_nonces),
            dpop_proof_window: Some(format_duration(c.dpop_proof_window)),
            allow_registration: Some(c.allow_registration),
            registration_scope: Some(c.registration_scope.clone()),
            registrations_per_hour: Some(c.registrations_per_hour),
            registered_client_expiry: Some(format_duration(c.registered_client_expiry)),
            allow_client_metadata_documents: Some(c.allow_client_metadata_documents),
            client_metadata_allowed_hosts: Some(c.client_metadata_allowed_hosts.clone()),
            client_metadata_ca_file: c.client_metadata_ca_file.clone(),
            client_metadata_timeout: Some(format_duration(c.client_metadata_timeout)),
        }
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
    fn tls_files_come_in_pairs() {
        let err = |cert: Option<&str>, key: Option<&str>| {
            Settings {
                tls_cert: cert.map(PathBuf::from),
                tls_key: key.map(PathBuf::from),
                ..Settings::default()
            }
            .resolve(None)
            .unwrap_err()
            .to_string()
        };
        assert_eq!(
            err(Some("cert.pem"), None),
            "a TLS certificate was given without its key: set --tls-key (WAXSEAL_TLS_KEY, tls_key) too"
        );
        assert_eq!(
            err(None, Some("key.pem")),
            "a TLS key was given without its certificate: set --tls-cert (WAXSEAL_TLS_CERT, tls_cert) too"
        );
        let both = Settings {
            tls_cert: Some("cert.pem".into()),
            tls_key: Some("key.pem".into()),
            ..Settings::default()
        };
        let resolved = both.resolve(None).unwrap();
        assert!(resolved.issuer_is_derived);
        assert_eq!(resolved.config.issuer, "https://127.0.0.1:8080");
    }

    #[test]
    fn a_flag_wins_and_a_file_value_it_overrides_is_never_read() {
        let file = SettingsFile {
            access_ttl: Some("15".into()),
            refresh_idle_ttl: Some("2d".into()),
            audience: Some("from-file".into()),
            ..SettingsFile::default()
        };
        let flags = Settings {
            access_ttl: Some(Duration::from_secs(300)),
            audience: Some("from-flag".into()),
            ..Settings::default()
        };
        let config = flags.over(file).unwrap().resolve(None).unwrap().config;
        assert_eq!(config.access_token_ttl, Duration::from_secs(300));
        assert_eq!(config.refresh_idle_ttl, Duration::from_secs(2 * 86_400));
        assert_eq!(config.audience, "from-flag");
        let file = SettingsFile {
            access_ttl: Some("15".into()),
            ..SettingsFile::default()
        };
        let err = Settings::default().over(file).unwrap_err();
        assert!(
            err.to_string().starts_with("config file key access_ttl: "),
            "{err}"
        );
    }

    #[test]
    fn the_management_listener_is_an_address_or_off_from_a_flag_or_the_file() {
        let resolve = |flag: Option<ManagementListen>, file: Option<&str>| {
            let file = SettingsFile {
                management_listen: file.map(str::to_owned),
                ..SettingsFile::default()
            };
            let flags = Settings {
                management_listen: flag,
                ..Settings::default()
            };
            flags
                .over(file)
                .and_then(|s| s.resolve(None))
                .map(|r| r.config.management_listen)
        };
        let default = Some(crate::config::DEFAULT_MANAGEMENT_LISTEN);
        assert_eq!(resolve(None, None).unwrap(), default);
        assert_eq!(resolve(None, Some("off")).unwrap(), None);
        let file_addr: SocketAddr = "10.0.0.5:9100".parse().unwrap();
        assert_eq!(
            resolve(None, Some("10.0.0.5:9100")).unwrap(),
            Some(file_addr)
        );
        let flag_addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let flag = Some(ManagementListen::At(flag_addr));
        assert_eq!(resolve(flag, Some("off")).unwrap(), Some(flag_addr));
        assert_eq!(
            resolve(Some(ManagementListen::Off), Some("not an address")).unwrap(),
            None
        );
        let err = resolve(None, Some("9000")).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("config file key management_listen: "),
            "{err}"
        );
        assert_eq!(management_listen(" off "), Ok(ManagementListen::Off));
    }

    #[test]
    fn a_derived_issuer_follows_the_bound_address() {
        let mut resolved = Settings::default().resolve(None).unwrap();
        resolved.bound(SocketAddr::from(([127, 0, 0, 1], 9000)));
        assert_eq!(resolved.config.issuer, "http://127.0.0.1:9000");
        let mut set = Settings {
            issuer: Some("https://auth.example.com".into()),
            ..Settings::default()
        }
        .resolve(None)
        .unwrap();
        set.bound(SocketAddr::from(([127, 0, 0, 1], 9000)));
        assert_eq!(set.config.issuer, "https://auth.example.com");
    }
}
