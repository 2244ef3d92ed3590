//! The state file (`.ecs-ship/state.json` by default): what `build` made and `push` pushed, so a
//! later step - another buildspec phase, another Actions step - needs no flags repeated.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::fsutil::write_atomic;

pub const DEFAULT_PATH: &str = ".ecs-ship/state.json";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub build: Option<Built>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub push: Option<Pushed>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Built {
    pub image_id: String,
    pub repository: String,
    pub tags: Vec<String>,
    /// RFC 3339, the one timestamp of the run.
    pub created: String,
    pub revision: Option<String>,
    /// What the build saw (context files and build options), so a re-run of `release` can tell
    /// whether this image is still the one to ship.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub fingerprint: Option<String>,
    /// `--cache REPO:TAG` with an inline cache: `push` pushes the image there too, so the next
    /// build on a fresh runner imports its cache from it.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub cache_ref: Option<String>,
    /// `--platform a,b`: each platform's image; `push` pushes them and the index over them.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub platforms: Vec<PlatformImage>,
}

/// One platform's image of a multi-platform build.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformImage {
    /// `linux/arm64`.
    pub platform: String,
    pub image_id: String,
    /// The local `repository:<first tag>-<os>-<arch>` it is tagged as.
    pub reference: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pushed {
    pub repository: String,
    pub tags: Vec<String>,
    pub digest: String,
    /// `repository@digest`.
    pub image: String,
}

impl State {
    /// Reads the state file; a missing file is an empty state, a corrupt one an error naming it.
    pub fn load(path: &Path) -> Result<State> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(State::default()),
            Err(e) => {
                return Err(Error::input_with(
                    format!("cannot read state file `{}`", path.display()),
                    e,
                ));
            }
        };
        serde_json::from_str(&text).map_err(|e| {
            Error::input_with(
                format!(
                    "state file `{}` is corrupt ({e}): nothing was built over it; start clean with `ecs-ship release --rebuild` (which keeps it as `{}.corrupt`) or delete it and run `ecs-ship build` again",
                    path.display(),
                    path.display()
                ),
                e,
            )
        })
    }

    /// Fails now, naming the path, when the state could not be saved there later: a directory in
    /// its place, a parent that cannot be created, no permission to write.
    pub fn check_writable(path: &Path) -> Result<()> {
        if path.is_dir() {
            return Err(Error::input(format!(
                "state file `{}` is a directory: pass --state with a file path",
                path.display()
            )));
        }
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        std::fs::create_dir_all(dir).map_err(|e| {
            Error::input_with(
                format!("cannot create `{}` for the state file", dir.display()),
                e,
            )
        })?;
        tempfile::Builder::new()
            .prefix(".ecs-ship-check-")
            .tempfile_in(dir)
            .map(drop)
            .map_err(|e| {
                Error::input_with(
                    format!(
                        "cannot write the state file `{}` (no permission in `{}`?)",
                        path.display(),
                        dir.display()
                    ),
                    e,
                )
            })
    }

    /// Reads, changes and saves the state under an exclusive lock (`<path>.lock`), so two jobs
    /// sharing one state file never lose each other's write half-way.
    pub fn update(path: &Path, change: impl FnOnce(&mut State)) -> Result<()> {
        Self::check_writable(path)?;
        let lock_path = path.with_extension("lock");
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| Error::input_with(format!("cannot open `{}`", lock_path.display()), e))?;
        lock.lock()
            .map_err(|e| Error::input_with(format!("cannot lock `{}`", lock_path.display()), e))?;
        // A corrupt file is an error, never silently replaced by an empty state.
        let mut state = State::load(path)?;
        change(&mut state);
        state.save(path)
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                Error::input_with(
                    format!("cannot create `{}` for the state file", dir.display()),
                    e,
                )
            })?;
        }
        let text = serde_json::to_string_pretty(self).expect("state always serializes") + "\n";
        write_atomic(path, text.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_reports_corruption_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/state.json");
        assert_eq!(State::load(&path).unwrap(), State::default());
        let state = State {
            build: Some(Built {
                image_id: "sha256:1".into(),
                repository: "r".into(),
                tags: vec!["t".into()],
                created: "c".into(),
                revision: None,
                fingerprint: None,
                cache_ref: Some("r:buildcache".into()),
                platforms: vec![PlatformImage {
                    platform: "linux/arm64".into(),
                    image_id: "sha256:2".into(),
                    reference: "r:t-linux-arm64".into(),
                }],
            }),
            push: None,
        };
        state.save(&path).unwrap();
        assert_eq!(State::load(&path).unwrap(), state);
        std::fs::write(&path, "{\"build\": 3").unwrap();
        let err = State::load(&path).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("is corrupt"), "{err}");
    }
}
