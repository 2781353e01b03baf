//! Command-line arguments.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// The command line.
#[derive(Debug, Parser)]
#[command(
    name = "recorder",
    version,
    about = "Record kernel security events into a Rewind trace"
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Record the whole system until SIGINT/SIGTERM, or one command's process tree.
    Record(Box<RecordArgs>),
    /// Enforcement policies: `recorder policy check FILE`.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Internal: waits until the recorder follows this process, then execs the command.
    #[command(name = "__gate", hide = true)]
    Gate(GateArgs),
    /// Write a new ed25519 signing key for `record --sign-key` (mode 0600) and print its
    /// public key, for `analyzer info --verify-key`.
    Keygen(KeygenArgs),
}

/// `recorder keygen`.
#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// The private key file to create: the 32-byte seed as 64 hex digits. Never overwritten.
    #[arg(value_name = "OUT")]
    pub out: PathBuf,
}

/// `recorder policy ...`.
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Validate a policy, explain each rule in words with the kernel mechanism it will use
    /// on this machine, and refuse rules this kernel cannot enforce (exit 1).
    Check(PolicyCheckArgs),
}

/// `recorder policy check`.
#[derive(Debug, Args)]
pub struct PolicyCheckArgs {
    /// The policy file (YAML; see fixtures/policies/README.md).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

/// `recorder record`.
#[derive(Debug, Args)]
#[command(
    after_help = "Sizes take K, M, G suffixes (binary); durations s, m, h (e.g. 90s, 15m, 1h).\n\
Exit code: with a command, the command's exit code (128+N if killed by signal N); otherwise 0, \
or 1 on error."
)]
pub struct RecordArgs {
    /// Trace file to write (rotated segments are named TRACE.000002.zst, ...).
    #[arg(short, long, value_name = "TRACE")]
    pub output: PathBuf,
    /// Start a new segment after this many bytes on disk.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub rotate_size: Option<u64>,
    /// Start a new segment after this much time.
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub rotate_time: Option<u64>,
    /// Keep at most N segments on disk, deleting the oldest.
    #[arg(long, value_name = "N")]
    pub max_segments: Option<usize>,
    /// Stop after this much time.
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub duration: Option<u64>,
    /// Record only these processes and their descendants (repeatable).
    #[arg(long = "pid", value_name = "PID")]
    pub pids: Vec<u32>,
    /// Record only tasks with this name (comm, as `ps -o comm` shows it; repeatable).
    #[arg(long = "comm", value_name = "NAME")]
    pub comms: Vec<String>,
    /// Record only tasks in this cgroup (v2) or below it: a path under the cgroup2 mount,
    /// or an absolute path into it (repeatable).
    #[arg(long = "cgroup", value_name = "PATH")]
    pub cgroups: Vec<String>,
    /// Record only tasks of this container: an id or id prefix (at least 12 hex digits) as
    /// found in its cgroup name (docker, containerd, cri-o, podman; repeatable).
    #[arg(long = "container", value_name = "ID")]
    pub containers: Vec<String>,
    /// Event classes to record (comma-separated): process, file, net, priv, kernel.
    #[arg(
        long,
        value_name = "LIST",
        value_delimiter = ',',
        default_value = "process,file,net,priv,kernel"
    )]
    pub classes: Vec<String>,
    /// Record file events only under this path prefix (repeatable; replaces the
    /// defaults). Byte prefix of the absolute path; a `*` component matches one path
    /// component, as in /home/*/.ssh. At most 32 prefixes of at most 128 bytes.
    #[arg(long = "path-prefix", value_name = "P", conflicts_with = "all_paths")]
    pub path_prefixes: Vec<String>,
    /// Record file events on every path (no prefix filter). Without this or
    /// --path-prefix, the defaults are: /etc, /root, /home/*/.ssh, /var/log, /tmp,
    /// /dev/shm, /etc/systemd, /lib/systemd/system, /usr/lib/systemd/system,
    /// /etc/cron.d, /var/spool/cron, /etc/crontab, /run/docker.sock,
    /// /var/run/docker.sock, /run/containerd/containerd.sock, /run/crio/crio.sock,
    /// /run/podman/podman.sock.
    #[arg(long)]
    pub all_paths: bool,
    /// Bytes of argv kept per exec (max 16384); longer argv is cut and flagged.
    #[arg(long, default_value_t = 4096, value_name = "BYTES")]
    pub argv_limit: u32,
    /// Payload bytes kept per connection direction.
    #[arg(long, default_value_t = 256, value_name = "BYTES")]
    pub snippet_len: u32,
    /// Kernel ring buffer size.
    #[arg(long, default_value = "16M", value_name = "SIZE", value_parser = parse_size)]
    pub ringbuf_size: u64,
    /// Drain the ring buffer on this timer, without a wakeup per record (the default; it
    /// sustains far higher event rates). 0 = wake on every record instead.
    #[arg(long, default_value = "10ms", value_name = "DUR", value_parser = parse_duration)]
    pub drain_interval: u64,
    /// zstd level of the segments.
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub zstd_level: i32,
    /// Overwrite an existing trace file (refused by default: traces are evidence).
    #[arg(long)]
    pub force: bool,
    /// No status line.
    #[arg(short, long)]
    pub quiet: bool,
    /// Sign every segment footer with this ed25519 key (a file holding the 32-byte seed as
    /// 64 hex digits, as `recorder keygen` writes it). Without it a fresh key is made for
    /// this recording; either way its public key is printed at start.
    #[arg(long, value_name = "FILE")]
    pub sign_key: Option<PathBuf>,
    /// Append the public key at start and the new chain head (SHA-256) at every sealed
    /// segment to this file (created 0600); put it where an attacker on this host cannot
    /// rewrite it. The same lines always go to stderr.
    #[arg(long, value_name = "FILE")]
    pub key_log: Option<PathBuf>,
    /// At the end, print each BPF program's run count and mean cost (turns on
    /// kernel.bpf_stats_enabled while recording, then restores it).
    #[arg(long)]
    pub stats: bool,
    /// Enforce this policy while recording (YAML; see fixtures/policies/README.md). Applied
    /// whole or not at all; removed when the recorder exits, however it exits.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Override the policy's mode: `monitor` records what it would do and blocks nothing.
    #[arg(long, value_name = "MODE", value_parser = ["enforce", "monitor"], requires = "policy")]
    pub policy_mode: Option<String>,
    /// Record this command's process tree, then stop when it exits.
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

