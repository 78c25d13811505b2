//! `waxseal migrate`: brings the database's schema to this version and says what it did.

use std::process::ExitCode;

use anyhow::Context as _;

use super::serve::{admin_config, init_logging, runtime};
use crate::cli::DataDirArg;
use crate::{Failure, Outcome};

pub fn run(data: &DataDirArg) -> Outcome {
    init_logging();
    let config = admin_config(data)?;
    let migrated = runtime()?.block_on(async {
        let (store, migrated) = waxseal_server::open_store_migrated(&config)
            .await
            .context("the migration failed")
            .map_err(Failure::usage)?;
        store.close().await;
        Ok::<_, Failure>(migrated)
    })?;
    for (version, description) in &migrated.applied {
        println!("applied {version:04} {description}");
    }
    println!(
        "{} is up to date: {} migration(s) applied now, {} before",
        config.database,
        migrated.applied.len(),
        migrated.already
    );
    Ok(ExitCode::SUCCESS)
}
