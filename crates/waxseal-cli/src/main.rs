//! The `waxseal` binary; everything is in the `waxseal_cli` library next to it.

fn main() -> std::process::ExitCode {
    waxseal_cli::main()
}
