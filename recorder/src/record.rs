//! `recorder record`: prepare the system, load the programs, snapshot /proc, then drain
//! the ring buffer into the trace writer until stopped, flushing a frame every second
//! and turning the kernel's loss counters into loss records.

use crate::cli::RecordArgs;
use crate::policy;
use crate::procfs;
use crate::status::Status;
use anyhow::{bail, Context};
use rewind_bpf::{class, Config, Loaded};
use rewind_schema::event::{Event, EventKind};
use rewind_schema::meta::{CaptureConfig, HookStatus, SegmentMeta};
use rewind_schema::policy::Policy;
use rewind_schema::wire::Loss;
use rewind_schema::writer::{Rotation, SegmentSummary, TraceWriter, WriterOptions};
use std::cell::RefCell;
use std::os::fd::{AsRawFd, RawFd};
use std::process::ExitCode;
use std::rc::Rc;
use std::time::Duration;
use tokio::io::unix::AsyncFd;
use tokio::signal::unix::{signal, SignalKind};

/// How recording ended.
#[derive(Debug)]
enum Stop {
    Signal(&'static str),
    Duration,
    CommandExited(std::process::ExitStatus),
    WriteFailed(String),
}

/// Runs `recorder record`; returns the process exit code.
pub fn run(args: RecordArgs) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("recorder: error: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let local = tokio::task::LocalSet::new();
    match local.block_on(&rt, record(args)) {
        Ok(code) => code,
        Err(e) => {
            // Each cause once, escaped (paths can hold anything).
            let e: &(dyn std::error::Error + 'static) = e.as_ref();
            eprintln!("recorder: error: {}", rewind_schema::text::error_message(e));
            ExitCode::from(1)
        }
    }
}

fn classes(names: &[String]) -> anyhow::Result<u32> {
    let mut mask = 0;
    for n in names {
        mask |= match n.trim() {
            "process" => class::PROCESS,
            "file" => class::FILE,
            "net" => class::NET,
            "priv" => class::PRIV,
            "kernel" => class::KERNEL,
            "all" => class::ALL,
            other => bail!("unknown event class {other:?} (process, file, net, priv, kernel)"),
        };
    }
    Ok(mask)
}

/// The ring buffer's epoll fd, borrowed: the `RingBuffer` owns it.
struct Fd(RawFd);
impl AsRawFd for Fd {
    fn as_raw_fd(&self) -> RawFd {
        self.0
    }
}

/// Registers the ring buffer's epoll fd with tokio, so the loop wakes when records arrive.
#[allow(unsafe_code)]
fn watch(rb: &libbpf_rs::RingBuffer<'_>) -> anyhow::Result<AsyncFd<Fd>> {
    // SAFETY: the fd is the ring buffer's epoll fd, open for as long as `rb` lives; the
    // caller drops the returned AsyncFd before dropping `rb`, and `Fd` always returns it.
    unsafe { AsyncFd::register(Fd(rb.epoll_fd())) }
        .map_err(|e| anyhow::anyhow!("watching the ring buffer: {e}"))
}

/// Shared between the ring-buffer callback and the loop.
struct Sink {
    writer: TraceWriter,
    records: u64,
    error: Option<String>,
}

async fn record(args: RecordArgs) -> anyhow::Result<ExitCode> {
    let mask = classes(&args.classes)?;
    if args.argv_limit > 16384 {
        bail!(
            "--argv-limit {} is above the maximum of 16384 bytes",
            args.argv_limit
        );
    }
    if args.output.exists() && !args.force {
        bail!(
            "{}: already exists; traces are evidence, so it is not overwritten (use --force)",
            args.output.display()
        );
    }
    if let Some(dir) = args.output.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.is_dir() {
            bail!("{}: the output directory does not exist", dir.display());
        }
    }
    // A bad key or key log is refused before anything is loaded or written.
    let (signing_key, fresh_key) = crate::keylog::signing_key(args.sign_key.as_deref())?;
    let mut key_log = crate::keylog::KeyLog::open(args.key_log.as_deref())?;
    rewind_bpf::check_privileges()?;
    let path_prefixes = args.effective_path_prefixes();
    rewind_bpf::check_path_prefixes(&path_prefixes)?;
    let notes = rewind_bpf::prepare_system()?;
    for n in &notes {
        eprintln!("recorder: {n}");
    }
    if args.comms.len() > 64 {
        bail!("at most 64 --comm names");
    }
    let mut cgroup_ids = Vec::new();
    for c in &args.cgroups {
        cgroup_ids.push(procfs::cgroup_id(c)?);
    }
    for c in &args.containers {
        for (id, path) in procfs::container_cgroups(c)? {
            eprintln!("recorder: container {c}: cgroup {path}");
            cgroup_ids.push(id);
        }
    }
    if cgroup_ids.len() > 64 {
        bail!("at most 64 cgroups to filter on");
    }
    let me = std::process::id();
    let command_mode = !args.command.is_empty();
    let cfg = Config {
        recorder_tgid: me,
        follow: command_mode || !args.pids.is_empty(),
        argv_limit: args.argv_limit,
        snippet_len: args.snippet_len,
        classes: mask,
        ringbuf_bytes: u32::try_from(args.ringbuf_size).unwrap_or(u32::MAX / 2 + 1),
        timer_drain: args.drain_interval > 0,
        comms: args.comms.clone(),
        cgroup_ids: cgroup_ids.clone(),
        path_prefixes: path_prefixes.clone(),
    };
    // The policy is read and checked against this kernel before anything is loaded: a
    // policy is applied whole or refused, never degraded.
    let policy = match &args.policy {
        Some(file) => {
            let p = Policy::load(file)?;
            let monitor = args.policy_mode.as_deref() == Some("monitor");
            let mut compiled = policy::compile(&p, &policy::KernelAbility::probe(), monitor)
                .map_err(|refusals| {
                    anyhow::anyhow!(
                        "{}: refused, nothing is loaded:\n  {}",
                        file.display(),
                        refusals
                            .iter()
                            .map(|r| r.to_string())
                            .collect::<Vec<_>>()
                            .join("\n  ")
                    )
                })?;
            compiled.spec.exempt = policy::exempt_chain(me);
            Some((p, compiled))
        }
        None => None,
    };
    let stats_was = if args.stats {
        Some(rewind_bpf::enable_stats().context("enabling kernel.bpf_stats_enabled")?)
    } else {
        None
    };
    let loaded = Loaded::load(&cfg)?;
    for p in loaded.probes() {
        if p.allowed {
            eprintln!(
                "recorder: kernel allows {} ({} loaded and attached)",
                p.kind.name(),
                p.kind.probe_hook()
            );
        } else {
            eprintln!("recorder: kernel refuses {}: {}", p.kind.name(), p.reason);
        }
    }
    for h in loaded.hooks() {
        if h.attached {
            eprintln!("recorder: {:<12} via {}", h.capture, h.hook);
        } else {
            eprintln!(
                "recorder: {:<12} UNAVAILABLE ({}): {}",
                h.capture, h.hook, h.note
            );
        }
    }
    let _enforcer = match &policy {
        Some((p, c)) => {
            let e = rewind_bpf::enforce::Enforcer::load(&c.spec, &loaded)
                .context("applying the policy (nothing of it stays loaded)")?;
            eprintln!(
                "recorder: policy {:?} ({} rules, sha256 {}) in {} mode via {}",
                p.name,
                p.rules.len(),
                p.sha256_hex(),
                if c.spec.monitor { "monitor" } else { "enforce" },
                e.hooks.join(", ")
            );
            for (r, m) in p.rules.iter().zip(&c.mechanisms) {
                eprintln!("recorder:   rule {}: {m}", r.id);
            }
            Some(e)
        }
        None => None,
    };

    // The state snapshot: the whole system, or the followed trees.
    let all = procfs::snapshot(me);
    if let (Some(e), Some((p, _))) = (&_enforcer, &policy) {
        // the snapshot leaves the recorder out; the policy must still know its binary
        let me_now = procfs::process(me);
        e.seed(&policy::running_processes(
            p,
            all.iter().chain(me_now.as_ref()),
        ))
        .context("applying the policy to running processes")?;
    }
    let snapshot = if command_mode {
        Vec::new()
    } else if !args.pids.is_empty() {
        let keep = procfs::descendants(&args.pids, &all);
        for &p in &keep {
            loaded.follow(p)?;
        }
        all.into_iter().filter(|p| keep.contains(&p.pid)).collect()
    } else {
        all
    };
    let mut filters: Vec<String> = args.pids.iter().map(|p| format!("pid={p}")).collect();
    filters.push(format!("classes={}", args.classes.join(",")));
    filters.extend(args.comms.iter().map(|c| format!("comm={c}")));
    filters.extend(args.cgroups.iter().map(|c| format!("cgroup={c}")));
    filters.extend(args.containers.iter().map(|c| format!("container={c}")));
    filters.extend(path_prefixes.iter().map(|p| format!("path-prefix={p}")));
    let meta = SegmentMeta {
        trace_id: procfs::trace_id(),
        recorder_version: concat!("rewind-recorder ", env!("CARGO_PKG_VERSION")).into(),
        host: procfs::host(),
        clock: procfs::clock_anchor(),
        capture: CaptureConfig {
            mode: if command_mode {
                "command".into()
            } else {
                "system".into()
            },
            command: args.command.clone(),
            filters,
            classes: args.classes.clone(),
            snippet_len: args.snippet_len,
            argv_limit: args.argv_limit,
            path_limit: 4096,
            policy_sha256: policy.as_ref().map(|(p, _)| p.sha256_hex()),
            policy: policy.as_ref().map(|(p, c)| {
                let mut sum = p.summary();
                if c.spec.monitor {
                    sum.mode = "monitor".into();
                }
                sum
            }),
            recorder_pid: Some(std::process::id()),
            hooks: loaded
                .hooks()
                .iter()
                .map(|h| HookStatus {
                    capture: h.capture.clone(),
                    hook: if h.attached {
                        h.hook.clone()
                    } else {
                        String::new()
                    },
                    note: h.note.clone(),
                })
                .chain(loaded.probes().iter().map(|p| HookStatus {
                    capture: format!("probe {}", p.kind.name()),
                    hook: if p.allowed {
                        p.kind.probe_hook().into()
                    } else {
                        String::new()
                    },
                    note: if p.allowed {
                        "allowed".into()
                    } else {
                        p.reason.clone()
                    },
                }))
                .collect(),
        },
        ..Default::default()
    };
    let rotation = Rotation {
        max_bytes: args.rotate_size,
        max_duration_ns: args.rotate_time,
        max_records: None,
        max_segments: args.max_segments,
    };
    let opts = WriterOptions {
        level: args.zstd_level,
        writer_pid: me,
        create_new: !args.force,
        signing_key: Some(signing_key.clone()),
        ..Default::default()
    };
    if args.force && args.output.exists() {
        std::fs::remove_file(&args.output).with_context(|| format!("{}", args.output.display()))?;
    }
    let mut writer = TraceWriter::create(&args.output, meta, rotation, opts, snapshot)?;
    writer.set_anchor_source(Box::new(procfs::clock_anchor));
    key_log.start(writer.trace_id(), &signing_key, fresh_key);
    writer.set_seal_hook(Box::new(move |s| key_log.sealed(s)));
    let sink = Rc::new(RefCell::new(Sink {
        writer,
        records: 0,
        error: None,
    }));

    let cb_sink = sink.clone();
    let policy = &policy;
    let rb = loaded.ring_buffer(move |data: &[u8]| {
        let mut s = cb_sink.borrow_mut();
        if s.error.is_some() {
            return -1;
        }
        rate_trip_notice(data, policy.as_ref().map(|(p, _)| p));
        match s.writer.append_raw(data) {
            Ok(()) => {
                s.records += 1;
                0
            }
            Err(e) => {
                s.error = Some(e.to_string());
                -1
            }
        }
    })?;
    let rb_fd = watch(&rb)?;

    // Command mode: start the command behind the gate, follow it, then let it run.
    let mut child = None;
    let gate_dir;
    if command_mode {
        gate_dir = tempfile_dir()?;
        let fifo = gate_dir.join("go");
        nix::unistd::mkfifo(
            &fifo,
            nix::sys::stat::Mode::S_IRUSR | nix::sys::stat::Mode::S_IWUSR,
        )
        .with_context(|| format!("creating {}", fifo.display()))?;
        let exe = std::env::current_exe().context("locating the recorder binary")?;
        let c = tokio::process::Command::new(exe)
            .arg("__gate")
            .arg("--fifo")
            .arg(&fifo)
            .arg("--")
            .args(&args.command)
            .kill_on_drop(false)
            .spawn()
            .with_context(|| format!("starting {}", args.command[0]))?;
        let pid = c.id().context("the command exited at once")?;
        // Opening the FIFO for writing waits until the gate opened it for reading: the
        // gate's own exec is over, so following now records the command from its exec on.
        let f = fifo.clone();
        let open =
            tokio::task::spawn_blocking(move || std::fs::OpenOptions::new().write(true).open(f));
        let mut w = tokio::time::timeout(Duration::from_secs(30), open)
            .await
            .context("the command's gate did not start within 30 s")?
            .context("gate")?
            .with_context(|| format!("opening {}", fifo.display()))?;
        loaded.follow(pid)?;
        std::io::Write::write_all(&mut w, b"g")
            .with_context(|| format!("releasing the command through {}", fifo.display()))?;
        drop(w);
        let _ = std::fs::remove_file(&fifo);
        let _ = std::fs::remove_dir(&gate_dir);
        child = Some(c);
    }

    let mut sigint = signal(SignalKind::interrupt())?;
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut drain_tick =
        tokio::time::interval(Duration::from_nanos(args.drain_interval.max(1_000_000)));
    let deadline = args
        .duration
        .map(|ns| tokio::time::Instant::now() + Duration::from_nanos(ns));
    let mut status = Status::new(args.quiet);
    let ncpu = loaded.loss()?.len();
    let mut loss_seen = vec![0u64; ncpu];
    let mut last_poll = procfs::boot_ns();
    let mut lost_total = 0u64;

    let stop = loop {
        let child_wait = async {
            match child.as_mut() {
                Some(c) => c.wait().await,
                None => std::future::pending().await,
            }
        };
        let until = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        let on_data = async {
            if args.drain_interval > 0 {
                std::future::pending::<()>().await;
            }
            let _ = rb_fd.readable().await.map(|mut g| g.clear_ready());
        };
        tokio::select! {
            _ = on_data => {
                let _ = rb.consume();
            }
            _ = drain_tick.tick(), if args.drain_interval > 0 => {
                let _ = rb.consume();
            }
            _ = tick.tick() => {
                lost_total += poll_loss(&loaded, &sink, &mut loss_seen, &mut last_poll)?;
                let mut s = sink.borrow_mut();
                if let Err(e) = s.writer.flush() {
                    s.error = Some(e.to_string());
                }
                let (c, r) = s.writer.bytes();
                status.update(s.records, lost_total, c, r, s.writer.current_path());
            }
            _ = sigint.recv() => break Stop::Signal("SIGINT"),
            _ = sigterm.recv() => break Stop::Signal("SIGTERM"),
            _ = until => break Stop::Duration,
            st = child_wait => {
                break Stop::CommandExited(st.context("waiting for the command")?);
            }
        }
        if let Some(e) = sink.borrow().error.clone() {
            break Stop::WriteFailed(e);
        }
    };

    // Drain what is left, account for losses, close the trace.
    let _ = rb.consume();
    lost_total += poll_loss(&loaded, &sink, &mut loss_seen, &mut last_poll)?;
    drop(rb_fd);
    drop(rb);
    if let Some(old) = stats_was {
        print_stats(&loaded);
        let _ = rewind_bpf::restore_stats(&old);
    }
    status.clear();
    let sink = Rc::try_unwrap(sink)
        .map_err(|_| anyhow::anyhow!("writer still shared"))?
        .into_inner();
    let reason = match &stop {
        Stop::WriteFailed(_) => "error",
        _ => "shutdown",
    };
    let records = sink.records;
    let segments = sink.writer.finish(reason);
    let code = match &stop {
        Stop::CommandExited(st) => {
            use std::os::unix::process::ExitStatusExt;
            match (st.code(), st.signal()) {
                (Some(c), _) => c as u8,
                (None, Some(sig)) => 128 + sig as u8,
                _ => 1,
            }
        }
        Stop::WriteFailed(_) => 1,
        _ => 0,
    };
    match segments {
        Ok(segs) => summary(&segs, records, lost_total, &stop),
        Err(e) => {
            let e = match &stop {
                Stop::WriteFailed(first) => first.clone(),
                _ => e.to_string(),
            };
            eprintln!(
                "recorder: error: writing stopped: {e}; {records} records were handed over, and every \
                 segment is intact up to its last complete frame (it is left without a footer)"
            );
            return Ok(ExitCode::from(1));
        }
    }
    if let Stop::WriteFailed(e) = &stop {
        eprintln!("recorder: error: writing stopped: {e}; every segment written so far is intact");
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::from(code))
}

/// Says so when a rule of the policy goes over its kill rate and turns to monitor (the
/// kernel flags the enforcement record that tripped it).
fn rate_trip_notice(data: &[u8], policy: Option<&Policy>) {
    use rewind_schema::wire::enforce::ENFORCE_RATE_TRIPPED;
    use rewind_schema::wire::{Enforce, Layout, RecordHeader};
    use rewind_schema::RecordType;
    // Only enforcement records are decoded: one compare per record on the drain path.
    if RecordHeader::parse(data).map(|h| h.rtype) != Some(RecordType::Enforce as u16) {
        return;
    }
    let Ok(e) = Enforce::decode(data) else { return };
    if e.flags & ENFORCE_RATE_TRIPPED == 0 {
        return;
    }
    let (id, limit) = policy
        .and_then(|p| {
            p.rules
                .get(e.rule as usize)
                .map(|r| (r.id.clone(), p.kill_rate_limit))
        })
        .unwrap_or_else(|| (format!("#{}", e.rule), 0));
    eprintln!(
        "recorder: rule {id} acted more than {limit} times in a second: switched to monitor \
         (its later matches are recorded, not enforced)"
    );
}

fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let base = std::env::temp_dir().join(format!(
        "rewind-gate-{}-{}",
        std::process::id(),
        procfs::boot_ns()
    ));
    // 0700: the gate's FIFO releases the recorded command.
    rewind_schema::fsutil::create_private_dir(&base)
        .with_context(|| format!("creating {}", base.display()))?;
    Ok(base)
}

