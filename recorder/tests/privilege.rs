//! Privilege and kernel families end to end: setuid transitions (syscall and setuid
//! binary), capability changes, namespace changes, mounts, signals, memfd.

mod common;
use common::*;
use rewind_schema::EventKind;

#[test]
fn setuid_transitions_and_setuid_binaries() {
    if !root_or_skip("setuid_transitions_and_setuid_binaries") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let suid = dir.path().join("id-suid");
    std::fs::copy("/usr/bin/id", &suid).expect("copy id");
    std::os::unix::fs::chown(&suid, Some(0), Some(0)).expect("chown");
    std::fs::set_permissions(&suid, std::os::unix::fs::PermissionsExt::from_mode(0o4755))
        .expect("chmod");
    // The temp dir must be reachable for nobody.
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("chmod dir");
    let script = format!(
        "/usr/bin/python3 -c 'import os; os.setgid(65534); os.setuid(65534)'; \
         setpriv --reuid=65534 --regid=65534 --clear-groups {} >/dev/null",
        suid.display()
    );
    let r = record(&[], &["/bin/sh", "-c", &script], None);
    assert_eq!(r.code(), Some(0), "{}", r.stderr());
    let setuid = r.events.iter().find_map(|e| match &e.kind {
        EventKind::Cred(c) if c.new.uid == 65534 && c.old.uid == 0 => Some(c.clone()),
        _ => None,
    });
    let c = setuid.unwrap_or_else(|| panic!("no setuid(65534) record\n{}", r.dump()));
    assert_eq!(
        (c.ret, c.old.euid, c.new.euid, c.syscall),
        (0, 0, 65534, 105)
    );
    let gid = r
        .events
        .iter()
        .any(|e| matches!(&e.kind, EventKind::Cred(c) if c.syscall == 106 && c.new.gid == 65534));
    assert!(gid, "setgid(65534) with syscall number 106");
    let (_, x) = r
        .execs("/id-suid")
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("no exec of the setuid copy\n{}", r.dump()));
    assert_eq!(
        (x.uid, x.euid),
        (65534, 0),
        "a setuid-root binary run by nobody"
    );
    assert!(x.setid_binary());
    assert_eq!(x.exe_mode & 0o7777, 0o4755);
}

#[test]
fn namespace_mount_signal_memfd() {
    if !root_or_skip("namespace_mount_signal_memfd") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let mnt = dir.path().join("m");
    std::fs::create_dir(&mnt).expect("mkdir");
    let script = format!(
        "unshare --net true; \
         unshare --mount sh -c 'mount -t tmpfs rewindtmp {m} && umount {m}'; \
         sleep 30 & sleep 0.2; kill -TERM $!; wait; \
         /usr/bin/python3 -c 'import os; os.memfd_create(\"rewind-test\")'; true",
        m = mnt.display()
    );
    let r = record(&[], &["/bin/sh", "-c", &script], None);
    assert_eq!(r.code(), Some(0), "{}", r.stderr());
    let ns = r.events.iter().find_map(|e| match &e.kind {
        EventKind::Namespace(n)
            if n.flags == 0x40000000 && n.op == rewind_schema::wire::kernel::NS_UNSHARE =>
        {
            Some(n.clone())
        }
        _ => None,
    });
    let ns = ns.unwrap_or_else(|| panic!("no unshare(CLONE_NEWNET)\n{}", r.dump()));
    assert_eq!(ns.ret, 0);
    assert_ne!(ns.old.net, ns.new.net, "the network namespace changed");
    assert_eq!(ns.old.mnt, ns.new.mnt, "the mount namespace did not");
    let mount = r.events.iter().find_map(|e| match &e.kind {
        EventKind::Mount(m) if m.source.display() == "rewindtmp" => Some(m.clone()),
        _ => None,
    });
    let m = mount.unwrap_or_else(|| panic!("no mount record\n{}", r.dump()));
    assert_eq!(
        (m.target.display(), m.fstype.display(), m.ret),
        (mnt.display().to_string(), "tmpfs".to_string(), 0)
    );
    assert!(r.events.iter().any(|e| matches!(&e.kind, EventKind::Umount(u) if u.target.display() == mnt.display().to_string())));
    let sleep = r
        .execs("/sleep")
        .into_iter()
        .find(|(_, x)| x.argv.joined() == "sleep 30")
        .map(|(e, _)| e.pid);
    let sleep = sleep.expect("sleep 30");
    assert!(
        r.events.iter().any(|e| matches!(&e.kind, EventKind::Signal(s) if s.target == sleep && s.sig == 15 && s.ret == 0)),
        "kill -TERM of the sleep"
    );
    assert!(r.events.iter().any(|e| matches!(&e.kind, EventKind::Memfd(m) if m.name.display() == "rewind-test" && m.ret >= 0)));
}
