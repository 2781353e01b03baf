//! `analyzer policy`: an enforcement policy checked and explained (`check`), or replayed
//! against recorded traces (`test`): what it would have killed, stopped, denied or audited,
//! with an exit code CI can assert on (4: something would have been blocked).

use crate::exit::Outcome;
use anyhow::Context;
use rewind_schema::policy::Policy;
use std::io::Write;
use std::path::PathBuf;

/// Arguments of `analyzer policy`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// `analyzer policy` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// What the policy would have killed, stopped, denied or audited in these traces.
    #[command(
        after_help = "Exit codes: 0 nothing would have been blocked (audit-only, \
monitor-mode and exempt hits are fine); 1 error (bad policy, unreadable trace); 2 usage; 3 the \
trace is damaged and nothing would have been blocked in what was readable; 4 something would \
have been blocked (kill, stop or deny)."
    )]
    Test(TestArgs),
    /// Validate a policy and explain each rule in words (no kernel needed).
    Check(CheckArgs),
}

/// Arguments of `analyzer policy test`.
#[derive(Debug, clap::Args)]
pub struct TestArgs {
    /// The policy file (YAML; see fixtures/policies/README.md).
    #[arg(long, value_name = "FILE")]
    pub policy: PathBuf,
    /// The traces.
    #[command(flatten)]
    pub input: super::Inputs,
    /// One JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// Evaluate a `mode: monitor` policy as if it enforced.
    #[arg(long)]
    pub enforce: bool,
}

/// Arguments of `analyzer policy check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// The policy file.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

/// Runs the command.
pub fn run(args: &Args) -> anyhow::Result<Outcome> {
    match &args.command {
        Command::Test(a) => test(a),
        Command::Check(a) => check(a),
    }
}

fn test(args: &TestArgs) -> anyhow::Result<Outcome> {
    let policy = Policy::load(&args.policy)?;
    let set = args.input.open()?;
    let (report, outcome) = crate::policy::evaluate(&policy, &set, args.enforce)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if args.json {
        crate::policy::report::write_json(&mut out, &report)?;
    } else {
        crate::policy::report::write_text(&mut out, &report)?;
    }
    out.flush()?;
    Ok(if report.blocked() > 0 {
        Outcome::Blocked
    } else {
        outcome
    })
}

fn check(args: &CheckArgs) -> anyhow::Result<Outcome> {
    let policy = Policy::load(&args.file)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    write!(out, "{}", policy.explain()).context("writing the explanation")?;
    writeln!(
        out,
        "\n{}: valid ({} rule(s))",
        args.file.display(),
        policy.rules.len()
    )?;
    Ok(Outcome::Clean)
}
