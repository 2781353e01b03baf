//! A policy compiled for the kernel: [`compile`] turns the shared policy model
//! (`rewind_schema::policy`) into the maps of `bpf/src/enforce.bpf.c`, or refuses every
//! rule this kernel and this recorder cannot enforce, with the reason and what would work
//! instead. Nothing is ever degraded silently: a policy is applied whole or not at all.
//! `recorder policy check FILE` prints the same verdicts without loading anything.

use rewind_bpf::enforce::{self, op, set_bit, BinVal, Mask, ProcState, SetSpec, Spec};
use rewind_schema::policy::{Action, Mode, NsSel, Op, Policy, Proto, Rule, Selectors};
use rewind_schema::snapshot::ProcessSnapshot;
use std::collections::HashMap;
use std::net::IpAddr;

/// What the kernel allows that matters to enforcement.
#[derive(Debug, Clone)]
pub struct KernelAbility {
    /// Why BPF LSM is refused (None when allowed).
    pub lsm_refused: Option<String>,
}

impl KernelAbility {
    /// Asks the kernel (loads and attaches a do-nothing LSM program).
    pub fn probe() -> Self {
        let lsm = rewind_bpf::probe_kinds()
            .into_iter()
            .find(|p| p.kind == rewind_bpf::ProgKind::Lsm);
        KernelAbility {
            lsm_refused: match lsm {
                Some(p) if p.allowed => None,
                Some(p) => Some(p.reason),
                None => Some("not probed".into()),
            },
        }
    }
}

/// The kernel side of a policy, and how each rule will be enforced.
#[derive(Debug)]
pub struct Compiled {
    /// The maps' contents.
    pub spec: Spec,
    /// For each rule, in order: the mechanism in words.
    pub mechanisms: Vec<String>,
}

/// A rule this recorder cannot enforce here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Rule index.
    pub index: u32,
    /// Its id.
    pub id: String,
    /// Its line in the file.
    pub line: u32,
    /// Why, and what would work.
    pub reason: String,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "rule {} (line {}): {}", self.id, self.line, self.reason)
    }
}

fn op_num(o: Op) -> Option<usize> {
    match o {
        Op::Open => Some(op::OPEN),
        Op::Exec => Some(op::EXEC),
        Op::Connect => Some(op::CONNECT),
        Op::Send => Some(op::SEND),
        Op::Unlink | Op::Rename | Op::Chmod => None,
    }
}

fn action_num(a: Action) -> u32 {
    u32::from(a.wire())
}

/// How a rule's action is carried out on `o`, in words.
fn mechanism(o: Op, a: Action) -> String {
    let sig = match a {
        Action::Kill => "SIGKILL",
        Action::Stop => "SIGSTOP",
        _ => "",
    };
    match (o, a) {
        (Op::Open, Action::Audit) => "recorded at syscalls:sys_exit_open*".into(),
        (Op::Open, _) => format!(
            "{sig} from syscalls:sys_exit_open* on the file actually opened, before the call returns"
        ),
        (Op::Exec, Action::Audit) => "recorded at tp_btf/sched_process_exec".into(),
        (Op::Exec, _) => format!(
            "{sig} from tp_btf/sched_process_exec, before the new program runs an instruction"
        ),
        (Op::Connect | Op::Send, Action::Audit) => {
            "recorded by cgroup/connect4|6 and sendmsg4|6 on the root cgroup v2".into()
        }
        (Op::Connect | Op::Send, Action::Deny) => {
            "EPERM from cgroup/connect4|6 (sendmsg4|6 for send) on the root cgroup v2".into()
        }
        (Op::Connect | Op::Send, _) => format!(
            "EPERM from cgroup/connect4|6 (sendmsg4|6), then {sig} at the syscall's exit"
        ),
        _ => String::new(),
    }
}

/// Why `rule` cannot be enforced here, if it cannot.
fn refusal(rule: &Rule, k: &KernelAbility) -> Option<String> {
    for &o in &rule.on {
        if op_num(o).is_none() {
            return Some(format!(
                "`{}` rules are evaluated by `analyzer policy test` only: this recorder has no \
                 kernel hook for them yet (use `open` with `path` on the file instead)",
                o.name()
            ));
        }
        if rule.action == Action::Deny && matches!(o, Op::Open | Op::Exec) {
            return Some(match &k.lsm_refused {
                Some(why) => format!(
                    "deny on {} needs BPF LSM (file_open / bprm_check_security), which this \
                     kernel refuses: {why}; use action: kill (SIGKILL before the call returns)",
                    o.name()
                ),
                None => format!(
                    "deny on {} needs BPF LSM programs this recorder does not have yet; use \
                     action: kill (SIGKILL before the call returns)",
                    o.name()
                ),
            });
        }
    }
    for sel in std::iter::once(&rule.matcher).chain(rule.unless.as_ref()) {
        if let Some(why) = selectors_refusal(sel) {
            return Some(why);
        }
    }
    None
}

