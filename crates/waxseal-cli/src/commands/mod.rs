//! One module per command; this one dispatches.

mod client;
mod debugger;
pub(crate) mod decode;
mod decrypt;
pub(crate) mod dpop;
mod encrypt;
pub(crate) mod jwe_keys;
mod keys;
mod migrate;
mod resource;
mod serve;
mod settings;
mod sign;
mod signing_keys;
mod transfer;
mod user;
pub(crate) mod verify;

use std::process::ExitCode;

use clap::CommandFactory;

use crate::cli::{Cli, ClientCommand, Command, KeysCommand, ResourceCommand, UserCommand};
use crate::style::Style;
use crate::{Outcome, lint};

pub fn run(command: Command, style: Style) -> Outcome {
    match command {
        Command::Decode(args) => decode::run(&args, style),
        Command::Verify(args) => verify::run(&args),
        Command::Sign(args) => sign::run(&args),
        Command::Encrypt(args) => encrypt::run(&args),
        Command::Decrypt(args) => decrypt::run(&args),
        Command::Dpop(args) => dpop::run(&args),
        Command::Keygen(args) => keys::keygen(&args),
        Command::Jwks(args) => keys::jwks(&args),
        Command::Thumbprint(args) => keys::thumbprint(&args),
        Command::Convert(args) => keys::convert(&args),
        Command::Lint(args) => lint::run(&args, style),
        Command::Serve(args) => serve::run(&args, style),
        Command::Debugger(args) => debugger::run(&args, style),
        Command::Migrate(data) => migrate::run(&data),
        Command::Export(data) => transfer::export(&data),
        Command::Import(args) => transfer::import(&args),
        Command::User(UserCommand::Add(args)) => user::add(&args),
        Command::User(UserCommand::List(data)) => user::list(&data),
        Command::User(UserCommand::Disable(args)) => user::set_disabled(&args, true),
        Command::User(UserCommand::Enable(args)) => user::set_disabled(&args, false),
        Command::User(UserCommand::Delete(args)) => user::delete(&args),
        Command::User(UserCommand::SetPassword(args)) => user::set_password(&args),
        Command::User(UserCommand::Profile(args)) => user::profile(&args),
        Command::Client(ClientCommand::Add(args)) => client::add(&args),
        Command::Client(ClientCommand::List(data)) => client::list(&data),
        Command::Client(ClientCommand::Delete(args)) => client::delete(&args),
        Command::Client(ClientCommand::RotateSecret(args)) => client::rotate_secret(&args),
        Command::Resource(ResourceCommand::Add(args)) => resource::add(&args),
        Command::Resource(ResourceCommand::List(data)) => resource::list(&data),
        Command::Resource(ResourceCommand::Remove(args)) => resource::remove(&args),
        Command::Keys(KeysCommand::List(data)) => signing_keys::list(&data),
        Command::Keys(KeysCommand::Rotate(args)) => signing_keys::rotate(&args),
        Command::Keys(KeysCommand::Revoke(args)) => signing_keys::revoke(&args),
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "waxseal",
                &mut std::io::stdout(),
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
