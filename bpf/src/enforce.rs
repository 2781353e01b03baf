//! Loading the enforcement object (`enforce.bpf.c`): a compiled policy ([`Spec`]) written
//! into its maps, then every program attached, all or nothing. It shares the recorder's
//! ring buffer and loss counters. Links are not pinned: when the recorder exits, however
//! it exits (SIGKILL included), the kernel closes its descriptors and nothing of the
//! policy stays loaded.

use crate::enforce_skel::{EnforceSkel, EnforceSkelBuilder, OpenEnforceSkel};
use crate::loader::{lb, LoadError, Loaded};
use libbpf_rs::skel::{OpenSkel, SkelBuilder};
use libbpf_rs::{Link, MapCore, MapFlags};
use std::mem::MaybeUninit;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

/// Rules a policy may have (match sets 0..256, unless sets 256..512).
pub const MAX_RULES: usize = 256;
/// Uids, euids and port ranges per selector set.
pub const MAX_LIST: usize = 8;
/// Bytes of a path the kernel compares (longer paths are compared on their first 255).
pub const MAX_KEY: usize = 255;
/// Entries per trie (binary, suffix, path, destination).
pub const MAX_ENTRIES: usize = 4096;

/// Operation numbers (`POL_OP_*`).
pub mod op {
    /// open, openat, openat2.
    pub const OPEN: usize = 0;
    /// execve, execveat.
    pub const EXEC: usize = 1;
    /// connect.
    pub const CONNECT: usize = 2;
    /// sendto/sendmsg with a destination (UDP).
    pub const SEND: usize = 3;
}

/// 512 bits: one per selector set.
pub type Mask = [u64; 8];

/// Sets the bit of set `i`.
pub fn set_bit(m: &mut Mask, i: usize) {
    m[(i >> 6) & 7] |= 1 << (i & 63);
}

/// One selector set in the kernel's terms (`struct pol_set`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SetSpec {
    /// Any of these capabilities in the effective set (0 = not asked).
    pub caps: u64,
    /// Match set of a rule with an unless set.
    pub has_unless: bool,
    /// `RW_ACTION_*` (match sets).
    pub action: u32,
    /// Real uid in this list (empty = any).
    pub uids: Vec<u32>,
    /// Effective uid in this list (empty = any).
    pub euids: Vec<u32>,
    /// Destination port ranges (empty = any).
    pub ports: Vec<(u16, u16)>,
    /// 0 any, 6 TCP, 17 UDP.
    pub proto: u8,
    /// 0 any, 1 privileged, 2 unprivileged.
    pub privileged: u8,
    /// 0 any, 1 host namespaces, 2 not.
    pub ns: u8,
}

impl SetSpec {
    fn bytes(&self) -> Vec<u8> {
        let mut b = vec![0u8; 128];
        b[0..8].copy_from_slice(&self.caps.to_le_bytes());
        b[8..12].copy_from_slice(&u32::from(self.has_unless).to_le_bytes());
        b[12..16].copy_from_slice(&self.action.to_le_bytes());
        b[16..20].copy_from_slice(&(self.uids.len() as u32).to_le_bytes());
        b[20..24].copy_from_slice(&(self.euids.len() as u32).to_le_bytes());
        b[24..28].copy_from_slice(&(self.ports.len() as u32).to_le_bytes());
        for (i, u) in self.uids.iter().enumerate().take(MAX_LIST) {
            b[28 + 4 * i..32 + 4 * i].copy_from_slice(&u.to_le_bytes());
        }
        for (i, u) in self.euids.iter().enumerate().take(MAX_LIST) {
            b[60 + 4 * i..64 + 4 * i].copy_from_slice(&u.to_le_bytes());
        }
        for (i, (lo, hi)) in self.ports.iter().enumerate().take(MAX_LIST) {
            b[92 + 2 * i..94 + 2 * i].copy_from_slice(&lo.to_le_bytes());
            b[108 + 2 * i..110 + 2 * i].copy_from_slice(&hi.to_le_bytes());
        }
        b[124] = self.proto;
        b[125] = self.privileged;
        b[126] = self.ns;
        b
    }
}

/// Sets whose binary, parent and ancestor selectors an executable satisfies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BinVal {
    /// Binary selector.
    pub bin: Mask,
    /// Parent selector (of this image's children).
    pub par: Mask,
    /// Ancestor selector (of this image's descendants).
    pub anc: Mask,
}

impl BinVal {
    fn or(&mut self, o: &BinVal) {
        for w in 0..8 {
            self.bin[w] |= o.bin[w];
            self.par[w] |= o.par[w];
            self.anc[w] |= o.anc[w];
        }
    }
    fn bytes(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(192);
        for m in [&self.bin, &self.par, &self.anc] {
            b.extend(m.iter().flat_map(|w| w.to_le_bytes()));
        }
        b
    }
}

