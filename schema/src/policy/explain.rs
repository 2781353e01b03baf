//! A policy in words, so an operator reads what each rule will do before turning it on:
//! "kill any process whose binary is /usr/bin/cat when it opens /etc/shadow".

use super::*;

fn or_list(items: &[String]) -> String {
    match items.len() {
        0 => String::new(),
        1 => items[0].clone(),
        n => format!("{} or {}", items[..n - 1].join(", "), items[n - 1]),
    }
}

/// "is /a or /b, starts with /tmp/, ends with /nc".
fn str_words(m: &StrMatch) -> String {
    let mut parts = Vec::new();
    if !m.exact.is_empty() {
        parts.push(format!("is {}", or_list(&m.exact)));
    }
    if !m.prefix.is_empty() {
        parts.push(format!("starts with {}", or_list(&m.prefix)));
    }
    if !m.suffix.is_empty() {
        parts.push(format!("ends with {}", or_list(&m.suffix)));
    }
    if !m.glob.is_empty() {
        parts.push(format!("matches {}", or_list(&m.glob)));
    }
    parts.join(", or ")
}

fn quoted(v: &[String]) -> Vec<String> {
    v.iter().map(|s| format!("{s:?}")).collect()
}

fn nums(v: &[u32]) -> Vec<String> {
    v.iter().map(u32::to_string).collect()
}

/// Conditions on the process, each a phrase ("whose binary is ...").
fn subject(s: &Selectors) -> Vec<String> {
    let mut c = Vec::new();
    if let Some(m) = &s.binary {
        c.push(format!("whose binary {}", str_words(m)));
    }
    if let Some(m) = &s.parent {
        c.push(format!("whose parent's binary {}", str_words(m)));
    }
    if let Some(m) = &s.ancestor {
        c.push(format!("with an ancestor whose binary {}", str_words(m)));
    }
    if let Some(a) = &s.args {
        let mut p = Vec::new();
        if !a.contains.is_empty() {
            p.push(format!("contains {}", or_list(&quoted(&a.contains))));
        }
        if !a.prefix.is_empty() {
            p.push(format!("starts with {}", or_list(&quoted(&a.prefix))));
        }
        c.push(format!("whose command line {}", p.join(" or ")));
    }
    if let Some(u) = &s.uid {
        c.push(format!("running as uid {}", or_list(&nums(u))));
    }
    if let Some(u) = &s.euid {
        c.push(format!("with effective uid {}", or_list(&nums(u))));
    }
    match s.privileged {
        Some(true) => c.push("privileged (euid 0 or CAP_SYS_ADMIN)".into()),
        Some(false) => c.push("unprivileged (neither euid 0 nor CAP_SYS_ADMIN)".into()),
        None => {}
    }
    if let Some(mask) = s.caps {
        let names: Vec<String> = CAP_NAMES
            .iter()
            .enumerate()
            .filter(|(i, _)| mask & (1 << i) != 0)
            .map(|(_, n)| n.to_string())
            .collect();
        c.push(format!("holding {}", or_list(&names)));
    }
    match &s.container {
        Some(ContainerSel::Any) => c.push("in a container".into()),
        Some(ContainerSel::Host) => c.push("on the host (not in a container)".into()),
        Some(ContainerSel::Id(id)) => c.push(format!("in container {id}…")),
        None => {}
    }
    if let Some(m) = &s.cgroup {
        c.push(format!("whose cgroup {}", str_words(m)));
    }
    match s.namespaces {
        Some(NsSel::Host) => c.push("in the host's namespaces".into()),
        Some(NsSel::NotHost) => c.push("in a namespace other than the host's".into()),
        None => {}
    }
    c
}

fn verb(op: Op) -> &'static str {
    match op {
        Op::Open => "opens",
        Op::Exec => "executes",
        Op::Unlink => "deletes",
        Op::Rename => "renames",
        Op::Chmod => "changes the mode of",
        Op::Connect => "connects to",
        Op::Send => "sends a UDP datagram to",
    }
}

