//! `waxseal client …`: OAuth client administration against the data directory `waxseal serve` uses.

use std::process::ExitCode;

use waxseal_server::GrantType;

use super::serve::{config, init_logging};
use super::user::with_service;
use crate::Outcome;
use crate::cli::{ClientAddArgs, Grant};

fn grant_type(grant: Grant) -> GrantType {
    match grant {
        Grant::Password => GrantType::Password,
        Grant::RefreshToken => GrantType::RefreshToken,
        Grant::ClientCredentials => GrantType::ClientCredentials,
    }
}

pub fn add(args: &ClientAddArgs) -> Outcome {
    init_logging();
    let mut grants: Vec<GrantType> = args.grants.iter().copied().map(grant_type).collect();
    if grants.is_empty() {
        grants.push(GrantType::ClientCredentials);
    }
    let client = with_service(config(&args.data.data_dir)?, async |service| {
        service.add_client(&args.name, &grants, &args.scopes).await
    })?;
    let grants: Vec<&str> = grants.iter().map(|g| g.as_str()).collect();
    println!(
        "added client {:?} (grants: {})",
        args.name,
        grants.join(" ")
    );
    println!("client_id:     {}", client.client_id);
    println!("client_secret: {}", client.client_secret.as_str());
    eprintln!(
        "The secret is shown only this once and stored only as a hash: keep it in a secret store now."
    );
    Ok(ExitCode::SUCCESS)
}
