//! File family end to end: opens resolved to absolute paths (relative, failed, through
//! symlinks), truncation, unlink/rmdir, rename, chmod, chown, and the in-kernel
//! path-prefix filter.

mod common;
use common::*;
use rewind_recorder::cli::DEFAULT_PATH_PREFIXES;
use rewind_schema::event::Event;
use rewind_schema::trace::TraceSet;
use rewind_schema::wire::{Chmod, Chown, Open, Rename, Unlink};
use rewind_schema::EventKind;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

const O_ACCMODE: u32 = 0o3;
const O_CREAT: u32 = 0o100;
const O_TRUNC: u32 = 0o1000;
const AT_REMOVEDIR: u32 = 0x200;
const ENOENT: i32 = 2;

/// A fresh directory under /tmp (inside the default prefixes), by its real path.
fn tmp_dir() -> (tempfile::TempDir, PathBuf) {
    let d = tempfile::Builder::new()
        .prefix("rewind-file-test-")
        .tempdir_in("/tmp")
        .expect("tempdir in /tmp");
    let real = std::fs::canonicalize(d.path()).expect("canonicalize");
    (d, real)
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

fn opens<'a>(r: &'a Recording, path: &str) -> Vec<(&'a Event, &'a Open)> {
    r.events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Open(o) if o.path.as_bytes() == path.as_bytes() => Some((e, o)),
            _ => None,
        })
        .collect()
}

/// The kernel's encoding of st_dev (MKDEV: major << 20 | minor), as in rw_open.dev.
fn kdev(dev: u64) -> u32 {
    ((nix::sys::stat::major(dev) << 20) | nix::sys::stat::minor(dev)) as u32
}

fn unlinks(r: &Recording) -> Vec<&Unlink> {
    r.events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Unlink(u) => Some(u),
            _ => None,
        })
        .collect()
}

#[test]
fn relative_open_is_recorded_with_its_absolute_path() {
    if !root_or_skip("relative_open_is_recorded_with_its_absolute_path") {
        return;
    }
    let r = record(&[], &["cat", "passwd"], Some(Path::new("/etc")));
    assert_eq!(r.code(), Some(0), "{}", r.stderr());
    let cat = r.execs("/cat");
    assert_eq!(cat.len(), 1, "{}", r.dump());
    let cat_pid = cat[0].0.pid;
    let o = opens(&r, "/etc/passwd");
    let mine: Vec<_> = o.iter().filter(|(e, _)| e.pid == cat_pid).collect();
    assert_eq!(mine.len(), 1, "{}", r.dump());
    let (ev, open) = mine[0];
    let md = std::fs::metadata("/etc/passwd").expect("stat /etc/passwd");
    assert!(open.ret >= 0, "{open:?}");
    assert_eq!(open.ino, md.ino());
    assert_ne!(open.ino, 0);
    assert_eq!(open.dev, kdev(md.dev()));
    assert_eq!(open.open_flags & O_ACCMODE, 0, "read-only: {open:?}");
    assert_eq!(open.flags, 0, "not truncated: {open:?}");
    assert_eq!(ev.tid, cat_pid);
    assert!(ev.ts > cat[0].0.ts, "the open follows the exec");
}

#[test]
fn failed_open_is_recorded_with_enoent_and_absolute_path() {
    if !root_or_skip("failed_open_is_recorded_with_enoent_and_absolute_path") {
        return;
    }
    let (_keep, dir) = tmp_dir();
    let r = record(&[], &["cat", "./sub/../missing"], Some(&dir));
    assert_eq!(r.code(), Some(1), "cat fails: {}", r.stderr());
    let want = s(&dir.join("missing"));
    let o = opens(&r, &want);
    assert_eq!(o.len(), 1, "{want}\n{}", r.dump());
    let (_, open) = o[0];
    assert_eq!(open.ret, -ENOENT);
    assert_eq!(open.ino, 0);
    assert_eq!(open.dev, 0);
}

#[test]
fn truncating_open_is_flagged() {
    if !root_or_skip("truncating_open_is_flagged") {
        return;
    }
    let (_keep, dir) = tmp_dir();
    let x = dir.join("x");
    std::fs::write(&x, "old content").expect("write");
    let r = record(&[], &["/bin/sh", "-c", ": > x"], Some(&dir));
    assert_eq!(r.code(), Some(0), "{}", r.stderr());
    let o = opens(&r, &s(&x));
    assert_eq!(o.len(), 1, "{}", r.dump());
    let (_, open) = o[0];
    assert!(open.ret >= 0, "{open:?}");
    assert_eq!(open.open_flags & O_TRUNC, O_TRUNC, "{open:?}");
    assert_eq!(open.open_flags & O_CREAT, O_CREAT, "{open:?}");
    assert_eq!(open.open_flags & O_ACCMODE, 1, "write-only: {open:?}");
    assert_eq!(open.ino, std::fs::metadata(&x).expect("stat").ino());
    assert_eq!(std::fs::metadata(&x).expect("stat").len(), 0);
}

