//! JWE keys as people have them, for `encrypt` and `decrypt`: a JWK, a JWK Set, a PEM key (with `--alg`) or raw
//! secret bytes (with `--alg`, and `--enc` for `dir`). Everything goes through the core's JWE key constructors, so
//! a key-management algorithm the core adds is usable here with no change.

use std::path::Path;
use std::process::ExitCode;

use anyhow::anyhow;
use waxseal::Jwk;
use waxseal::jwe::{ContentEncryption, DecryptionKey, EncryptionKey, KeyManagement};
use zeroize::Zeroizing;

use super::keys::{pretty, write_private};
use crate::cli::{JweKeySource, KeyFormat, KeygenArgs};
use crate::{Failure, Outcome, input, keyfile, output};

/// At most this many "key ignored" notes for a JWK Set.
const MAX_NOTES: usize = 5;

/// What `encrypt` and `decrypt` need of the core's two JWE key types.
pub(crate) trait JweKey: Sized {
    fn from_jwk(jwk: &Jwk) -> waxseal::Result<Self>;
    fn from_jwk_with_alg(jwk: &Jwk, alg: KeyManagement) -> waxseal::Result<Self>;
    fn from_jwk_direct(jwk: &Jwk, enc: ContentEncryption) -> waxseal::Result<Self>;
    fn from_secret(secret: &[u8], alg: KeyManagement) -> waxseal::Result<Self>;
    fn direct(secret: &[u8], enc: ContentEncryption) -> waxseal::Result<Self>;
    /// "decryption" or "encryption".
    const USE: &'static str;
}

macro_rules! jwe_key {
    ($type:ty, $use:literal) => {
        impl JweKey for $type {
            fn from_jwk(jwk: &Jwk) -> waxseal::Result<Self> {
                <$type>::from_jwk(jwk)
            }
            fn from_jwk_with_alg(jwk: &Jwk, alg: KeyManagement) -> waxseal::Result<Self> {
                <$type>::from_jwk_with_alg(jwk, alg)
            }
            fn from_jwk_direct(jwk: &Jwk, enc: ContentEncryption) -> waxseal::Result<Self> {
                <$type>::from_jwk_direct(jwk, enc)
            }
            fn from_secret(secret: &[u8], alg: KeyManagement) -> waxseal::Result<Self> {
                <$type>::from_secret(secret, alg)
            }
            fn direct(secret: &[u8], enc: ContentEncryption) -> waxseal::Result<Self> {
                <$type>::direct(secret, enc)
            }
            const USE: &'static str = $use;
        }
    };
}

jwe_key!(DecryptionKey, "decryption");
jwe_key!(EncryptionKey, "encryption");

/// A key and how to name it to the user ("the key in enc.jwk", "key #2 of keys.jwks").
pub(crate) struct Named<K> {
    pub(crate) key: K,
    pub(crate) name: String,
    /// One of the keys of a JWK Set (which `--kid` picks from) rather than the key of a file.
    pub(crate) in_set: bool,
}

/// `--alg` as a key-management algorithm.
pub(crate) fn parse_alg(name: &str) -> Result<KeyManagement, Failure> {
    KeyManagement::from_name(name).map_err(|e| Failure::usage(anyhow!("--alg {name}: {e}")))
}

/// `--enc` as a content encryption.
pub(crate) fn parse_enc(name: &str) -> Result<ContentEncryption, Failure> {
    ContentEncryption::from_name(name).map_err(|e| {
        let all: Vec<&str> = ContentEncryption::ALL.iter().map(|e| e.name()).collect();
        Failure::usage(anyhow!("--enc {name}: {e} (one of {})", all.join(", ")))
    })
}

/// The keys of the source, as `K`: one for a key file or a secret, every usable one of a JWK Set.
pub(crate) fn load<K: JweKey>(
    source: &JweKeySource,
    enc: Option<ContentEncryption>,
) -> Result<Vec<Named<K>>, Failure> {
    let alg = source.alg.as_deref().map(parse_alg).transpose()?;
    if let Some(path) = &source.secret_file {
        let secret = Zeroizing::new(input::file(path, "secret file")?);
        let alg = alg.ok_or_else(|| Failure::usage(anyhow!("--secret-file needs --alg")))?;
        let key = match (alg, enc) {
            (KeyManagement::Dir, Some(enc)) => K::direct(&secret, enc),
            (KeyManagement::Dir, None) => {
                return Err(Failure::usage(anyhow!(
                    "a dir secret is the content key of one content encryption: add --enc (A256GCM, A128CBC-HS256, …)"
                )));
            }
            (alg, _) => K::from_secret(&secret, alg),
        };
        let key = key.map_err(|e| {
            Failure::usage(anyhow!("cannot use secret file {}: {e}", path.display()))
        })?;
        return Ok(vec![Named {
            key,
            name: format!("the secret in {}", path.display()),
            in_set: false,
        }]);
    }
    let path = source
        .key
        .as_deref()
        .ok_or_else(|| Failure::usage(anyhow!("give --key FILE or --secret-file FILE")))?;
    let jwks = keyfile::read_jwks(path)?;
    if let [jwk] = jwks.as_slice() {
        let key = from_jwk::<K>(jwk, alg, enc).map_err(|e| {
            Failure::usage(anyhow!("cannot use key file {}: {e:#}", path.display()))
        })?;
        return Ok(vec![Named {
            key,
            name: format!("the key in {}", path.display()),
            in_set: false,
        }]);
    }
    from_set(&jwks, path, alg, enc)
}

