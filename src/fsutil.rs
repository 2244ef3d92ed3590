//! Writing output files so that nothing is ever half written: a temporary file in the same
//! directory, flushed and synced, then renamed over the target. The new file gets the mode an
//! ordinary write would give it: an existing file's mode, else 0666 less the umask (a temporary
//! file alone would be 0600, unreadable to a later step running as another user).

use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};

/// Writes `bytes` to `path` atomically: readers see the old file or the whole new one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let fail = |what: &str, e: std::io::Error| {
        Error::input_with(format!("failed to write `{}`: {what}", path.display()), e)
    };
    let existing = std::fs::metadata(path).ok().map(|m| m.permissions());
    let mut builder = tempfile::Builder::new();
    builder.prefix(".ecs-ship-");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // open(2) applies the umask to this mode, as it does for any new file.
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let mut tmp = builder
        .tempfile_in(dir)
        .map_err(|e| fail("cannot create a temporary file beside it", e))?;
    if let Some(mode) = existing {
        tmp.as_file()
            .set_permissions(mode)
            .map_err(|e| fail("cannot keep the file's mode", e))?;
    }
    tmp.write_all(bytes).map_err(|e| fail("cannot write", e))?;
    tmp.as_file()
        .sync_all()
        .map_err(|e| fail("cannot sync", e))?;
    tmp.persist(path)
        .map_err(|e| fail("cannot rename into place", e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_file_whole_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.json");
        std::fs::write(&path, "old").unwrap();
        write_atomic(&path, b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn a_new_file_follows_the_umask_and_an_existing_file_keeps_its_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        // What a plain write gives a new file under this process's umask.
        let plain = dir.path().join("plain");
        std::fs::write(&plain, "x").unwrap();
        let new = dir.path().join("new.json");
        write_atomic(&new, b"{}").unwrap();
        assert_eq!(mode(&new), mode(&plain));
        let existing = dir.path().join("existing.json");
        std::fs::write(&existing, "old").unwrap();
        std::fs::set_permissions(&existing, std::fs::Permissions::from_mode(0o640)).unwrap();
        write_atomic(&existing, b"new").unwrap();
        assert_eq!(mode(&existing), 0o640);
    }

    #[test]
    fn a_missing_directory_is_an_input_error_naming_the_path() {
        let err = write_atomic(Path::new("/nonexistent-dir/x.json"), b"{}").unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("/nonexistent-dir/x.json"), "{err}");
    }
}
