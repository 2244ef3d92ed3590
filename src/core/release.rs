//! The decisions of a release: which steps run and which only say what they would do (a dry run
//! changes nothing), and whether an earlier push can be reused instead of building again.

use std::fmt;

use serde::Serialize;

/// The steps, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    Check,
    Build,
    Push,
    Imagedefs,
    Register,
    BeforeDeploy,
    Deploy,
}

impl Step {
    pub fn name(self) -> &'static str {
        match self {
            Step::Check => "check",
            Step::Build => "build",
            Step::Push => "push",
            Step::Imagedefs => "imagedefs",
            Step::Register => "register",
            Step::BeforeDeploy => "pre-deploy",
            Step::Deploy => "deploy",
        }
    }
}

/// `--dry-run`: nothing at all is created, pushed, registered, updated or written; `--dry-run=build`
/// also builds the image on the local engine (and records nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DryRun {
    #[default]
    Off,
    Plan,
    Build,
}

/// How a step runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// For real.
    Run,
    /// Reads only, and says what it would do.
    Pretend,
}

/// The steps of a release and how each runs. Checking reads only, so it always runs; a dry run
/// pretends every step that writes anywhere (registry, ECR, ECS, CloudWatch Logs, the working
/// directory), and builds only with `--dry-run=build`.
pub fn steps(dry_run: DryRun, deploy: bool, before_deploy: bool) -> Vec<(Step, Mode)> {
    let writes = if dry_run == DryRun::Off {
        Mode::Run
    } else {
        Mode::Pretend
    };
    let build = if dry_run == DryRun::Plan {
        Mode::Pretend
    } else {
        Mode::Run
    };
    let mut steps = vec![
        (Step::Check, Mode::Run),
        (Step::Build, build),
        (Step::Push, writes),
        (Step::Imagedefs, writes),
    ];
    if deploy {
        steps.push((Step::Register, writes));
        if before_deploy {
            steps.push((Step::BeforeDeploy, writes));
        }
        steps.push((Step::Deploy, writes));
    }
    steps
}

/// What the state file records of an earlier run.
#[derive(Debug, Clone, Copy, Default)]
pub struct Recorded<'a> {
    /// The repository built for, and the fingerprint of what the build saw.
    pub built: Option<(&'a str, Option<&'a str>)>,
    /// The repository pushed to, and `repository@digest`.
    pub pushed: Option<(&'a str, &'a str)>,
}

/// Why the release builds (and pushes) again instead of reusing an earlier push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildReason {
    Rebuild,
    NoEarlierBuild,
    NeverPushed,
    OtherRepository { recorded: String },
    ContextChanged { image: String },
    Moved { image: String, now: String },
    NotInRegistry { image: String, why: String },
}

impl fmt::Display for BuildReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildReason::Rebuild => write!(f, "--rebuild builds again"),
            BuildReason::NoEarlierBuild => write!(f, "the state file records no earlier build"),
            BuildReason::NeverPushed => {
                write!(f, "the state file records a build that was never pushed")
            }
            BuildReason::OtherRepository { recorded } => {
                write!(f, "the state file records a push to {recorded}")
            }
            BuildReason::ContextChanged { image } => write!(
                f,
                "the context or build options changed since {image} was built"
            ),
            BuildReason::Moved { image, now } => write!(f, "{image} now resolves to {now}"),
            BuildReason::NotInRegistry { image, why } => write!(
                f,
                "{image} recorded in the state file is not in the registry ({why})"
            ),
        }
    }
}

/// The earlier push to ask the registry about, or why to build. `repository` and `fingerprint`
/// are this run's.
pub fn reusable<'a>(
    rebuild: bool,
    recorded: Recorded<'a>,
    repository: &str,
    fingerprint: &str,
) -> Result<&'a str, BuildReason> {
    if rebuild {
        return Err(BuildReason::Rebuild);
    }
    let (built, pushed) = match (recorded.built, recorded.pushed) {
        (None, _) => return Err(BuildReason::NoEarlierBuild),
        (Some(_), None) => return Err(BuildReason::NeverPushed),
        (Some(b), Some(p)) => (b, p),
    };
    if built.0 != repository || pushed.0 != repository {
        return Err(BuildReason::OtherRepository {
            recorded: pushed.0.to_owned(),
        });
    }
    if built.1 != Some(fingerprint) {
        return Err(BuildReason::ContextChanged {
            image: pushed.1.to_owned(),
        });
    }
    Ok(pushed.1)
}

/// What the registry said about the recorded image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryAnswer {
    /// Its verified digest now.
    Digest(String),
    /// It could not be read: why.
    Missing(String),
}

