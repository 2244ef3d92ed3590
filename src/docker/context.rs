//! The build context: which files go to the engine (Docker's `.dockerignore` rules, see
//! `core::dockerignore`) and the tar that carries them, streamed as it is written so memory stays
//! flat however large the context.
//!
//! Like `docker build`: entries sorted, owned by uid/gid 0, symlinks archived as links and never
//! followed out of the context, an excluded directory skipped whole unless a `!` pattern reaches
//! into it, the Dockerfile and `.dockerignore` always sent, `<Dockerfile>.dockerignore` preferred
//! over `<context>/.dockerignore`, and a Dockerfile outside the context added under a generated name.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use crate::core::dockerignore::{self, Matcher};
use crate::error::{Error, Result};

/// What will be sent, decided before anything is read for the tar.
#[derive(Debug, Clone)]
pub struct ContextPlan {
    pub dir: PathBuf,
    /// The Dockerfile's name inside the tar (the `dockerfile` build parameter).
    pub dockerfile_in_tar: String,
    /// A Dockerfile from outside the context, added to the tar under `dockerfile_in_tar`.
    pub external_dockerfile: Option<Vec<u8>>,
    /// Which .dockerignore was used, if any.
    pub ignore_file: Option<PathBuf>,
    matcher: Matcher,
}

/// Decides the context: `dir` must be a directory; `dockerfile` (relative to the working directory,
/// as with `docker build -f`) defaults to `<dir>/Dockerfile`.
pub fn plan(dir: &Path, dockerfile: Option<&Path>) -> Result<ContextPlan> {
    let meta = fs::metadata(dir).map_err(|e| {
        Error::input_with(
            format!("build context `{}` cannot be read", dir.display()),
            e,
        )
    })?;
    if !meta.is_dir() {
        return Err(Error::input(format!(
            "build context `{}` is not a directory",
            dir.display()
        )));
    }
    let dir = dir.canonicalize().map_err(|e| {
        Error::input_with(
            format!("build context `{}` cannot be resolved", dir.display()),
            e,
        )
    })?;
    let dockerfile_path = dockerfile.map_or_else(|| dir.join("Dockerfile"), Path::to_path_buf);
    let dockerfile_abs = dockerfile_path.canonicalize().map_err(|e| {
        Error::input_with(
            format!(
                "Dockerfile `{}` not found (use -f/--file to name another)",
                dockerfile_path.display()
            ),
            e,
        )
    })?;
    if !dockerfile_abs.is_file() {
        return Err(Error::input(format!(
            "Dockerfile `{}` is not a file",
            dockerfile_path.display()
        )));
    }

    let (dockerfile_in_tar, external_dockerfile) = match dockerfile_abs.strip_prefix(&dir) {
        Ok(rel) => (slash_path(rel), None),
        Err(_) => {
            let bytes = fs::read(&dockerfile_abs).map_err(|e| {
                Error::input_with(
                    format!("cannot read Dockerfile `{}`", dockerfile_path.display()),
                    e,
                )
            })?;
            let name = format!(".dockerfile.{}", &hex::encode(Sha256::digest(&bytes))[..20]);
            (name, Some(bytes))
        }
    };

    // BuildKit's rule, which today's `docker build` follows: <Dockerfile>.dockerignore wins.
    let beside = PathBuf::from(format!("{}.dockerignore", dockerfile_abs.display()));
    let ignore_file = [beside, dir.join(".dockerignore")]
        .into_iter()
        .find(|p| p.is_file());
    let mut patterns = match &ignore_file {
        Some(path) => {
            let text = fs::read_to_string(path)
                .map_err(|e| Error::input_with(format!("cannot read `{}`", path.display()), e))?;
            dockerignore::read_patterns(&text)
        }
        None => Vec::new(),
    };
    dockerignore::keep_build_files(&mut patterns, &dockerfile_in_tar)
        .map_err(|e| Error::input(e.to_string()))?;
    let matcher = Matcher::new(&patterns).map_err(|e| Error::input(e.to_string()))?;
    let plan = ContextPlan {
        dir,
        dockerfile_in_tar,
        external_dockerfile,
        ignore_file,
        matcher,
    };
    // Names only (no content is read): a bad one is found before the engine is asked.
    plan.walk(|_, _| Ok(()))?;
    Ok(plan)
}

