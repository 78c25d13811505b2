//! `waxseal keys …`: the auth server's signing keys, against the data directory `waxseal serve` uses.

use std::process::ExitCode;

use anyhow::anyhow;
use waxseal::Algorithm;
use waxseal_server::{KeyState, SecretUrl};

use super::serve::{admin_config, init_logging};
use super::user::with_service;
use crate::cli::{DataDirArg, KeysRevokeArgs, KeysRotateArgs};
use crate::{Failure, Outcome};

/// What the state means for the key's publication and signing, with the times that matter.
fn describe(state: KeyState, activates_at: u64) -> String {
    match state {
        KeyState::Pending => format!("published; signs from {}", crate::time::utc(activates_at)),
        KeyState::Active => "signs new tokens".to_owned(),
        KeyState::Retired { until } => format!(
            "published until {} for the tokens it signed",
            crate::time::utc(until)
        ),
        KeyState::Expired => "unpublished; deleted at the server's next key check".to_owned(),
        KeyState::Revoked { at } => format!(
            "revoked {}: unpublished, its tokens refused, the key deleted",
            crate::time::utc(at)
        ),
    }
}

pub fn list(data: &DataDirArg) -> Outcome {
    init_logging();
    let keys = with_service(admin_config(data)?, async |s| s.list_keys().await)?;
    if keys.is_empty() {
        eprintln!("no signing keys yet; `waxseal serve` creates the first one when it starts");
        return Ok(ExitCode::SUCCESS);
    }
    let width = keys.iter().map(|k| k.kid.len()).max().unwrap_or(0).max(3);
    println!(
        "{:<width$}  {:<6}  {:<8}  {:<23}  NOTE",
        "KID", "ALG", "STATE", "CREATED"
    );
    for key in keys {
        println!(
            "{:<width$}  {:<6}  {:<8}  {:<23}  {}",
            key.kid,
            key.alg,
            key.state.label(),
            crate::time::utc(key.created_at),
            describe(key.state, key.activates_at)
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn rotate(args: &KeysRotateArgs) -> Outcome {
    init_logging();
    let alg = args
        .alg
        .as_deref()
        .map(Algorithm::from_name)
        .transpose()
        .map_err(|e| Failure::usage(anyhow!("--alg: {e}")))?;
    let key = with_service(admin_config(&args.data)?, async |s| {
        match args.signs_after {
            Some(delay) => s.rotate_keys_signing_after(alg, delay).await,
            None => s.rotate_keys(alg).await,
        }
    })?;
    println!("published key {} ({})", key.kid, key.alg);
    println!(
        "it signs new tokens from {}, once JWKS caches have seen it;",
        crate::time::utc(key.activates_at)
    );
    println!("the current key stays published until every token it signed has expired.");
    Ok(ExitCode::SUCCESS)
}

pub fn revoke(args: &KeysRevokeArgs) -> Outcome {
    init_logging();
    let alg = args
        .alg
        .as_deref()
        .map(Algorithm::from_name)
        .transpose()
        .map_err(|e| Failure::usage(anyhow!("--alg: {e}")))?;
    let mut config = admin_config(&args.data)?;
    // With the instances' Redis, the revocation is announced to them at once (the database carries it anyway).
    config.redis_url = args.redis_url.as_deref().map(SecretUrl::new);
    if let Some(prefix) = &args.redis_key_prefix {
        prefix.clone_into(&mut config.redis_key_prefix);
    }
    let done = with_service(config, async |s| s.revoke_key(&args.kid, alg).await)?;
    println!(
        "revoked key {} ({}): unpublished, every token it signed is refused, its private key deleted",
        done.revoked.kid, done.revoked.alg
    );
    match &done.replacement {
        Some(key) => println!(
            "key {} ({}) signs new tokens from {} (without the usual publish delay)",
            key.kid,
            key.alg,
            crate::time::utc(key.activates_at)
        ),
        None => println!("the signing key is unchanged: the revoked key no longer signed"),
    }
    if done.announced {
        println!("announced through Redis: running servers act on it at once");
    } else {
        println!("running servers on this database act on it within a second");
    }
    println!("users holding its tokens must refresh or sign in again");
    Ok(ExitCode::SUCCESS)
}