/// What the kernel keeps for a process started before the recorder (`struct pol_proc`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProcState {
    /// The image's own values.
    pub here: BinVal,
    /// Its parent image's `par`.
    pub parent: Mask,
    /// Union of its ancestors' `anc`.
    pub ancestor: Mask,
}

impl ProcState {
    fn bytes(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(320);
        for m in [
            &self.here.bin,
            &self.here.par,
            &self.here.anc,
            &self.parent,
            &self.ancestor,
        ] {
            b.extend(m.iter().flat_map(|w| w.to_le_bytes()));
        }
        b
    }
}

/// A policy compiled for the kernel.
#[derive(Debug, Clone, Default)]
pub struct Spec {
    /// Selector sets by index (match i, unless 256 + i).
    pub sets: Vec<(u32, SetSpec)>,
    /// Rules of each operation (256 bits).
    pub ops: [[u64; 4]; 4],
    /// Sets without a binary / parent / ancestor / path / destination selector.
    pub no_bin: Mask,
    /// See `no_bin`.
    pub no_par: Mask,
    /// See `no_bin`.
    pub no_anc: Mask,
    /// See `no_bin`.
    pub no_path: Mask,
    /// See `no_bin`.
    pub no_dest: Mask,
    /// Monitor mode: nothing carried out.
    pub monitor: bool,
    /// Actions per rule per second before the rule turns to monitor (0 = no limit).
    pub rate_limit: u32,
    /// Binary exact (`path\0`) and prefix (`path`) entries.
    pub bin: Vec<(Vec<u8>, BinVal)>,
    /// Binary suffixes, reversed.
    pub bin_rev: Vec<(Vec<u8>, BinVal)>,
    /// File path exact (`path\0`) and prefix entries.
    pub path: Vec<(Vec<u8>, Mask)>,
    /// Destinations: family (4/6), address bytes, prefix bits, sets.
    pub dest: Vec<(u8, Vec<u8>, u32, Mask)>,
    /// Never acted on (the recorder and its ancestors).
    pub exempt: Vec<u32>,
}

/// Each entry's value becomes the union of every entry whose key is a prefix of its key,
/// so that the trie's longest match answers for all of them.
fn close_prefixes<V: Clone>(
    entries: &[(Vec<u8>, V)],
    or: impl Fn(&mut V, &V),
) -> Vec<(Vec<u8>, V)> {
    entries
        .iter()
        .map(|(k, v)| {
            let mut acc = v.clone();
            for (k2, v2) in entries {
                if k2.len() < k.len() && k.starts_with(k2) {
                    or(&mut acc, v2);
                }
            }
            (k.clone(), acc)
        })
        .collect()
}

fn or_mask(a: &mut Mask, b: &Mask) {
    for w in 0..8 {
        a[w] |= b[w];
    }
}

fn mask_bytes(m: &Mask) -> Vec<u8> {
    m.iter().flat_map(|w| w.to_le_bytes()).collect()
}

fn str_key(k: &[u8]) -> Vec<u8> {
    let n = k.len().min(MAX_KEY + 1);
    let mut b = vec![0u8; 4 + 256];
    b[0..4].copy_from_slice(&((n * 8) as u32).to_le_bytes());
    b[4..4 + n].copy_from_slice(&k[..n]);
    b
}

/// Namespace inode numbers of pid 1 (mnt, pid, net, user): "the host's".
fn host_ns() -> [u32; 4] {
    let ino = |n: &str| -> u32 {
        std::fs::read_link(format!("/proc/1/ns/{n}"))
            .ok()
            .and_then(|l| {
                let s = l.to_string_lossy().into_owned();
                s.rsplit('[')
                    .next()?
                    .trim_end_matches(']')
                    .parse::<u32>()
                    .ok()
            })
            .unwrap_or(0)
    };
    [ino("mnt"), ino("pid_for_children"), ino("net"), ino("user")]
}

/// The cgroup v2 hierarchy's root: where it is mounted, or mounted by us under /run.
pub fn cgroup2_root() -> Result<PathBuf, LoadError> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    for line in info.lines() {
        let mut parts = line.split(" - ");
        let (Some(a), Some(b)) = (parts.next(), parts.next()) else {
            continue;
        };
        let root = a.split(' ').nth(3);
        if b.starts_with("cgroup2 ") && root == Some("/") {
            if let Some(mp) = a.split(' ').nth(4) {
                return Ok(PathBuf::from(mp));
            }
        }
    }
    let dir = Path::new("/run/rewind/cgroup2");
    std::fs::create_dir_all(dir).map_err(|e| LoadError::Mount {
        what: "cgroup2",
        path: "/run/rewind/cgroup2",
        reason: e.to_string(),
    })?;
    nix::mount::mount(
        Some("cgroup2"),
        dir,
        Some("cgroup2"),
        nix::mount::MsFlags::empty(),
        None::<&str>,
    )
    .map_err(|e| LoadError::Mount {
        what: "cgroup2",
        path: "/run/rewind/cgroup2",
        reason: e.to_string(),
    })?;
    Ok(dir.to_path_buf())
}