/// Whether the recorded `image` (pinned to `recorded_digest`) is still what the registry holds.
pub fn still_there(
    image: &str,
    recorded_digest: &str,
    answer: RegistryAnswer,
) -> Result<(), BuildReason> {
    match answer {
        RegistryAnswer::Digest(d) if d == recorded_digest => Ok(()),
        RegistryAnswer::Digest(now) => Err(BuildReason::Moved {
            image: image.to_owned(),
            now,
        }),
        RegistryAnswer::Missing(why) => Err(BuildReason::NotInRegistry {
            image: image.to_owned(),
            why,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dry_run_pretends_every_step_that_writes() {
        use Mode::*;
        use Step::*;
        type Case<'a> = (DryRun, bool, bool, &'a [(Step, Mode)]);
        let cases: &[Case] = &[
            (
                DryRun::Off,
                true,
                true,
                &[
                    (Check, Run),
                    (Build, Run),
                    (Push, Run),
                    (Imagedefs, Run),
                    (Register, Run),
                    (BeforeDeploy, Run),
                    (Deploy, Run),
                ],
            ),
            (
                DryRun::Plan,
                true,
                false,
                &[
                    (Check, Run),
                    (Build, Pretend),
                    (Push, Pretend),
                    (Imagedefs, Pretend),
                    (Register, Pretend),
                    (Deploy, Pretend),
                ],
            ),
            (
                DryRun::Build,
                true,
                true,
                &[
                    (Check, Run),
                    (Build, Run),
                    (Push, Pretend),
                    (Imagedefs, Pretend),
                    (Register, Pretend),
                    (BeforeDeploy, Pretend),
                    (Deploy, Pretend),
                ],
            ),
            (
                DryRun::Off,
                false,
                false,
                &[(Check, Run), (Build, Run), (Push, Run), (Imagedefs, Run)],
            ),
        ];
        for (dry, deploy, before, want) in cases {
            assert_eq!(
                steps(*dry, *deploy, *before),
                want.to_vec(),
                "{dry:?} {deploy} {before}"
            );
        }
    }

    #[test]
    fn each_reason_to_build_again() {
        const IMAGE: &str = "r/api@sha256:aa";
        let full = Recorded {
            built: Some(("r/api", Some("fp"))),
            pushed: Some(("r/api", IMAGE)),
        };
        let cases = [
            (true, full, "r/api", "fp", Err(BuildReason::Rebuild)),
            (
                false,
                Recorded::default(),
                "r/api",
                "fp",
                Err(BuildReason::NoEarlierBuild),
            ),
            (
                false,
                Recorded {
                    pushed: None,
                    ..full
                },
                "r/api",
                "fp",
                Err(BuildReason::NeverPushed),
            ),
            (
                false,
                full,
                "r/other",
                "fp",
                Err(BuildReason::OtherRepository {
                    recorded: "r/api".into(),
                }),
            ),
            (
                false,
                full,
                "r/api",
                "changed",
                Err(BuildReason::ContextChanged {
                    image: IMAGE.into(),
                }),
            ),
            (
                false,
                Recorded {
                    built: Some(("r/api", None)),
                    ..full
                },
                "r/api",
                "fp",
                Err(BuildReason::ContextChanged {
                    image: IMAGE.into(),
                }),
            ),
            (false, full, "r/api", "fp", Ok(IMAGE)),
        ];
        for (rebuild, recorded, repository, fingerprint, want) in cases {
            assert_eq!(
                reusable(rebuild, recorded, repository, fingerprint),
                want,
                "{rebuild} {recorded:?} {repository} {fingerprint}"
            );
        }
    }

    #[test]
    fn the_registry_decides_whether_the_recorded_image_is_still_there() {
        let cases = [
            (RegistryAnswer::Digest("sha256:aa".into()), Ok(())),
            (
                RegistryAnswer::Digest("sha256:bb".into()),
                Err(BuildReason::Moved {
                    image: "r/api@sha256:aa".into(),
                    now: "sha256:bb".into(),
                }),
            ),
            (
                RegistryAnswer::Missing("manifest unknown".into()),
                Err(BuildReason::NotInRegistry {
                    image: "r/api@sha256:aa".into(),
                    why: "manifest unknown".into(),
                }),
            ),
        ];
        for (answer, want) in cases {
            assert_eq!(
                still_there("r/api@sha256:aa", "sha256:aa", answer.clone()),
                want,
                "{answer:?}"
            );
        }
        assert_eq!(
            BuildReason::ContextChanged {
                image: "r/api@sha256:aa".into()
            }
            .to_string(),
            "the context or build options changed since r/api@sha256:aa was built"
        );
    }
}