fn slash_path(p: &Path) -> String {
    p.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// What was sent.
#[derive(Debug, Default, Clone, Copy)]
pub struct ContextStats {
    pub files: u64,
    pub bytes: u64,
}

impl ContextPlan {
    /// The relative paths that will be sent, in tar order (for tests and `--dry-run`-like checks).
    pub fn files(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        self.walk(|rel, _entry| {
            out.push(rel.to_owned());
            Ok(())
        })?;
        Ok(out)
    }

    fn walk(&self, mut visit: impl FnMut(&str, &walkdir::DirEntry) -> Result<()>) -> Result<()> {
        let mut it = walkdir::WalkDir::new(&self.dir)
            .follow_links(false)
            .sort_by_file_name()
            .min_depth(1)
            .into_iter();
        while let Some(entry) = it.next() {
            let entry = entry.map_err(|e| {
                Error::input_with(
                    format!("cannot read the build context `{}`", self.dir.display()),
                    e,
                )
            })?;
            let rel = slash_path(
                entry
                    .path()
                    .strip_prefix(&self.dir)
                    .expect("walkdir stays under its root"),
            );
            if self.matcher.excludes(&rel) {
                if entry.file_type().is_dir() && self.matcher.can_skip_dir(&rel) {
                    it.skip_current_dir();
                }
                continue;
            }
            // A name that is not UTF-8 would be sent renamed (U+FFFD), and two such names could
            // collide: refuse it, naming it.
            if entry.file_name().to_str().is_none() {
                return Err(Error::input(format!(
                    "build context `{}`: the file name `{rel}` is not UTF-8: rename it, or exclude it in .dockerignore",
                    self.dir.display()
                )));
            }
            visit(&rel, &entry)?;
        }
        Ok(())
    }

    /// A sha256 over what the build would see: each path sent, its kind, its executable bit, its
    /// content or link target, and an external Dockerfile. Times and owners are left out, so a fresh
    /// checkout of the same commit has the same fingerprint.
    pub fn fingerprint(&self) -> Result<String> {
        let mut hasher = Sha256::new();
        self.walk(|rel, entry| {
            let ft = entry.file_type();
            hasher.update(rel.as_bytes());
            hasher.update([0]);
            if ft.is_symlink() {
                let target = fs::read_link(entry.path())
                    .map_err(|e| Error::input_with(format!("cannot read link `{rel}`"), e))?;
                hasher.update(b"l");
                hasher.update(target.as_os_str().as_encoded_bytes());
            } else if ft.is_dir() {
                hasher.update(b"d");
            } else if ft.is_file() {
                let meta = entry
                    .metadata()
                    .map_err(|e| Error::input_with(format!("cannot stat `{rel}`"), e))?;
                #[cfg(unix)]
                let exec =
                    std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o111 != 0;
                #[cfg(not(unix))]
                let exec = false;
                hasher.update(if exec { b"x" } else { b"f" });
                let mut file = fs::File::open(entry.path())
                    .map_err(|e| Error::input_with(format!("cannot read `{rel}`"), e))?;
                io::copy(&mut file, &mut HashWriter(&mut hasher))
                    .map_err(|e| Error::input_with(format!("cannot read `{rel}`"), e))?;
            }
            hasher.update([0]);
            Ok(())
        })?;
        hasher.update(self.dockerfile_in_tar.as_bytes());
        if let Some(bytes) = &self.external_dockerfile {
            hasher.update(bytes);
        }
        Ok(format!("sha256:{}", hex::encode(hasher.finalize())))
    }

    /// Writes the tar to `out`.
    pub fn write_tar(&self, out: impl Write) -> Result<ContextStats> {
        let mut tar = tar::Builder::new(out);
        tar.follow_symlinks(false);
        let mut stats = ContextStats::default();
        let io_err = |what: String| move |e: io::Error| Error::input_with(what, e);
        let mut wrote_ignore = false;
        let extra_ignore = self
            .external_dockerfile
            .as_ref()
            .map(|_| format!("\n{}\n", self.dockerfile_in_tar));
        self.walk(|rel, entry| {
            let meta = entry
                .metadata()
                .map_err(|e| Error::input_with(format!("cannot stat `{rel}`"), e))?;
            let mut header = tar::Header::new_gnu();
            header.set_metadata_in_mode(&meta, tar::HeaderMode::Complete);
            header.set_uid(0);
            header.set_gid(0);
            let ft = entry.file_type();
            if ft.is_symlink() {
                let target = fs::read_link(entry.path())
                    .map_err(io_err(format!("cannot read link `{rel}`")))?;
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_size(0);
                tar.append_link(&mut header, rel, &target)
                    .map_err(io_err(format!("cannot archive `{rel}`")))?;
            } else if ft.is_dir() {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_size(0);
                tar.append_data(&mut header, format!("{rel}/"), io::empty())
                    .map_err(io_err(format!("cannot archive `{rel}`")))?;
            } else if ft.is_file() {
                if rel == ".dockerignore"
                    && let Some(extra) = &extra_ignore
                {
                    let mut content =
                        fs::read(entry.path()).map_err(io_err(format!("cannot read `{rel}`")))?;
                    content.extend_from_slice(extra.as_bytes());
                    header.set_size(content.len() as u64);
                    tar.append_data(&mut header, rel, content.as_slice())
                        .map_err(io_err(format!("cannot archive `{rel}`")))?;
                    wrote_ignore = true;
                } else {
                    let file = fs::File::open(entry.path())
                        .map_err(io_err(format!("cannot read `{rel}`")))?;
                    tar.append_data(&mut header, rel, file)
                        .map_err(io_err(format!("cannot archive `{rel}`")))?;
                }
                stats.files += 1;
                stats.bytes += meta.len();
            }
            // Sockets and devices are not build inputs; Docker skips sockets too.
            Ok(())
        })?;
        if let (Some(bytes), Some(extra)) = (&self.external_dockerfile, &extra_ignore) {
            append_bytes(&mut tar, &self.dockerfile_in_tar, bytes)?;
            if !wrote_ignore {
                append_bytes(&mut tar, ".dockerignore", extra.as_bytes())?;
            }
        }
        tar.into_inner()
            .and_then(|mut w| w.flush())
            .map_err(|e| Error::input_with("cannot finish the context tar", e))?;
        Ok(stats)
    }

    /// Streams the tar through a bounded channel: the walk runs on a blocking thread while the
    /// engine reads, so reading files overlaps the upload and at most a few chunks are in memory.
    pub fn stream(
        self,
    ) -> (
        mpsc::Receiver<io::Result<Bytes>>,
        tokio::task::JoinHandle<Result<ContextStats>>,
    ) {
        let (tx, rx) = mpsc::channel(8);
        let handle = tokio::task::spawn_blocking(move || {
            let writer = io::BufWriter::with_capacity(256 * 1024, ChannelWriter { tx: tx.clone() });
            let result = self.write_tar(writer);
            if let Err(e) = &result {
                let _ = tx.blocking_send(Err(io::Error::other(e.to_string())));
            }
            result
        });
        (rx, handle)
    }
}

struct HashWriter<'a>(&'a mut Sha256);

