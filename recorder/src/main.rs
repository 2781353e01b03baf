//! `recorder`: argument parsing and dispatch only.

use clap::Parser;
use rewind_recorder::cli::{Cli, Command, PolicyCommand};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Record(args) => rewind_recorder::record::run(*args),
        Command::Policy(PolicyCommand::Check(args)) => rewind_recorder::policy_check::run(args),
        Command::Gate(args) => rewind_recorder::gate::run(args),
        Command::Keygen(args) => rewind_recorder::keygen::run(args),
    }
}
