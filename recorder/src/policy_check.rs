//! `recorder policy check FILE`: the policy in words, each rule with the kernel mechanism
//! that will enforce it on this machine, or the reason it cannot be (exit 1).

use crate::cli::PolicyCheckArgs;
use crate::policy::{compile, KernelAbility};
use rewind_schema::policy::Policy;
use std::process::ExitCode;

/// Runs the check.
pub fn run(args: PolicyCheckArgs) -> ExitCode {
    let policy = match Policy::load(&args.file) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("recorder: {e}");
            return ExitCode::from(1);
        }
    };
    print!("{}", policy.explain());
    let k = KernelAbility::probe();
    match compile(&policy, &k, false) {
        Ok(c) => {
            println!();
            println!("On this kernel:");
            for (r, m) in policy.rules.iter().zip(&c.mechanisms) {
                println!("  {}: {m}", r.id);
            }
            println!(
                "{}: valid; every rule can be enforced here (sha256 {})",
                args.file.display(),
                policy.sha256_hex()
            );
            ExitCode::SUCCESS
        }
        Err(refusals) => {
            for r in &refusals {
                eprintln!("recorder: {}: REFUSED {r}", args.file.display());
            }
            eprintln!(
                "recorder: {}: {} of {} rules cannot be enforced here; the policy is refused whole",
                args.file.display(),
                refusals.len(),
                policy.rules.len()
            );
            ExitCode::from(1)
        }
    }
}