impl Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn append_bytes<W: Write>(tar: &mut tar::Builder<W>, name: &str, bytes: &[u8]) -> Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_mode(0o644);
    header.set_size(bytes.len() as u64);
    header.set_entry_type(tar::EntryType::Regular);
    tar.append_data(&mut header, name, bytes)
        .map_err(|e| Error::input_with(format!("cannot archive `{name}`"), e))
}

struct ChannelWriter {
    tx: mpsc::Sender<io::Result<Bytes>>,
}

impl Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.tx
            .blocking_send(Ok(Bytes::copy_from_slice(buf)))
            .map_err(|_| {
                io::Error::new(
                    io::ErrorKind::BrokenPipe,
                    "the engine stopped reading the build context",
                )
            })?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (path, content) in files {
            let p = dir.path().join(path);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, content).unwrap();
        }
        dir
    }

    fn tar_names(plan: &ContextPlan) -> Vec<String> {
        let mut buf = Vec::new();
        plan.write_tar(&mut buf).unwrap();
        let mut archive = tar::Archive::new(buf.as_slice());
        archive
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn dockerignore_decides_what_is_sent() {
        let dir = tree(&[
            ("Dockerfile", "FROM scratch\n"),
            (
                ".dockerignore",
                "*.log\n**/*.tmp\nnode_modules\ndocs\n!docs/keep.md\n",
            ),
            ("app.py", "x"),
            ("debug.log", "x"),
            ("sub/debug.log", "kept: *.log is anchored at the root"),
            ("sub/a.tmp", "x"),
            ("node_modules/m/index.js", "x"),
            ("docs/keep.md", "x"),
            ("docs/drop.md", "x"),
        ]);
        let plan = plan(dir.path(), None).unwrap();
        assert_eq!(
            plan.files().unwrap(),
            [
                ".dockerignore",
                "Dockerfile",
                "app.py",
                "docs/keep.md",
                "sub",
                "sub/debug.log"
            ]
        );
        assert_eq!(
            tar_names(&plan),
            [
                ".dockerignore",
                "Dockerfile",
                "app.py",
                "docs/keep.md",
                "sub/",
                "sub/debug.log"
            ]
        );
    }

    #[test]
    fn the_dockerfile_and_ignore_file_are_sent_even_when_excluded() {
        let dir = tree(&[
            ("Dockerfile", "FROM scratch\n"),
            (".dockerignore", "*\n"),
            ("src/main.rs", "x"),
        ]);
        assert_eq!(
            plan(dir.path(), None).unwrap().files().unwrap(),
            [".dockerignore", "Dockerfile"]
        );
    }

    #[test]
    fn a_dockerfile_specific_ignore_file_wins() {
        let dir = tree(&[
            ("docker/app.Dockerfile", "FROM scratch\n"),
            ("docker/app.Dockerfile.dockerignore", "secret.txt\n"),
            (".dockerignore", "app.py\n"),
            ("app.py", "x"),
            ("secret.txt", "x"),
        ]);
        let df = dir.path().join("docker/app.Dockerfile");
        let plan = plan(dir.path(), Some(&df)).unwrap();
        assert_eq!(plan.dockerfile_in_tar, "docker/app.Dockerfile");
        let files = plan.files().unwrap();
        assert!(
            files.contains(&"app.py".to_owned()) && !files.contains(&"secret.txt".to_owned()),
            "{files:?}"
        );
    }

    #[test]
    fn a_dockerfile_outside_the_context_is_added_and_ignored_by_copy() {
        let dir = tree(&[
            ("ctx/app.py", "x"),
            ("elsewhere/Dockerfile", "FROM scratch\nCOPY . /\n"),
        ]);
        let plan = plan(
            &dir.path().join("ctx"),
            Some(&dir.path().join("elsewhere/Dockerfile")),
        )
        .unwrap();
        assert!(
            plan.dockerfile_in_tar.starts_with(".dockerfile."),
            "{}",
            plan.dockerfile_in_tar
        );
        let mut buf = Vec::new();
        plan.write_tar(&mut buf).unwrap();
        let mut archive = tar::Archive::new(buf.as_slice());
        let mut contents = std::collections::BTreeMap::new();
        for e in archive.entries().unwrap() {
            let mut e = e.unwrap();
            let name = e.path().unwrap().to_string_lossy().into_owned();
            let mut s = String::new();
            io::Read::read_to_string(&mut e, &mut s).unwrap();
            contents.insert(name, s);
        }
        assert_eq!(
            contents[&plan.dockerfile_in_tar],
            "FROM scratch\nCOPY . /\n"
        );
        assert!(contents[".dockerignore"].contains(&plan.dockerfile_in_tar));
    }

    #[test]
    fn symlinks_are_archived_as_links_not_followed() {
        let dir = tree(&[("Dockerfile", "FROM scratch\n")]);
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join("escape")).unwrap();
        let plan = plan(dir.path(), None).unwrap();
        let mut buf = Vec::new();
        plan.write_tar(&mut buf).unwrap();
        let mut archive = tar::Archive::new(buf.as_slice());
        let link = archive
            .entries()
            .unwrap()
            .map(|e| e.unwrap())
            .find(|e| e.path().unwrap().to_str() == Some("escape"))
            .unwrap();
        assert_eq!(link.header().entry_type(), tar::EntryType::Symlink);
        assert_eq!(
            link.header().size().unwrap(),
            0,
            "the target's contents are not read"
        );
        assert_eq!(
            link.link_name().unwrap().unwrap().to_str(),
            Some("/etc/passwd")
        );
    }

    #[test]
    fn missing_context_and_dockerfile_are_input_errors() {
        let err = plan(Path::new("/nonexistent/ctx"), None).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(
            err.to_string()
                .contains("build context `/nonexistent/ctx` cannot be read"),
            "{err}"
        );
        let dir = tree(&[("app.py", "x")]);
        let err = plan(dir.path(), None).unwrap_err();
        assert!(
            err.to_string().contains("Dockerfile") && err.to_string().contains("not found"),
            "{err}"
        );
    }
}