fn selectors_refusal(s: &Selectors) -> Option<String> {
    const REPLAY: &str = "is evaluated by `analyzer policy test` only, not in the kernel";
    if s.args.is_some() {
        return Some(format!("`args` {REPLAY}"));
    }
    if s.container.is_some() {
        return Some(format!(
            "`container` {REPLAY} (use `namespaces: not-host` in the kernel)"
        ));
    }
    if s.cgroup.is_some() {
        return Some(format!("`cgroup` {REPLAY}"));
    }
    if let Some(p) = &s.path {
        if !p.glob.is_empty() || !p.suffix.is_empty() {
            return Some(format!(
                "`path` with `glob` or `suffix` {REPLAY}: use `exact` or `prefix`"
            ));
        }
    }
    for (name, list) in [("uid", &s.uid), ("euid", &s.euid)] {
        if list.as_ref().is_some_and(|l| l.len() > enforce::MAX_LIST) {
            return Some(format!(
                "`{name}` lists more than {} values, the kernel's limit",
                enforce::MAX_LIST
            ));
        }
    }
    if s.dest
        .as_ref()
        .is_some_and(|d| d.ports.len() > enforce::MAX_LIST)
    {
        return Some(format!(
            "`dest.ports` lists more than {} ranges, the kernel's limit",
            enforce::MAX_LIST
        ));
    }
    None
}

/// Sets `bit` in the value of `key`, adding the entry when new.
fn add<V: Default>(entries: &mut Vec<(Vec<u8>, V)>, key: Vec<u8>, f: impl FnOnce(&mut V)) {
    if let Some(e) = entries.iter_mut().find(|(k, _)| *k == key) {
        f(&mut e.1);
    } else {
        let mut v = V::default();
        f(&mut v);
        entries.push((key, v));
    }
}

fn exact_key(s: &str) -> Vec<u8> {
    let mut k = s.as_bytes().to_vec();
    k.push(0);
    k
}

/// Writes one selector set (index `si`) into the spec.
fn add_set(spec: &mut Spec, si: usize, s: &Selectors, action: u32, has_unless: bool) {
    type Pick = fn(&mut BinVal) -> &mut Mask;
    let pick_bin: Pick = |v| &mut v.bin;
    let pick_par: Pick = |v| &mut v.par;
    let pick_anc: Pick = |v| &mut v.anc;
    for (sel, none, pick) in [
        (&s.binary, &mut spec.no_bin, pick_bin),
        (&s.parent, &mut spec.no_par, pick_par),
        (&s.ancestor, &mut spec.no_anc, pick_anc),
    ] {
        match sel {
            None => set_bit(none, si),
            Some(m) => {
                for e in &m.exact {
                    add(&mut spec.bin, exact_key(e), |v| set_bit(pick(v), si));
                }
                for p in &m.prefix {
                    add(&mut spec.bin, p.as_bytes().to_vec(), |v| {
                        set_bit(pick(v), si)
                    });
                }
                for x in &m.suffix {
                    let rev: Vec<u8> = x.bytes().rev().collect();
                    add(&mut spec.bin_rev, rev, |v| set_bit(pick(v), si));
                }
            }
        }
    }
    match &s.path {
        None => set_bit(&mut spec.no_path, si),
        Some(m) => {
            for e in &m.exact {
                add(&mut spec.path, exact_key(e), |v: &mut Mask| set_bit(v, si));
            }
            for p in &m.prefix {
                add(&mut spec.path, p.as_bytes().to_vec(), |v: &mut Mask| {
                    set_bit(v, si)
                });
            }
        }
    }
    let mut set = SetSpec {
        caps: s.caps.unwrap_or(0),
        has_unless,
        action,
        uids: s.uid.clone().unwrap_or_default(),
        euids: s.euid.clone().unwrap_or_default(),
        privileged: match s.privileged {
            None => 0,
            Some(true) => 1,
            Some(false) => 2,
        },
        ns: match s.namespaces {
            None => 0,
            Some(NsSel::Host) => 1,
            Some(NsSel::NotHost) => 2,
        },
        ..Default::default()
    };
    match &s.dest {
        None => set_bit(&mut spec.no_dest, si),
        Some(d) => {
            if d.cidr.is_empty() {
                set_bit(&mut spec.no_dest, si);
            }
            for c in &d.cidr {
                let mut add_dest = |fam: u8, addr: Vec<u8>, bits: u32| {
                    if let Some(e) = spec
                        .dest
                        .iter_mut()
                        .find(|e| e.0 == fam && e.1 == addr && e.2 == bits)
                    {
                        set_bit(&mut e.3, si);
                    } else {
                        let mut m = Mask::default();
                        set_bit(&mut m, si);
                        spec.dest.push((fam, addr, bits, m));
                    }
                };
                match c.addr {
                    IpAddr::V4(a) => {
                        add_dest(4, a.octets().to_vec(), u32::from(c.len));
                        // a dual-stack socket connects to ::ffff:a.b.c.d
                        add_dest(
                            6,
                            a.to_ipv6_mapped().octets().to_vec(),
                            96 + u32::from(c.len),
                        );
                    }
                    IpAddr::V6(a) => add_dest(6, a.octets().to_vec(), u32::from(c.len)),
                }
            }
            set.ports = d.ports.clone();
            set.proto = match d.protocol {
                Proto::Any => 0,
                Proto::Tcp => 6,
                Proto::Udp => 17,
            };
        }
    }
    spec.sets.push((si as u32, set));
}