#[test]
fn unlink_rename_chmod_chown_rmdir() {
    if !root_or_skip("unlink_rename_chmod_chown_rmdir") {
        return;
    }
    let (_keep, dir) = tmp_dir();
    let r = record(
        &[],
        &[
            "/bin/sh",
            "-c",
            "touch a && mv a b && chmod 4755 b && chown 1:2 ./b && rm ../$(basename $PWD)/b \
             && mkdir d && rmdir d && rm nothere; true",
        ],
        Some(&dir),
    );
    assert_eq!(r.code(), Some(0), "{}", r.stderr());
    let (a, b, d) = (s(&dir.join("a")), s(&dir.join("b")), s(&dir.join("d")));

    let renames: Vec<&Rename> = r
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Rename(x) => Some(x),
            _ => None,
        })
        .collect();
    assert_eq!(renames.len(), 1, "{}", r.dump());
    assert_eq!(renames[0].old.display(), a);
    assert_eq!(renames[0].new.display(), b);
    assert_eq!(renames[0].ret, 0);

    let chmods: Vec<&Chmod> = r
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Chmod(x) => Some(x),
            _ => None,
        })
        .collect();
    assert_eq!(chmods.len(), 1, "{}", r.dump());
    assert_eq!(chmods[0].path.display(), b);
    assert_eq!(chmods[0].mode & 0o7777, 0o4755);
    assert!(chmods[0].sets_setid());
    assert_eq!(chmods[0].ret, 0);

    let chowns: Vec<&Chown> = r
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Chown(x) => Some(x),
            _ => None,
        })
        .collect();
    assert_eq!(chowns.len(), 1, "{}", r.dump());
    assert_eq!(chowns[0].path.display(), b);
    assert_eq!((chowns[0].uid, chowns[0].gid), (1, 2));
    assert_eq!(chowns[0].ret, 0);

    let u = unlinks(&r);
    let rm_b: Vec<_> = u.iter().filter(|x| x.path.display() == b).collect();
    assert_eq!(rm_b.len(), 1, "{}", r.dump());
    assert_eq!((rm_b[0].ret, rm_b[0].flags), (0, 0));
    let rm_d: Vec<_> = u.iter().filter(|x| x.path.display() == d).collect();
    assert_eq!(rm_d.len(), 1, "{}", r.dump());
    assert_eq!(
        (rm_d[0].ret, rm_d[0].flags & AT_REMOVEDIR),
        (0, AT_REMOVEDIR)
    );
    let missing = s(&dir.join("nothere"));
    let rm_missing: Vec<_> = u.iter().filter(|x| x.path.display() == missing).collect();
    assert_eq!(rm_missing.len(), 1, "{}", r.dump());
    assert_eq!(rm_missing[0].ret, -ENOENT);
}

/// A regular file under /usr/share, outside the default prefixes.
fn usr_share_file() -> PathBuf {
    fn walk(d: &Path, depth: u32) -> Option<PathBuf> {
        let mut entries: Vec<_> = std::fs::read_dir(d).ok()?.flatten().collect();
        entries.sort_by_key(|e| e.file_name());
        for e in &entries {
            let ft = e.file_type().ok()?;
            if ft.is_file() && e.metadata().map(|m| m.len() > 0).unwrap_or(false) {
                return Some(e.path());
            }
        }
        if depth == 0 {
            return None;
        }
        entries
            .iter()
            .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
            .find_map(|e| walk(&e.path(), depth - 1))
    }
    let f = walk(Path::new("/usr/share"), 3).expect("a regular file under /usr/share");
    std::fs::canonicalize(f).expect("canonicalize")
}