/// Turns increases of the per-CPU loss counters into loss records; returns how many
/// records were newly reported lost.
fn poll_loss(
    loaded: &Loaded,
    sink: &Rc<RefCell<Sink>>,
    seen: &mut [u64],
    last_poll: &mut u64,
) -> anyhow::Result<u64> {
    let now = procfs::boot_ns();
    let mut newly = 0;
    for (cpu, (count, last_ts)) in loaded.loss()?.into_iter().enumerate() {
        let Some(prev) = seen.get_mut(cpu) else {
            continue;
        };
        if count > *prev {
            let delta = count - *prev;
            *prev = count;
            newly += delta;
            let ev = Event {
                ts: now,
                cpu: cpu as u16,
                pid: 0,
                tid: 0,
                kind: EventKind::Loss(Loss {
                    count: delta,
                    window_start: *last_poll,
                    window_end: last_ts.max(*last_poll),
                    loss_cpu: cpu as u32,
                }),
            };
            let mut s = sink.borrow_mut();
            if let Err(e) = s.writer.append(&ev) {
                s.error = Some(e.to_string());
            }
        }
    }
    *last_poll = now;
    Ok(newly)
}

/// Per-program kernel cost, from the kernel's own run-time accounting.
fn print_stats(loaded: &Loaded) {
    let mut stats = loaded.prog_stats();
    stats.retain(|p| p.run_cnt > 0);
    stats.sort_by_key(|p| std::cmp::Reverse(p.run_time_ns));
    let (cnt, ns) = stats
        .iter()
        .fold((0u64, 0u64), |(c, t), p| (c + p.run_cnt, t + p.run_time_ns));
    eprintln!("recorder: kernel cost per program (bpf run-time stats):");
    eprintln!(
        "recorder:   {:<28} {:>12} {:>14} {:>10}",
        "program", "runs", "total ns", "ns/run"
    );
    for p in &stats {
        eprintln!(
            "recorder:   {:<28} {:>12} {:>14} {:>10.0}",
            p.name,
            p.run_cnt,
            p.run_time_ns,
            p.run_time_ns as f64 / p.run_cnt as f64
        );
    }
    if cnt > 0 {
        eprintln!(
            "recorder:   {:<28} {:>12} {:>14} {:>10.0}",
            "all",
            cnt,
            ns,
            ns as f64 / cnt as f64
        );
    }
}

fn summary(segs: &[SegmentSummary], records: u64, lost: u64, stop: &Stop) {
    let bytes: u64 = segs.iter().map(|s| s.bytes).sum();
    let raw: u64 = segs.iter().map(|s| s.raw_bytes).sum();
    let why = match stop {
        Stop::Signal(s) => format!("stopped by {s}"),
        Stop::Duration => "duration reached".into(),
        Stop::CommandExited(st) => format!("command exited ({st})"),
        Stop::WriteFailed(_) => "write failed".into(),
    };
    eprintln!(
        "recorder: {why}: {records} records, {} lost, {} segment(s), {bytes} bytes on disk ({:.1} bytes/record, {:.1}x compression)",
        lost,
        segs.len(),
        if records > 0 { bytes as f64 / records as f64 } else { 0.0 },
        if bytes > 0 { raw as f64 / bytes as f64 } else { 0.0 },
    );
    for s in segs {
        if s.path.exists() {
            eprintln!(
                "recorder: wrote {}",
                rewind_schema::text::Escaped(s.path.display())
            );
        }
    }
}
