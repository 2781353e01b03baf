//! Every built-in rule that no recorded fixture exercises fires on a synthetic trace made
//! for it (and only where it should): DNS tunnelling, stratum, ptrace, module and eBPF
//! loads, container escapes, log and history removal, systemd units, deleted binaries,
//! capability gains, bind shells, the user namespace exploit prelude.

mod common;

use common::ok;
use rewind_schema::builder::TraceBuilder;
use rewind_schema::meta::HostInfo;
use rewind_schema::wire::{self, Argv, ByteString, Comm, Namespaces, Sock};
use rewind_schema::EventKind;
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;

const MS: u64 = 1_000_000;
const S: u64 = 1_000 * MS;

const HOST_NS: Namespaces = Namespaces {
    mnt: 4026531841,
    pid: 4026531836,
    net: 4026531840,
    uts: 4026531838,
    ipc: 4026531839,
    user: 4026531837,
    cgroup: 4026531835,
    time: 4026531834,
};

const CTR_NS: Namespaces = Namespaces {
    mnt: 4026532201,
    pid: 4026532202,
    net: 4026532203,
    uts: 4026532204,
    ipc: 4026532205,
    user: 4026531837,
    cgroup: 4026532206,
    time: 4026531834,
};

const CTR_CGROUP: &str =
    "/system.slice/docker-3f2a9c4b5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708.scope";

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("addr")
}

struct ExecSpec<'a> {
    exe: &'a str,
    argv: &'a [&'a str],
    uid: u32,
    euid: u32,
    cgroup: &'a str,
    ns: Namespaces,
    flags: u32,
}

fn exec(b: &mut TraceBuilder, ts: u64, pid: u32, ppid: u32, s: ExecSpec) {
    let comm = s.exe.rsplit('/').next().unwrap_or(s.exe);
    let root = s.euid == 0;
    let x = wire::Exec {
        proc_start: ts,
        ppid,
        uid: s.uid,
        gid: s.uid,
        euid: s.euid,
        egid: s.uid,
        auid: u32::MAX,
        cap_eff: if root { 0x1ff_ffff_ffff } else { 0 },
        cap_prm: if root { 0x1ff_ffff_ffff } else { 0 },
        ns: s.ns,
        argc: s.argv.len() as u32,
        flags: s.flags,
        comm: Comm::new(comm),
        filename: s.exe.into(),
        argv: Argv(s.argv.iter().map(|a| ByteString::from(*a)).collect()),
        cwd: "/".into(),
        cgroup: s.cgroup.into(),
        exe_mode: 0o100755,
        ..Default::default()
    };
    b.event(ts, pid, EventKind::Exec(Box::new(x)))
        .expect("exec");
}

fn spec<'a>(exe: &'a str, argv: &'a [&'a str], uid: u32) -> ExecSpec<'a> {
    ExecSpec {
        exe,
        argv,
        uid,
        euid: uid,
        cgroup: "/user.slice",
        ns: HOST_NS,
        flags: 0,
    }
}

fn dns_query(name: &str) -> Vec<u8> {
    use simple_dns::{Name, Packet, Question, CLASS, QCLASS};
    let mut p = Packet::new_query(9);
    p.questions.push(Question::new(
        Name::new_unchecked(name),
        simple_dns::TYPE::A.into(),
        QCLASS::CLASS(CLASS::IN),
        false,
    ));
    p.build_bytes_vec().expect("dns")
}