/// What the operation acts on: "a path that is /etc/shadow", "an address in 10.0.0.0/8".
fn object(s: &Selectors, file: bool) -> String {
    if file {
        return match &s.path {
            Some(m) => format!("a path that {}", str_words(m)),
            None => "any path".into(),
        };
    }
    let Some(d) = &s.dest else {
        return "any address".into();
    };
    let mut t = if d.cidr.is_empty() {
        "any address".to_string()
    } else {
        let c: Vec<String> = d.cidr.iter().map(Cidr::to_string).collect();
        format!("an address in {}", or_list(&c))
    };
    if !d.ports.is_empty() {
        let p: Vec<String> = d
            .ports
            .iter()
            .map(|&(a, b)| {
                if a == b {
                    a.to_string()
                } else {
                    format!("{a}-{b}")
                }
            })
            .collect();
        t.push_str(&format!(" on port {}", or_list(&p)));
    }
    if d.protocol != Proto::Any {
        t.push_str(&format!(" over {}", d.protocol.name()));
    }
    t
}

/// The event part: "opens or deletes a path that is /etc/shadow".
fn event(s: &Selectors, on: &[Op]) -> String {
    let file: Vec<Op> = on.iter().copied().filter(|o| o.is_file()).collect();
    let net: Vec<Op> = on.iter().copied().filter(|o| !o.is_file()).collect();
    let mut parts = Vec::new();
    for (ops, is_file) in [(file, true), (net, false)] {
        if ops.is_empty() {
            continue;
        }
        let verbs: Vec<String> = ops.iter().map(|o| verb(*o).to_string()).collect();
        parts.push(format!("{} {}", or_list(&verbs), object(s, is_file)));
    }
    parts.join(", or ")
}

fn action_words(a: Action) -> &'static str {
    match a {
        Action::Kill => "kill (SIGKILL, before the call returns)",
        Action::Stop => "stop (SIGSTOP, frozen for forensics)",
        Action::Deny => "deny (the call fails with EPERM)",
        Action::Audit => "record (audit only)",
    }
}

/// One rule in words.
pub(super) fn rule(r: &Rule) -> String {
    let mut who = String::from("any process");
    let conds = subject(&r.matcher);
    if !conds.is_empty() {
        who.push(' ');
        who.push_str(&conds.join(" and "));
    }
    let mut t = format!(
        "{} {who} when it {}",
        action_words(r.action),
        event(&r.matcher, &r.on)
    );
    if let Some(u) = &r.unless {
        let mut ex = subject(u);
        if u.path.is_some() || u.dest.is_some() {
            ex.push(format!("it acts on {}", object(u, u.dest.is_none())));
        }
        let ex: Vec<String> = ex
            .into_iter()
            .map(|c| {
                if c.starts_with("it ") {
                    c
                } else if ["whose", "with", "holding", "running"]
                    .iter()
                    .any(|w| c.starts_with(w))
                {
                    format!("it is a process {c}")
                } else {
                    format!("it is {c}")
                }
            })
            .collect();
        t.push_str(&format!(", unless {}", ex.join(" and ")));
    }
    t
}

/// The whole policy.
pub(super) fn policy(p: &Policy) -> String {
    let mut out = format!(
        "policy {:?} (sha256 {}), version {}, mode {}: {}\nkill rate limit: a rule that kills or stops more than {} times a second is switched to monitor\nnever acted on: pid 1, kernel threads, the recorder and its ancestors (reported as exempt)\n",
        p.name,
        p.sha256_hex(),
        p.version,
        p.mode.name(),
        match p.mode {
            Mode::Enforce => "actions are carried out",
            Mode::Monitor => "nothing is blocked; would-be actions are recorded",
        },
        p.kill_rate_limit
    );
    for r in &p.rules {
        out.push_str(&format!("\nrule {} `{}` (line {})", r.index, r.id, r.line));
        if !r.name.is_empty() {
            out.push_str(&format!(": {}", r.name));
        }
        out.push_str(&format!("\n  {}\n", rule(r)));
    }
    out
}
