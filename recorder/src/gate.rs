//! The exec gate: in command mode the recorder starts `recorder __gate --fifo F -- CMD`,
//! adds the gate's pid to the kernel follow map, then opens the FIFO; the gate then execs
//! the command, so that the command's very first exec is recorded.

use crate::cli::GateArgs;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::ExitCode;

/// Waits for the go signal, then replaces itself with the command.
pub fn run(args: GateArgs) -> ExitCode {
    let go = std::fs::File::open(&args.fifo).and_then(|mut f| {
        let mut b = [0u8; 1];
        f.read_exact(&mut b)
    });
    if let Err(e) = go {
        eprintln!("recorder: gate: {}: {e}", args.fifo.display());
        return ExitCode::from(127);
    }
    let (prog, rest) = match args.command.split_first() {
        Some(x) => x,
        None => return ExitCode::from(127),
    };
    let err = std::process::Command::new(prog).args(rest).exec();
    eprintln!("recorder: cannot run {prog}: {err}");
    ExitCode::from(if err.kind() == std::io::ErrorKind::NotFound {
        127
    } else {
        126
    })
}
