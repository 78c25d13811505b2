//! `waxseal user …`: account administration against the data directory `waxseal serve` uses.

use std::io::BufRead as _;
use std::process::ExitCode;

use anyhow::{Context as _, anyhow};
use waxseal_server::{AuthService, Config, Profile, Server};
use zeroize::Zeroizing;

use super::serve::{admin_config, init_logging, runtime};
use crate::cli::{DataDirArg, UserAddArgs, UserNameArgs, UserProfileArgs, UserSetPasswordArgs};
use crate::{Failure, Outcome};

/// The first line of standard input, without its line ending.
fn password_from_stdin() -> Result<Zeroizing<String>, Failure> {
    let mut line = Zeroizing::new(String::new());
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the password from standard input")
        .map_err(Failure::usage)?;
    let trimmed = Zeroizing::new(line.trim_end_matches(['\n', '\r']).to_owned());
    if trimmed.is_empty() {
        return Err(Failure::usage(anyhow!(
            "no password on standard input (--password-stdin reads its first line)"
        )));
    }
    Ok(trimmed)
}

pub fn add(args: &UserAddArgs) -> Outcome {
    init_logging();
    let password = password_from_stdin()?;
    let profile = Profile {
        email: args.profile.email.clone(),
        name: args.profile.full_name.clone(),
    };
    with_service(admin_config(&args.data)?, async |service| {
        service
            .add_user_with_profile(&args.name, &password, &args.scopes, profile)
            .await
    })?;
    println!("added user {:?}", args.name);
    Ok(ExitCode::SUCCESS)
}

/// Opens the data directory, runs `op` on the service, closes the database whatever `op` returned.
pub(super) fn with_service<T>(
    config: Config,
    op: impl AsyncFnOnce(&AuthService) -> waxseal_server::Result<T>,
) -> Result<T, Failure> {
    runtime()?.block_on(async move {
        let server = Server::open_admin(config)
            .await
            .context("cannot open the data directory or the database")
            .map_err(Failure::usage)?;
        let done = op(server.service()).await;
        server.close().await;
        done.map_err(|e| Failure::usage(anyhow!(e)))
    })
}

pub fn list(data: &DataDirArg) -> Outcome {
    init_logging();
    let users = with_service(admin_config(data)?, async |s| s.list_users().await)?;
    if users.is_empty() {
        eprintln!("no users yet; add one with `waxseal user add NAME --password-stdin`");
        return Ok(ExitCode::SUCCESS);
    }
    let width = users
        .iter()
        .map(|u| u.username.chars().count())
        .max()
        .unwrap_or(0)
        .max(4);
    println!(
        "{:<width$}  {:<8}  {:<23}  SCOPES",
        "NAME", "STATUS", "CREATED"
    );
    for user in users {
        let status = if user.disabled { "disabled" } else { "enabled" };
        let scopes = if user.scopes.is_empty() {
            "-".to_owned()
        } else {
            user.scopes.join(" ")
        };
        println!(
            "{:<width$}  {status:<8}  {:<23}  {scopes}",
            user.username,
            crate::time::utc(user.created_at)
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn set_disabled(args: &UserNameArgs, disabled: bool) -> Outcome {
    init_logging();
    with_service(admin_config(&args.data)?, async |s| {
        s.set_user_disabled(&args.name, disabled).await
    })?;
    if disabled {
        println!(
            "disabled user {:?}; every session of the user has ended",
            args.name
        );
    } else {
        println!("enabled user {:?}", args.name);
    }
    Ok(ExitCode::SUCCESS)
}

pub fn delete(args: &UserNameArgs) -> Outcome {
    init_logging();
    with_service(admin_config(&args.data)?, async |s| {
        s.delete_user(&args.name).await
    })?;
    println!(
        "deleted user {:?}; every session of the user has ended",
        args.name
    );
    Ok(ExitCode::SUCCESS)
}

pub fn set_password(args: &UserSetPasswordArgs) -> Outcome {
    init_logging();
    let password = password_from_stdin()?;
    with_service(admin_config(&args.data)?, async |s| {
        s.set_password(&args.name, &password).await
    })?;
    println!(
        "changed the password of user {:?}; every session of the user has ended",
        args.name
    );
    Ok(ExitCode::SUCCESS)
}

pub fn profile(args: &UserProfileArgs) -> Outcome {
    init_logging();
    let profile = with_service(admin_config(&args.data)?, async |s| {
        let current = s
            .list_users()
            .await?
            .into_iter()
            .find(|u| u.username == args.name)
            .map(|u| u.profile)
            .unwrap_or_default();
        let profile = Profile {
            email: if args.clear_email {
                None
            } else {
                args.profile.email.clone().or(current.email)
            },
            name: if args.clear_name {
                None
            } else {
                args.profile.full_name.clone().or(current.name)
            },
        };
        s.set_profile(&args.name, profile.clone()).await?;
        Ok(profile)
    })?;
    println!(
        "profile of user {:?}: email {}, name {}",
        args.name,
        profile.email.as_deref().unwrap_or("(none)"),
        profile.name.as_deref().unwrap_or("(none)")
    );
    Ok(ExitCode::SUCCESS)
}