/// The usable keys of a JWK Set; the others are named in notes (signing keys are expected there, so they are
/// skipped without complaint unless nothing is left).
fn from_set<K: JweKey>(
    jwks: &[Jwk],
    path: &Path,
    alg: Option<KeyManagement>,
    enc: Option<ContentEncryption>,
) -> Result<Vec<Named<K>>, Failure> {
    let mut keys = Vec::new();
    let mut skipped = Vec::new();
    for (i, jwk) in jwks.iter().enumerate() {
        let name = match &jwk.kid {
            Some(kid) => format!("key #{} (kid {kid:?}) of {}", i + 1, path.display()),
            None => format!("key #{} of {}", i + 1, path.display()),
        };
        match from_jwk::<K>(jwk, alg, enc) {
            Ok(key) => keys.push(Named {
                key,
                name,
                in_set: true,
            }),
            Err(e) => skipped.push((name, is_signing_key(jwk), e)),
        }
    }
    if keys.is_empty() {
        let why = skipped.first().map_or_else(
            || "it has no keys".to_owned(),
            |(n, _, e)| format!("{n}: {e:#}"),
        );
        return Err(Failure::usage(anyhow!(
            "no key of {} is usable for {}: {why}",
            path.display(),
            K::USE
        )));
    }
    let notes: Vec<_> = skipped.iter().filter(|(_, signing, _)| !signing).collect();
    for (name, _, e) in notes.iter().take(MAX_NOTES) {
        eprintln!("note: {name} ignored: {e:#}");
    }
    if notes.len() > MAX_NOTES {
        eprintln!("note: {} more keys ignored", notes.len() - MAX_NOTES);
    }
    Ok(keys)
}

/// A key of a JWS: `use: sig`, or an `alg` from the JWS registry.
fn is_signing_key(jwk: &Jwk) -> bool {
    jwk.use_.as_deref() == Some("sig")
        || jwk
            .alg
            .as_deref()
            .is_some_and(|a| waxseal::Algorithm::from_name(a).is_ok())
}

/// One JWK as a JWE key: for the algorithm of `--alg` when given (with `--enc`, or the JWK's `alg`, for `dir`),
/// else for the algorithm the JWK names.
fn from_jwk<K: JweKey>(
    jwk: &Jwk,
    alg: Option<KeyManagement>,
    enc: Option<ContentEncryption>,
) -> anyhow::Result<K> {
    let key = match alg {
        Some(KeyManagement::Dir) => {
            let enc = enc
                .or_else(|| {
                    let named = jwk.alg.as_deref()?;
                    ContentEncryption::from_name(named).ok()
                })
                .ok_or_else(|| {
                    anyhow!("a dir key is the content key of one content encryption: add --enc (A256GCM, …)")
                })?;
            K::from_jwk_direct(jwk, enc)
        }
        Some(alg) => K::from_jwk_with_alg(jwk, alg),
        None if jwk.alg.is_none() => {
            return Err(anyhow!(
                "the key does not say its algorithm; add --alg ({})",
                fitting(jwk).join(", ")
            ));
        }
        None => K::from_jwk(jwk),
    };
    key.map_err(|e| {
        if is_signing_key(jwk) {
            anyhow!(
                "{e}; it is a signing key — encryption needs a key made for it, e.g. `waxseal keygen --alg RSA-OAEP-256`"
            )
        } else {
            anyhow!("{e}")
        }
    })
}

