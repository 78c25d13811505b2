//! `waxseal export` and `waxseal import`: moving a deployment between databases (see `waxseal_server::transfer`).

use std::io::{IsTerminal as _, Read as _, Write as _};
use std::process::ExitCode;

use anyhow::{Context as _, anyhow};
use waxseal_server::transfer::{self, Dump};
use waxseal_server::{Clock as _, SystemClock};

use super::serve::{admin_config, init_logging, runtime};
use crate::cli::{DataDirArg, ImportArgs};
use crate::{Failure, Outcome};

fn counts(dump: &Dump) -> String {
    dump.counts()
        .iter()
        .map(|(what, n)| format!("{n} {what}"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn export(data: &DataDirArg) -> Outcome {
    if std::io::stdout().is_terminal() {
        return Err(Failure::usage(anyhow!(
            "the dump holds password hashes and refresh-token digests: redirect it to a file \
             (waxseal export > dump.json), not to the terminal"
        )));
    }
    init_logging();
    let config = admin_config(data)?;
    let dump = runtime()?.block_on(async {
        let store = waxseal_server::open_store(&config)
            .await
            .context("cannot open the database")
            .map_err(Failure::usage)?;
        eprintln!("reading every row of {} ...", config.database);
        let dump = transfer::export(store.as_ref(), SystemClock.now().secs()).await;
        store.close().await;
        dump.map_err(|e| Failure::usage(anyhow!(e)))
    })?;
    eprintln!("writing {}", counts(&dump));
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    serde_json::to_writer(&mut out, &dump)
        .map_err(anyhow::Error::from)
        .and_then(|()| Ok(out.write_all(b"\n").and_then(|()| out.flush())?))
        .context("cannot write the dump to standard output")
        .map_err(Failure::usage)?;
    eprintln!("exported; keep the dump private, and copy the master key to the target separately");
    Ok(ExitCode::SUCCESS)
}

pub fn import(args: &ImportArgs) -> Outcome {
    init_logging();
    let config = admin_config(&args.data)?;
    let mut text = String::new();
    if args.input.as_os_str() == "-" {
        std::io::stdin()
            .lock()
            .read_to_string(&mut text)
            .context("cannot read the dump from standard input")
            .map_err(Failure::usage)?;
    } else {
        text = std::fs::read_to_string(&args.input)
            .with_context(|| format!("cannot read {}", args.input.display()))
            .map_err(Failure::usage)?;
    }
    let dump = Dump::from_json(&text).map_err(|e| Failure::usage(anyhow!(e)))?;
    eprintln!("read {}", counts(&dump));
    if !dump.signing_keys.is_empty() {
        let master = waxseal_server::existing_master_key(&config)
            .map_err(|e| Failure::usage(anyhow!(e)))?
            .ok_or_else(|| {
                Failure::usage(anyhow!(
                    "no master key: the imported signing keys are sealed under the exported deployment's master \
                     key; set WAXSEAL_MASTER_KEY to it, or copy its master.key into {}",
                    config.data_dir.display()
                ))
            })?;
        dump.check_keys(&master)
            .map_err(|e| Failure::usage(anyhow!(e)))?;
    }
    runtime()?.block_on(async {
        let store = waxseal_server::open_store(&config)
            .await
            .context("cannot open the database")
            .map_err(Failure::usage)?;
        eprintln!("writing into {} in one transaction ...", config.database);
        let done = transfer::import(store.as_ref(), &dump, args.replace).await;
        store.close().await;
        done.map_err(|e| Failure::usage(anyhow!(e)))
    })?;
    println!("imported {} into {}", counts(&dump), config.database);
    Ok(ExitCode::SUCCESS)
}