fn zoo(p: &Path) {
    let mut b = TraceBuilder::new(p)
        .host(HostInfo {
            hostname: "zoo".into(),
            boot_id: "00000000-0000-4000-8000-00000000200a".into(),
            kernel_release: "6.18.0-synthetic".into(),
            init_ns: Some(HOST_NS),
            ..Default::default()
        })
        .existing(1, 0, "/sbin/init", &["/sbin/init"], 0)
        .existing(50, 1, "/usr/bin/bash", &["bash"], 1000)
        .existing(60, 1, "/usr/bin/bash", &["bash"], 0)
        .create()
        .expect("create");
    let mut t = b.start_ns() + S;
    let mut next = || {
        t += 10 * MS;
        t
    };
    // pid 100 (uid 1000): a DNS tunnel and a miner.
    let ts = next();
    b.fork(ts, 50, 100).expect("fork");
    exec(
        &mut b,
        next(),
        100,
        50,
        spec("/tmp/.x/agent", &["agent"], 1000),
    );
    let label = "mzxw6ytboi2gk3tvmvzhg5dfon2gk43emfzxg4tfmnxw2zlbnz2xi33n";
    let data = dns_query(&format!("{label}.t.example"));
    let s = wire::Snippet {
        sock: Sock::udp(3, addr("10.0.0.2:5353"), addr("10.0.0.53:53")),
        total_len: data.len() as u32,
        flags: 0,
        data: wire::Payload(data),
    };
    b.event(next(), 100, EventKind::Dns(s)).expect("dns");
    let (me, pool) = (addr("10.0.0.2:41000"), addr("198.51.100.9:3333"));
    b.connect(next(), 100, 4, me, pool, 0).expect("connect");
    let stratum = br#"{"id":1,"method":"mining.subscribe","params":["xmrig/6.21"]}"#;
    let s = wire::Snippet {
        sock: Sock::tcp(4, me, pool),
        total_len: stratum.len() as u32,
        flags: 0,
        data: wire::Payload(stratum.to_vec()),
    };
    b.event(next(), 100, EventKind::Snippet(s))
        .expect("snippet");
    // A deleted binary, a capability gain by a user process, an unprivileged user ns.
    exec(
        &mut b,
        next(),
        100,
        50,
        ExecSpec {
            flags: wire::exec::EXEC_EXE_DELETED,
            ..spec("/tmp/.x/agent2", &["agent2"], 1000)
        },
    );
    let cap = wire::Capset {
        old_eff: 0,
        new_eff: 1 << 21,
        new_prm: 1 << 21,
        ret: 0,
        ..Default::default()
    };
    b.event(next(), 100, EventKind::Capset(cap))
        .expect("capset");
    let ns = wire::Namespace {
        flags: 0x1000_0000 | 0x0002_0000,
        old: HOST_NS,
        new: HOST_NS,
        op: wire::kernel::NS_UNSHARE,
        ret: 0,
        fd: -1,
    };
    b.event(next(), 100, EventKind::Namespace(ns))
        .expect("unshare");

    // pid 200 (root): kernel-level activity and evasion.
    let ts = next();
    b.fork(ts, 60, 200).expect("fork");
    exec(
        &mut b,
        next(),
        200,
        60,
        spec("/usr/bin/python3", &["python3", "x.py"], 0),
    );
    let ptrace = wire::Ptrace {
        request: 16,
        target: 60,
        ret: 0,
    };
    b.event(next(), 200, EventKind::Ptrace(ptrace))
        .expect("ptrace");
    let bpf = wire::BpfLoad {
        cmd: 5,
        prog_type: 2,
        insn_cnt: 40,
        ret: 7,
        prog_name: Comm::new("hide_pid"),
    };
    b.event(next(), 200, EventKind::BpfLoad(bpf)).expect("bpf");
    let module = wire::ModuleLoad {
        ret: 0,
        syscall: 313,
        name: "rootkit".into(),
    };
    b.event(next(), 200, EventKind::ModuleLoad(module))
        .expect("module");
    b.open(next(), 200, "/var/log/auth.log", 0o1001, 3)
        .expect("open");
    b.open(next(), 200, "/etc/systemd/system/evil.service", 0o101, 3)
        .expect("open");
    let unlink = wire::Unlink {
        ret: 0,
        flags: 0,
        path: "/root/.bash_history".into(),
    };
    b.event(next(), 200, EventKind::Unlink(unlink))
        .expect("unlink");
    let sock = wire::Connect {
        sock: Sock {
            cookie: 21,
            family: wire::net::AF_UNIX,
            sock_type: 1,
            ..Default::default()
        },
        ret: 0,
        path: "/run/docker.sock".into(),
    };
    b.event(next(), 200, EventKind::Connect(sock))
        .expect("connect");
    // A bind shell: nc listens.
    let ts = next();
    b.fork(ts, 60, 250).expect("fork");
    exec(
        &mut b,
        next(),
        250,
        60,
        spec("/usr/bin/nc", &["nc", "-lvp", "4444"], 0),
    );
    let listen = wire::Listen {
        sock: Sock::tcp(20, addr("0.0.0.0:4444"), addr("0.0.0.0:0")),
        ret: 0,
        backlog: 1,
    };
    b.event(next(), 250, EventKind::Listen(listen))
        .expect("listen");

    // pid 300: a container process that mounts the host disk, talks to the runtime
    // socket and joins the host's namespaces.
    let ts = next();
    b.fork(ts, 60, 300).expect("fork");
    exec(
        &mut b,
        next(),
        300,
        60,
        ExecSpec {
            cgroup: CTR_CGROUP,
            ns: CTR_NS,
            ..spec("/bin/sh", &["sh"], 0)
        },
    );
    let mount = wire::Mount {
        flags: 0,
        ret: 0,
        source: "/dev/vda1".into(),
        target: "/mnt/host".into(),
        fstype: "ext4".into(),
    };
    b.event(next(), 300, EventKind::Mount(mount))
        .expect("mount");
    let sock = wire::Connect {
        sock: Sock {
            cookie: 30,
            family: wire::net::AF_UNIX,
            sock_type: 1,
            ..Default::default()
        },
        ret: 0,
        path: "/var/run/docker.sock".into(),
    };
    b.event(next(), 300, EventKind::Connect(sock))
        .expect("connect");
    let setns = wire::Namespace {
        flags: 0x0002_0000,
        old: CTR_NS,
        new: Namespaces {
            mnt: HOST_NS.mnt,
            ..CTR_NS
        },
        op: wire::kernel::NS_SETNS,
        ret: 0,
        fd: 5,
    };
    b.event(next(), 300, EventKind::Namespace(setns))
        .expect("setns");
    // The policy kills it.
    let enforce = wire::Enforce {
        action: wire::enforce::ACTION_KILL,
        flags: 0,
        rule: 1,
        sig: 9,
        trigger: 0x0501,
        detail: "setns into host mnt namespace".into(),
    };
    b.event(next(), 300, EventKind::Enforce(enforce))
        .expect("enforce");
    b.finish().expect("finish");
}