/// Every JWE key a JWK can be: the one its `alg` (or `alg_name`) names, else one per key-management algorithm (and,
/// for a secret, per content encryption of `dir`) it fits — as `waxseal verify` tries every HMAC algorithm a secret
/// can serve. The algorithms still come from the key, never from a token's header.
pub(crate) fn every_fitting<K: JweKey>(
    jwk: &Jwk,
    alg_name: Option<&str>,
) -> anyhow::Result<Vec<K>> {
    let alg = alg_name.map(KeyManagement::from_name).transpose()?;
    if alg.is_some() || jwk.alg.is_some() {
        if alg == Some(KeyManagement::Dir) && jwk.alg.is_none() {
            let all: Vec<K> = ContentEncryption::ALL
                .into_iter()
                .filter_map(|enc| K::from_jwk_direct(jwk, enc).ok())
                .collect();
            if all.is_empty() {
                return Err(anyhow!(
                    "the key fits the content key of no content encryption"
                ));
            }
            return Ok(all);
        }
        return from_jwk::<K>(jwk, alg, None).map(|k| vec![k]);
    }
    let mut all: Vec<K> = KeyManagement::ALL
        .into_iter()
        .filter(|alg| *alg != KeyManagement::Dir)
        .filter_map(|alg| K::from_jwk_with_alg(jwk, alg).ok())
        .collect();
    all.extend(
        ContentEncryption::ALL
            .into_iter()
            .filter_map(|enc| K::from_jwk_direct(jwk, enc).ok()),
    );
    if all.is_empty() {
        // The error of the likeliest algorithm says what is wrong with the key.
        let likeliest = if jwk.kty == "oct" {
            KeyManagement::A256KW
        } else {
            KeyManagement::RsaOaep256
        };
        K::from_jwk_with_alg(jwk, likeliest)?;
    }
    Ok(all)
}

/// The key-management algorithms a JWK without `alg` could serve, for the hint that asks for `--alg`.
fn fitting(jwk: &Jwk) -> Vec<String> {
    let mut names: Vec<String> = KeyManagement::ALL
        .into_iter()
        .filter(|alg| {
            *alg != KeyManagement::Dir && EncryptionKey::from_jwk_with_alg(jwk, *alg).is_ok()
        })
        .map(|alg| alg.name().to_owned())
        .collect();
    if ContentEncryption::ALL
        .into_iter()
        .any(|enc| EncryptionKey::from_jwk_direct(jwk, enc).is_ok())
    {
        names.push("dir with --enc".to_owned());
    }
    if names.is_empty() {
        names.push("no JWE algorithm fits this key".to_owned());
    }
    names
}

/// `waxseal keygen` for a JWE key-management algorithm: the private JWK to `--out` (mode 0600), and for a key with
/// a public half its public JWK (the key to encrypt to) on stdout, as for signing keys.
pub(crate) fn keygen(args: &KeygenArgs, alg: KeyManagement) -> Outcome {
    let usage = |e: waxseal::Error| Failure::usage(anyhow!("{e}"));
    let key = match (alg, args.enc.as_deref()) {
        (KeyManagement::Dir, Some(enc)) => DecryptionKey::generate_direct(parse_enc(enc)?),
        (KeyManagement::Dir, None) => {
            return Err(Failure::usage(anyhow!(
                "a dir key is the content key of one content encryption: add --enc (A256GCM, A128CBC-HS256, …)"
            )));
        }
        (_, Some(_)) => {
            return Err(Failure::usage(anyhow!(
                "--enc is for --alg dir only: a {alg} key works with every content encryption"
            )));
        }
        (alg, None) if alg.is_ecdh() => {
            DecryptionKey::generate_ecdh(alg, args.crv.as_deref().unwrap_or("P-256")).and_then(
                |key| {
                    let kid = key.encryption_key().to_jwk()?.thumbprint()?;
                    Ok(key.with_kid(kid))
                },
            )
        }
        (alg, None) => DecryptionKey::generate_rsa(alg, usize::from(args.bits)),
    }
    .map_err(usage)?;
    if args.crv.is_some() && !alg.is_ecdh() {
        return Err(Failure::usage(anyhow!(
            "--crv is for the ECDH-ES algorithms only, not {alg}"
        )));
    }
    let key = match &args.kid {
        Some(kid) => key.with_kid(kid),
        None => key,
    };
    let private = key.to_jwk().map_err(usage)?;
    let public = key.encryption_key().to_jwk().map_err(usage)?;
    // A key whose "public" JWK still holds the secret has no public half: it is shared, never published.
    let shared = public.is_private();
    let text = Zeroizing::new(match args.format {
        KeyFormat::Jwk => pretty(&private) + "\n",
        KeyFormat::Pem if shared => {
            return Err(Failure::usage(anyhow!(
                "the {alg} key is a secret and has no PEM form; use --format jwk"
            )));
        }
        // PEM carries no alg: the key is bound to one again when it is read, with --alg.
        KeyFormat::Pem => Jwk {
            alg: None,
            use_: None,
            ..private.clone()
        }
        .to_pem()
        .map_err(usage)?,
    });
    let Some(path) = &args.out else {
        eprintln!(
            "note: no --out given, so the private key goes to standard output; keep it secret"
        );
        output::emit(&text)?;
        return Ok(ExitCode::SUCCESS);
    };
    write_private(path, text.as_bytes(), args.force)?;
    eprintln!(
        "wrote the private {alg} key to {} (mode 0600)",
        path.display()
    );
    if shared {
        eprintln!(
            "the {alg} key is a shared secret: give it only to the party you exchange JWEs with, never publish it"
        );
    } else {
        output::emit(&(pretty(&public) + "\n"))?;
    }
    Ok(ExitCode::SUCCESS)
}
