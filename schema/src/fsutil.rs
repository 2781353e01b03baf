//! Creating files that hold evidence. A trace holds command lines, payloads and
//! sometimes credentials; so do the SQLite databases, Parquet tables and reports made
//! from it. Every file Rewind writes is created through here: owner read/write only
//! (0600), directories it creates owner-only (0700), whatever the umask, and files that
//! already existed (overwritten with `--force`) or that a library created are set to
//! 0600 explicitly (issue 14, point 9).

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::Path;

/// Mode of every file Rewind writes.
pub const FILE_MODE: u32 = 0o600;
/// Mode of every directory Rewind creates.
pub const DIR_MODE: u32 = 0o700;

/// How [`create_private`] treats an existing file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// Fail with `AlreadyExists`.
    Refuse,
    /// Truncate it (and make it private).
    Truncate,
}

/// Creates `path` for writing, mode 0600 regardless of the umask.
pub fn create_private(path: &Path, existing: Existing) -> io::Result<File> {
    let mut oo = OpenOptions::new();
    oo.write(true);
    match existing {
        Existing::Refuse => oo.create_new(true),
        Existing::Truncate => oo.create(true).truncate(true),
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        oo.mode(FILE_MODE);
    }
    let f = oo.open(path)?;
    // The mode given to open(2) is masked by the umask, and ignored for a file that
    // already existed: set it on the open file itself.
    set_mode(&f, FILE_MODE)?;
    Ok(f)
}

/// Makes an existing file (one a library such as SQLite created) 0600.
pub fn make_private(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(FILE_MODE))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Creates the directory `path` (its parent must exist), mode 0700 regardless of the
/// umask.
pub fn create_private_dir(path: &Path) -> io::Result<()> {
    let mut b = fs::DirBuilder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(DIR_MODE);
    }
    b.create(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(DIR_MODE))?;
    }
    Ok(())
}

/// Creates `path` and every missing parent; the directories it creates are 0700,
/// existing ones are left as they are.
pub fn create_private_dir_all(path: &Path) -> io::Result<()> {
    if path.as_os_str().is_empty() || path.is_dir() {
        return Ok(());
    }
    if let Some(parent) = path.parent() {
        create_private_dir_all(parent)?;
    }
    match create_private_dir(path) {
        // Created meanwhile by someone else: fine if it is a directory.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && path.is_dir() => Ok(()),
        r => r,
    }
}

fn set_mode(f: &File, mode: u32) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(fs::Permissions::from_mode(mode))?;
    }
    #[cfg(not(unix))]
    let _ = (f, mode);
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        fs::metadata(p).expect("metadata").permissions().mode() & 0o7777
    }

    #[test]
    fn files_and_dirs_are_private_even_when_they_existed() {
        let d = tempfile::tempdir().expect("tempdir");
        let f = d.path().join("new");
        drop(create_private(&f, Existing::Refuse).expect("create"));
        assert_eq!(mode(&f), 0o600);
        assert_eq!(
            create_private(&f, Existing::Refuse)
                .map(|_| ())
                .expect_err("exists")
                .kind(),
            io::ErrorKind::AlreadyExists
        );
        let old = d.path().join("old");
        fs::write(&old, b"x").expect("write");
        fs::set_permissions(&old, fs::Permissions::from_mode(0o666)).expect("chmod");
        drop(create_private(&old, Existing::Truncate).expect("truncate"));
        assert_eq!(mode(&old), 0o600);
        let deep = d.path().join("a/b/c");
        create_private_dir_all(&deep).expect("mkdir -p");
        for p in ["a", "a/b", "a/b/c"] {
            assert_eq!(mode(&d.path().join(p)), 0o700, "{p}");
        }
        create_private_dir_all(&deep).expect("exists already");
    }
}