#[test]
fn rules_no_fixture_reaches_fire_on_the_zoo() {
    let dir = tempfile::tempdir().expect("tmp");
    let p = dir.path().join("zoo.zst");
    zoo(&p);
    if let Some(keep) = std::env::var_os("REWIND_KEEP_ZOO") {
        std::fs::copy(&p, keep).expect("keep the zoo trace");
    }
    let out = ok(&["detect", "-q", "--json", p.to_str().expect("utf8")]);
    let got: BTreeSet<(String, String)> = out
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("json");
            (
                v["rule"]["id"].as_str().expect("id").to_string(),
                v["process"].as_str().expect("process").to_string(),
            )
        })
        .collect();
    let want: BTreeSet<(String, String)> = [
        ("RW-EXEC-002", "agent[100]"),
        ("RW-NS-005", "agent2[100]"),
        ("RW-EXEC-003", "agent2[100]"),
        ("RW-NET-002", "agent[100]"),
        ("RW-NET-003", "agent[100]"),
        ("RW-PRIV-003", "agent2[100]"),
        ("RW-NS-002", "agent2[100]"),
        ("RW-KERN-003", "python3[200]"),
        ("RW-KERN-002", "python3[200]"),
        ("RW-KERN-001", "python3[200]"),
        ("RW-EVADE-001", "python3[200]"),
        ("RW-PERSIST-002", "python3[200]"),
        ("RW-EVADE-002", "python3[200]"),
        ("RW-FILE-003", "python3[200]"),
        ("RW-NET-004", "nc[250]"),
        ("RW-NET-005", "nc[250]"),
        ("RW-NS-003", "sh[300]"),
        ("RW-NS-004", "sh[300]"),
        ("RW-NS-001", "sh[300]"),
        ("RW-ENF-001", "sh[300]"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    let missing: Vec<_> = want.difference(&got).collect();
    let extra: Vec<_> = got.difference(&want).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:?}\nextra {extra:?}\n{out}"
    );
    // Explanations are filled in from the facts.
    for (id, text) in [
        ("RW-KERN-003", "ATTACH on bash[60]"),
        (
            "RW-NET-003",
            "stratum mining protocol with 198.51.100.9:3333",
        ),
        ("RW-NS-001", "joined host namespaces via setns"),
        ("RW-ENF-001", "policy kill: setns into host mnt namespace"),
        (
            "RW-NET-002",
            "mzxw6ytboi2gk3tvmvzhg5dfon2gk43emfzxg4tfmnxw2zlbnz2xi33n.t.example",
        ),
    ] {
        let line = out
            .lines()
            .find(|l| l.contains(&format!("\"id\":\"{id}\"")))
            .expect("finding");
        assert!(line.contains(text), "{id}: {text:?} not in {line}");
    }
    // Every built-in rule is exercised by the zoo or by a recorded fixture.
    let mut fired: BTreeSet<String> = got.into_iter().map(|(r, _)| r).collect();
    for f in std::fs::read_dir(common::root().join("fixtures/expected")).expect("dir") {
        let d = std::fs::read_to_string(f.expect("entry").path().join("detect.txt"))
            .expect("detect.txt");
        for l in d.lines().filter(|l| l.starts_with("20")) {
            if let Some(id) = l.split_whitespace().nth(2) {
                fired.insert(id.to_string());
            }
        }
    }
    let list = ok(&["rules", "list"]);
    for l in list.lines().filter(|l| l.starts_with("RW-")) {
        let id = l.split_whitespace().next().expect("id");
        assert!(fired.contains(id), "no test makes {id} fire");
    }
}