/// The enforcement programs, loaded and attached. Dropping it detaches everything.
pub struct Enforcer {
    skel: EnforceSkel<'static>,
    links: Vec<Link>,
    /// Hooks attached, for the status report.
    pub hooks: Vec<String>,
}

impl std::fmt::Debug for Enforcer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Enforcer")
            .field("hooks", &self.hooks)
            .finish_non_exhaustive()
    }
}

impl Enforcer {
    /// Loads the object sharing `recorder`'s ring buffer, writes `spec` into its maps and
    /// attaches every program. Any failure leaves nothing loaded.
    pub fn load(spec: &Spec, recorder: &Loaded) -> Result<Self, LoadError> {
        let storage: &'static mut MaybeUninit<libbpf_rs::OpenObject> =
            Box::leak(Box::new(MaybeUninit::uninit()));
        let mut open: OpenEnforceSkel<'static> = EnforceSkelBuilder::default()
            .open(storage)
            .map_err(lb("opening the enforcement object"))?;
        let (events, loss) = recorder.shared_maps();
        open.maps
            .events
            .reuse_fd(events)
            .map_err(lb("sharing the ring buffer"))?;
        open.maps
            .loss
            .reuse_fd(loss)
            .map_err(lb("sharing the loss counters"))?;
        let skel = open.load().map_err(lb(
            "loading the enforcement programs (REWIND_BPF_DEBUG=1 shows the verifier's log)",
        ))?;
        let mut e = Enforcer {
            skel,
            links: Vec::new(),
            hooks: Vec::new(),
        };
        e.fill(spec)?;
        e.attach()?;
        Ok(e)
    }

    /// Gives processes that were running before the programs were attached their masks
    /// (from /proc, read after the attach); one the kernel has seen fork or exec since
    /// keeps the kernel's newer state (NO_EXIST).
    pub fn seed(&self, procs: &[(u32, ProcState)]) -> Result<(), LoadError> {
        for (t, p) in procs {
            let r =
                self.skel
                    .maps
                    .pol_procs
                    .update(&t.to_le_bytes(), &p.bytes(), MapFlags::NO_EXIST);
            if let Err(err) = r {
                if err.kind() != libbpf_rs::ErrorKind::AlreadyExists {
                    return Err(LoadError::Libbpf {
                        what: "writing the policy (processes)".into(),
                        source: err,
                    });
                }
            }
        }
        Ok(())
    }

    fn fill(&self, spec: &Spec) -> Result<(), LoadError> {
        let m = &self.skel.maps;
        let put = |map: &dyn MapCore, k: &[u8], v: &[u8], what: &str| {
            map.update(k, v, MapFlags::ANY)
                .map_err(lb(format!("writing the policy ({what})")))
        };
        for (i, s) in &spec.sets {
            put(&m.pol_sets, &i.to_le_bytes(), &s.bytes(), "rules")?;
        }
        for (k, v) in close_prefixes(&spec.bin, BinVal::or) {
            put(&m.pol_bin, &str_key(&k), &v.bytes(), "binaries")?;
        }
        for (k, v) in close_prefixes(&spec.bin_rev, BinVal::or) {
            put(&m.pol_bin_rev, &str_key(&k), &v.bytes(), "binary suffixes")?;
        }
        for (k, v) in close_prefixes(&spec.path, or_mask) {
            put(&m.pol_path, &str_key(&k), &mask_bytes(&v), "paths")?;
        }
        // destinations: a wider CIDR is a prefix of a narrower one in bits
        let dests: Vec<(u8, Vec<u8>, u32, Mask)> = spec
            .dest
            .iter()
            .map(|(fam, addr, bits, v)| {
                let mut acc = *v;
                for (f2, a2, b2, v2) in &spec.dest {
                    if f2 == fam && b2 < bits && prefix_bits_eq(addr, a2, *b2) {
                        or_mask(&mut acc, v2);
                    }
                }
                (*fam, addr.clone(), *bits, acc)
            })
            .collect();
        for (fam, addr, bits, v) in dests {
            let mut k = vec![0u8; 24];
            k[0..4].copy_from_slice(&(8 + bits).to_le_bytes());
            k[4] = fam;
            k[5..5 + addr.len().min(16)].copy_from_slice(&addr[..addr.len().min(16)]);
            put(&m.pol_dest, &k, &mask_bytes(&v), "destinations")?;
        }
        for t in &spec.exempt {
            put(&m.pol_exempt, &t.to_le_bytes(), &[1], "exemptions")?;
        }
        let mut c = Vec::with_capacity(472);
        for o in &spec.ops {
            c.extend(o.iter().flat_map(|w| w.to_le_bytes()));
        }
        for mk in [
            &spec.no_bin,
            &spec.no_par,
            &spec.no_anc,
            &spec.no_path,
            &spec.no_dest,
        ] {
            c.extend(mask_bytes(mk));
        }
        for n in host_ns() {
            c.extend(n.to_le_bytes());
        }
        c.extend(u32::from(spec.monitor).to_le_bytes());
        c.extend(spec.rate_limit.to_le_bytes());
        put(&m.pol_conf_map, &0u32.to_le_bytes(), &c, "configuration")?;
        Ok(())
    }