/// Compiles `policy`; `monitor` forces monitor mode. Refuses the whole policy if any rule
/// cannot be enforced here.
pub fn compile(
    policy: &Policy,
    k: &KernelAbility,
    monitor: bool,
) -> Result<Compiled, Vec<Refusal>> {
    let refusals: Vec<Refusal> = policy
        .rules
        .iter()
        .filter_map(|r| {
            refusal(r, k).map(|reason| Refusal {
                index: r.index,
                id: r.id.clone(),
                line: r.line,
                reason,
            })
        })
        .collect();
    if !refusals.is_empty() {
        return Err(refusals);
    }
    let mut spec = Spec {
        monitor: monitor || policy.mode == Mode::Monitor,
        rate_limit: policy.kill_rate_limit,
        ..Default::default()
    };
    let mut mechanisms = Vec::new();
    for r in &policy.rules {
        let i = r.index as usize;
        for &o in &r.on {
            if let Some(n) = op_num(o) {
                spec.ops[n][(i >> 6) & 3] |= 1 << (i & 63);
            }
        }
        add_set(
            &mut spec,
            i,
            &r.matcher,
            action_num(r.action),
            r.unless.is_some(),
        );
        if let Some(u) = &r.unless {
            add_set(&mut spec, i + enforce::MAX_RULES, u, 0, false);
        }
        mechanisms.push(
            r.on.iter()
                .map(|&o| format!("{}: {}", o.name(), mechanism(o, r.action)))
                .collect::<Vec<_>>()
                .join("; "),
        );
    }
    Ok(Compiled { spec, mechanisms })
}

/// The binary/parent/ancestor masks an executable path satisfies.
fn here_of(policy: &Policy, exe: &[u8]) -> BinVal {
    let mut v = BinVal::default();
    let sets = policy.rules.iter().flat_map(|r| {
        std::iter::once((r.index as usize, &r.matcher)).chain(
            r.unless
                .iter()
                .map(move |u| (r.index as usize + enforce::MAX_RULES, u)),
        )
    });
    for (si, s) in sets {
        if s.binary.as_ref().is_some_and(|m| m.matches(exe)) {
            set_bit(&mut v.bin, si);
        }
        if s.parent.as_ref().is_some_and(|m| m.matches(exe)) {
            set_bit(&mut v.par, si);
        }
        if s.ancestor.as_ref().is_some_and(|m| m.matches(exe)) {
            set_bit(&mut v.anc, si);
        }
    }
    v
}

/// Masks of the processes running now (executable and parent, from the recorder's /proc
/// snapshot), so that rules on binaries and ancestry hold for processes started before
/// the recorder.
pub fn running_processes<'a>(
    policy: &Policy,
    all: impl Iterator<Item = &'a ProcessSnapshot> + Clone,
) -> Vec<(u32, ProcState)> {
    let here: HashMap<u32, (u32, BinVal)> = all
        .clone()
        .map(|p| (p.pid, (p.ppid, here_of(policy, p.exe.as_bytes()))))
        .collect();
    all.map(|p| {
        let mut st = ProcState {
            here: here[&p.pid].1,
            ..Default::default()
        };
        if let Some((_, v)) = here.get(&p.ppid) {
            st.parent = v.par;
        }
        let mut cur = p.ppid;
        for _ in 0..64 {
            let Some((up, v)) = here.get(&cur) else { break };
            for w in 0..8 {
                st.ancestor[w] |= v.anc[w];
            }
            if *up == cur || *up == 0 {
                break;
            }
            cur = *up;
        }
        (p.pid, st)
    })
    .collect()
}

/// The recorder and its ancestors, up to (not including) pid 1: never acted on.
pub fn exempt_chain(me: u32) -> Vec<u32> {
    let mut out = vec![me];
    let mut cur = me;
    for _ in 0..64 {
        match crate::procfs::process(cur) {
            Some(p) if p.ppid > 1 => {
                out.push(p.ppid);
                cur = p.ppid;
            }
            _ => break,
        }
    }
    out
}
