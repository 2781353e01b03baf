//! Which BPF program types beyond tracepoints this kernel allows: each is tried alone
//! with a program that does nothing (`src/probe.bpf.c`), loaded and attached, before the
//! recorder's object is loaded with the better hooks on or off.

use crate::probe_skel::ProbeSkelBuilder;
use libbpf_rs::skel::{OpenSkel, Skel, SkelBuilder};
use std::mem::MaybeUninit;

/// A program type the recorder prefers where the kernel allows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgKind {
    /// fentry/fexit (BPF trampolines on kernel functions).
    Fentry,
    /// BPF LSM hooks.
    Lsm,
}

impl ProgKind {
    /// Every kind probed.
    pub const ALL: [ProgKind; 2] = [ProgKind::Fentry, ProgKind::Lsm];

    /// Human name.
    pub fn name(self) -> &'static str {
        match self {
            ProgKind::Fentry => "fentry/fexit",
            ProgKind::Lsm => "BPF LSM",
        }
    }

    /// The probe program's section.
    pub fn probe_hook(self) -> &'static str {
        match self {
            ProgKind::Fentry => "fentry/commit_creds",
            ProgKind::Lsm => "lsm/bprm_check_security",
        }
    }

    fn probe_prog(self) -> &'static str {
        match self {
            ProgKind::Fentry => "probe_fentry",
            ProgKind::Lsm => "probe_lsm",
        }
    }

    /// The kind of a program by its ELF section, `None` for tracepoints.
    pub fn of_section(section: &str) -> Option<ProgKind> {
        let kind = section.split('/').next().unwrap_or_default();
        match kind {
            "fentry" | "fexit" | "fmod_ret" | "fentry.s" | "fexit.s" => Some(ProgKind::Fentry),
            "lsm" | "lsm.s" | "lsm_cgroup" => Some(ProgKind::Lsm),
            _ => None,
        }
    }
}

/// What the probe of one kind found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindProbe {
    /// The kind.
    pub kind: ProgKind,
    /// Loaded and attached.
    pub allowed: bool,
    /// Why not (the kernel's answer), empty when allowed.
    pub reason: String,
}

/// Tries every kind; libbpf's own messages about the refusals are kept quiet unless
/// `REWIND_BPF_DEBUG` is set.
pub fn probe_kinds() -> Vec<KindProbe> {
    let debug = std::env::var_os("REWIND_BPF_DEBUG").is_some();
    let previous = if debug {
        None
    } else {
        Some(libbpf_rs::set_print(None))
    };
    let out = ProgKind::ALL
        .iter()
        .map(|&kind| match try_kind(kind) {
            Ok(()) => KindProbe {
                kind,
                allowed: true,
                reason: String::new(),
            },
            Err(reason) => KindProbe {
                kind,
                allowed: false,
                reason,
            },
        })
        .collect();
    if let Some(p) = previous {
        libbpf_rs::set_print(p);
    }
    out
}

fn try_kind(kind: ProgKind) -> Result<(), String> {
    let mut storage = MaybeUninit::uninit();
    let mut open = ProbeSkelBuilder::default()
        .open(&mut storage)
        .map_err(|e| format!("opening the probe object: {e}"))?;
    for mut p in open.open_object_mut().progs_mut() {
        let this = p.name().to_string_lossy() == kind.probe_prog();
        p.set_autoload(this);
    }
    let skel = open.load().map_err(|e| refusal("loading", kind, &e))?;
    let prog = skel
        .object()
        .progs_mut()
        .find(|p| p.name().to_string_lossy() == kind.probe_prog())
        .ok_or_else(|| format!("{} is not in the probe object", kind.probe_prog()))?;
    let link = prog.attach().map_err(|e| refusal("attaching", kind, &e))?;
    drop(link);
    Ok(())
}

/// The kernel's answer, with what an LSM refusal usually means.
fn refusal(what: &str, kind: ProgKind, e: &libbpf_rs::Error) -> String {
    let mut s = format!("{what} {} refused: {e}", kind.probe_hook());
    if kind == ProgKind::Lsm {
        match std::fs::read_to_string("/sys/kernel/security/lsm") {
            Ok(l) if !l.split(',').any(|x| x.trim() == "bpf") => {
                s.push_str(&format!(" (active LSMs: {}; no bpf)", l.trim()))
            }
            _ => {}
        }
    }
    s
}