#[test]
fn default_prefixes_filter_in_kernel_and_all_paths_does_not() {
    if !root_or_skip("default_prefixes_filter_in_kernel_and_all_paths_does_not") {
        return;
    }
    let f = usr_share_file();
    assert!(!f.starts_with("/etc") && !f.starts_with("/tmp"), "{f:?}");
    let fs = s(&f);

    let r = record(&[], &["cat", &fs], None);
    assert_eq!(r.code(), Some(0), "{}", r.stderr());
    assert!(opens(&r, &fs).is_empty(), "{}", r.dump());
    // The filter is on, not the whole family off: the loader's cache is under /etc.
    assert!(!opens(&r, "/etc/ld.so.cache").is_empty(), "{}", r.dump());
    // No path outside the defaults got through (none of them has a `*` but one).
    for e in &r.events {
        if let EventKind::Open(o) = &e.kind {
            let p = o.path.display();
            assert!(
                DEFAULT_PATH_PREFIXES
                    .iter()
                    .any(|d| p.starts_with(d) || (d.contains('*') && p.starts_with("/home/"))),
                "{p}"
            );
        }
    }
    let set = TraceSet::open(&[&r.trace]).expect("open trace");
    let filters = &set.segments[0].meta.capture.filters;
    let want: Vec<String> = DEFAULT_PATH_PREFIXES
        .iter()
        .map(|p| format!("path-prefix={p}"))
        .collect();
    let got: Vec<String> = filters
        .iter()
        .filter(|f| f.starts_with("path-prefix="))
        .cloned()
        .collect();
    assert_eq!(got, want);
    assert!(got.contains(&"path-prefix=/home/*/.ssh".to_string()));

    let r = record(&["--all-paths"], &["cat", &fs], None);
    assert_eq!(r.code(), Some(0), "{}", r.stderr());
    let o = opens(&r, &fs);
    assert_eq!(o.len(), 1, "{}", r.dump());
    assert!(o[0].1.ret >= 0);
    assert_eq!(o[0].1.ino, std::fs::metadata(&f).expect("stat").ino());
    let set = TraceSet::open(&[&r.trace]).expect("open trace");
    assert!(!set.segments[0]
        .meta
        .capture
        .filters
        .iter()
        .any(|f| f.starts_with("path-prefix=")));
}

#[test]
fn path_prefix_with_a_wildcard_component() {
    if !root_or_skip("path_prefix_with_a_wildcard_component") {
        return;
    }
    let (_keep, dir) = tmp_dir();
    for sub in ["keep", "drop"] {
        std::fs::create_dir_all(dir.join("one").join(sub)).expect("mkdir");
        std::fs::write(dir.join("one").join(sub).join("f"), "x").expect("write");
    }
    let prefix = format!("{}/*/keep", s(&dir));
    let r = record(
        &["--path-prefix", &prefix],
        &["cat", "one/keep/f", "one/drop/f"],
        Some(&dir),
    );
    assert_eq!(r.code(), Some(0), "{}", r.stderr());
    let keep = s(&dir.join("one/keep/f"));
    assert_eq!(opens(&r, &keep).len(), 1, "{}", r.dump());
    let opened: Vec<String> = r
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Open(o) => Some(o.path.display()),
            _ => None,
        })
        .collect();
    assert_eq!(
        opened,
        vec![keep],
        "only the matching path, not /etc either"
    );
    let set = TraceSet::open(&[&r.trace]).expect("open trace");
    assert_eq!(
        set.segments[0]
            .meta
            .capture
            .filters
            .iter()
            .filter(|f| f.starts_with("path-prefix="))
            .collect::<Vec<_>>(),
        vec![&format!("path-prefix={prefix}")]
    );
}

#[test]
fn open_through_a_symlinked_dir_records_the_real_path() {
    if !root_or_skip("open_through_a_symlinked_dir_records_the_real_path") {
        return;
    }
    let (_keep, dir) = tmp_dir();
    std::fs::create_dir(dir.join("real")).expect("mkdir");
    std::fs::write(dir.join("real/f"), "x").expect("write");
    std::os::unix::fs::symlink("real", dir.join("link")).expect("symlink");
    let via = s(&dir.join("link/f"));
    let r = record(&[], &["cat", &via], None);
    assert_eq!(r.code(), Some(0), "{}", r.stderr());
    let real = s(&dir.join("real/f"));
    let o = opens(&r, &real);
    assert_eq!(o.len(), 1, "{}", r.dump());
    assert!(o[0].1.ret >= 0);
    assert!(opens(&r, &via).is_empty(), "{}", r.dump());
}

#[test]
fn file_class_off_records_no_file_events() {
    if !root_or_skip("file_class_off_records_no_file_events") {
        return;
    }
    let r = record(
        &["--classes", "process", "--all-paths"],
        &["cat", "/etc/passwd"],
        None,
    );
    assert_eq!(r.code(), Some(0), "{}", r.stderr());
    assert_eq!(r.execs("/cat").len(), 1, "{}", r.dump());
    assert!(
        !r.events.iter().any(|e| matches!(
            e.kind,
            EventKind::Open(_)
                | EventKind::Unlink(_)
                | EventKind::Rename(_)
                | EventKind::Chmod(_)
                | EventKind::Chown(_)
        )),
        "{}",
        r.dump()
    );
}