/// File paths recorded when neither `--path-prefix` nor `--all-paths` is given:
/// configuration, credentials, logs, scratch space, persistence locations and
/// container runtime sockets.
pub const DEFAULT_PATH_PREFIXES: &[&str] = &[
    "/etc",
    "/root",
    "/home/*/.ssh",
    "/var/log",
    "/tmp",
    "/dev/shm",
    "/etc/systemd",
    "/lib/systemd/system",
    "/usr/lib/systemd/system",
    "/etc/cron.d",
    "/var/spool/cron",
    "/etc/crontab",
    "/run/docker.sock",
    "/var/run/docker.sock",
    "/run/containerd/containerd.sock",
    "/run/crio/crio.sock",
    "/run/podman/podman.sock",
];

impl RecordArgs {
    /// The effective path prefixes: empty means every path.
    pub fn effective_path_prefixes(&self) -> Vec<String> {
        if self.all_paths {
            Vec::new()
        } else if !self.path_prefixes.is_empty() {
            self.path_prefixes.clone()
        } else {
            DEFAULT_PATH_PREFIXES
                .iter()
                .map(|s| s.to_string())
                .collect()
        }
    }
}

/// `recorder __gate`.
#[derive(Debug, Args)]
pub struct GateArgs {
    /// FIFO to wait on.
    #[arg(long)]
    pub fifo: PathBuf,
    /// The command.
    #[arg(last = true, required = true)]
    pub command: Vec<String>,
}

/// Parses `512`, `64K`, `16M`, `2G`.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (num, mul) = match s.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let m = match c.to_ascii_uppercase() {
                'K' => 1u64 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                'T' => 1 << 40,
                'B' => 1,
                _ => return Err(format!("{s}: unknown size suffix {c:?} (use K, M, G)")),
            };
            (&s[..i], m)
        }
        _ => (s, 1),
    };
    let n: u64 = num.trim().parse().map_err(|e| format!("{s}: {e}"))?;
    n.checked_mul(mul).ok_or_else(|| format!("{s}: too large"))
}

/// Parses `500ms`, `90s`, `15m`, `2h` (a bare number is seconds) into nanoseconds.
pub fn parse_duration(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num.trim().parse().map_err(|e| format!("{s}: {e}"))?;
    let mul = match unit {
        "" | "s" => 1e9,
        "ms" => 1e6,
        "m" | "min" => 60e9,
        "h" => 3600e9,
        "d" => 86400e9,
        other => {
            return Err(format!(
                "{s}: unknown duration unit {other:?} (use ms, s, m, h)"
            ))
        }
    };
    if n.is_nan() || n < 0.0 {
        return Err(format!("{s}: must not be negative"));
    }
    Ok((n * mul) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations() {
        assert_eq!(parse_size("16M"), Ok(16 << 20));
        assert_eq!(parse_size("512"), Ok(512));
        assert!(parse_size("3X").is_err());
        assert_eq!(parse_duration("90s"), Ok(90_000_000_000));
        assert_eq!(parse_duration("15m"), Ok(900_000_000_000));
        assert_eq!(parse_duration("250ms"), Ok(250_000_000));
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("1y").is_err());
    }

    fn record_args(extra: &[&str]) -> RecordArgs {
        let mut argv = vec!["recorder", "record", "-o", "t.zst"];
        argv.extend_from_slice(extra);
        match Cli::try_parse_from(argv).map(|c| c.command) {
            Ok(Command::Record(a)) => *a,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn path_prefix_options() {
        let d = record_args(&[]).effective_path_prefixes();
        assert_eq!(d.len(), DEFAULT_PATH_PREFIXES.len());
        assert!(d.iter().any(|p| p == "/home/*/.ssh"));
        assert!(rewind_bpf::check_path_prefixes(&d).is_ok());
        assert!(record_args(&["--all-paths"])
            .effective_path_prefixes()
            .is_empty());
        assert_eq!(
            record_args(&["--path-prefix", "/a", "--path-prefix", "/b"]).effective_path_prefixes(),
            vec!["/a".to_string(), "/b".into()]
        );
        assert!(Cli::try_parse_from([
            "recorder",
            "record",
            "-o",
            "t",
            "--all-paths",
            "--path-prefix",
            "/a"
        ])
        .is_err());
    }
}
