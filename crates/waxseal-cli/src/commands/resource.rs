//! `waxseal resource …`: the resource servers (RFC 8707) clients may ask tokens for, against the data directory
//! `waxseal serve` uses.

use std::process::ExitCode;

use super::serve::{admin_config, init_logging};
use super::user::with_service;
use crate::Outcome;
use crate::cli::{DataDirArg, ResourceAddArgs, ResourceUriArgs};

pub fn add(args: &ResourceAddArgs) -> Outcome {
    init_logging();
    let resource = with_service(admin_config(&args.data)?, async |s| {
        s.add_resource(&args.uri, &args.scopes).await
    })?;
    println!(
        "added resource {} (scopes: {}); a token asked for it with resource={} has it as its only aud",
        resource.uri,
        resource.scopes.join(" "),
        resource.uri
    );
    Ok(ExitCode::SUCCESS)
}

pub fn list(data: &DataDirArg) -> Outcome {
    init_logging();
    let resources = with_service(admin_config(data)?, async |s| s.resources().await)?;
    if resources.is_empty() {
        eprintln!("no resources yet; add one with `waxseal resource add URI --scope SCOPE`");
        return Ok(ExitCode::SUCCESS);
    }
    let width = resources
        .iter()
        .map(|r| r.uri.chars().count())
        .max()
        .unwrap_or(0)
        .max("URI".len());
    println!("{:<width$}  {:<23}  SCOPES", "URI", "CREATED");
    for resource in resources {
        println!(
            "{:<width$}  {:<23}  {}",
            resource.uri,
            crate::time::utc(resource.created_at),
            resource.scopes.join(" ")
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn remove(args: &ResourceUriArgs) -> Outcome {
    init_logging();
    with_service(admin_config(&args.data)?, async |s| {
        s.remove_resource(&args.uri).await
    })?;
    println!(
        "removed resource {}; no token is issued for it any more and its sessions are refreshed no more (tokens \
         already issued keep their aud until they expire)",
        args.uri
    );
    Ok(ExitCode::SUCCESS)
}