    fn attach(&mut self) -> Result<(), LoadError> {
        let p = &self.skel.progs;
        let tp = libbpf_rs::TracepointCategory::Syscalls;
        let mut links = Vec::new();
        let mut hooks = Vec::new();
        for (prog, name) in [
            (&p.enforce_exec, "tp_btf/sched_process_exec"),
            (&p.enforce_fork, "tp_btf/sched_process_fork"),
            (&p.enforce_exit, "tp_btf/sched_process_exit"),
        ] {
            links.push(prog.attach().map_err(lb(format!("attaching {name}")))?);
            hooks.push(name.to_string());
        }
        for t in ["sys_exit_open", "sys_exit_openat", "sys_exit_openat2"] {
            if Path::new("/sys/kernel/tracing/events/syscalls")
                .join(t)
                .exists()
            {
                links.push(
                    p.enforce_open
                        .attach_tracepoint(tp.clone(), t)
                        .map_err(lb(format!("attaching syscalls:{t}")))?,
                );
                hooks.push(format!("syscalls:{t}"));
            }
        }
        for t in ["sys_exit_connect", "sys_exit_sendto", "sys_exit_sendmsg"] {
            links.push(
                p.enforce_owed_signal
                    .attach_tracepoint(tp.clone(), t)
                    .map_err(lb(format!("attaching syscalls:{t}")))?,
            );
            hooks.push(format!("syscalls:{t}"));
        }
        let root = cgroup2_root()?;
        let cg = std::fs::File::open(&root).map_err(|e| {
            LoadError::Config(format!(
                "opening the cgroup v2 root {}: {e}",
                root.display()
            ))
        })?;
        for (prog, name) in [
            (&p.enforce_connect4, "cgroup/connect4"),
            (&p.enforce_connect6, "cgroup/connect6"),
            (&p.enforce_sendmsg4, "cgroup/sendmsg4"),
            (&p.enforce_sendmsg6, "cgroup/sendmsg6"),
        ] {
            links.push(
                prog.attach_cgroup(std::os::fd::AsRawFd::as_raw_fd(&cg.as_fd()))
                    .map_err(lb(format!("attaching {name} to {}", root.display())))?,
            );
            hooks.push(format!("{name} on {}", root.display()));
        }
        // All attached: only now do the links belong to the enforcer (an early return
        // above dropped the ones made so far).
        self.links = links;
        self.hooks = hooks;
        Ok(())
    }
}

fn prefix_bits_eq(a: &[u8], b: &[u8], bits: u32) -> bool {
    let full = (bits / 8) as usize;
    let rest = bits % 8;
    if a.len() < full || b.len() < full || a[..full] != b[..full] {
        return false;
    }
    if rest == 0 {
        return true;
    }
    let m = 0xffu8 << (8 - rest);
    a.get(full).map(|x| x & m) == b.get(full).map(|x| x & m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trie_values_include_every_shorter_prefix() {
        let mut a = Mask::default();
        set_bit(&mut a, 1);
        let mut b = Mask::default();
        set_bit(&mut b, 2);
        let e = vec![(b"/etc/".to_vec(), a), (b"/etc/shadow\0".to_vec(), b)];
        let c = close_prefixes(&e, or_mask);
        assert_eq!(c[0].1, a);
        let mut ab = a;
        or_mask(&mut ab, &b);
        assert_eq!(c[1].1, ab);
    }

    #[test]
    fn cidr_prefixes_compare_bits() {
        assert!(prefix_bits_eq(&[10, 1, 2, 3], &[10, 0, 0, 0], 8));
        assert!(!prefix_bits_eq(&[11, 1, 2, 3], &[10, 0, 0, 0], 8));
        assert!(prefix_bits_eq(&[192, 168, 129, 1], &[192, 168, 128, 0], 17));
        assert!(!prefix_bits_eq(
            &[192, 168, 127, 1],
            &[192, 168, 128, 0],
            17
        ));
    }
}
