//! A release to several targets (regions x accounts): every target reached and checked first (no
//! build for a release that cannot land anywhere), one build, one push to the --repository with
//! imagedefinitions.json, then in each target the image in its own ECR - pushed there (the
//! repository rewritten for its account and region), or, when the registry's replication
//! configuration copies it there, waited for by digest - verified by digest, registered from the
//! target's running revision and rolled out: one verdict table for all.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use tracing::info;

use super::Session;
use super::deploy::{self, Checked, DeployPlan};
use super::fleet::{self, Connected, FleetOptions, FleetResult};
use super::image::{self, PushRequest};
use super::release::{self, ReleasePlan, ReleaseResult};
use crate::aws;
use crate::core::image_ref::ImageRef;
use crate::core::release::DryRun;
use crate::core::targets::{self, Target};
use crate::error::{Error, Result};

/// How each target gets the image.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// How long a replica may take to appear in a target's registry.
    pub replica_timeout: Duration,
    /// How often to look for it.
    pub replica_poll: Duration,
}

/// A release to several targets.
#[derive(Debug, Serialize)]
pub struct FleetReleaseResult {
    /// The build, the push to --repository and the artifacts, as one release says them.
    pub release: ReleaseResult,
    /// Every target's image, revision and verdict.
    pub deploy: FleetResult,
    pub seconds: f64,
}

pub struct FleetReleased {
    pub result: FleetReleaseResult,
    pub failure: Option<Error>,
}

impl fmt::Display for FleetReleaseResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for step in &self.release.steps {
            writeln!(f, "{step}")?;
        }
        if let Some(image) = &self.release.image {
            writeln!(f, "image     {image}")?;
        }
        for t in &self.deploy.targets {
            if let Some(how) = &t.image {
                writeln!(f, "{:<9} {how}", t.target)?;
            }
        }
        write!(f, "{}", self.deploy)
    }
}

impl crate::output::Report for FleetReleaseResult {
    fn outputs(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if let Some(image) = &self.release.image {
            out.push(("image", image.clone()));
        }
        if let Some(digest) = &self.release.digest {
            out.push(("digest", digest.clone()));
        }
        if let Some(tag) = self.release.tags.first() {
            out.push(("image-tag", tag.clone()));
        }
        out.extend(self.deploy.outputs());
        out
    }

    fn summary(&self) -> Option<String> {
        let mut md = self.deploy.summary().unwrap_or_default();
        if let Some(image) = &self.release.image {
            md.push_str(&format!("\nimage: `{}`\n", image.replace('`', "'")));
        }
        Some(md.replace("ecs-ship deploy to", "ecs-ship release to"))
    }
}

/// Runs the release to every target; `Err` is never returned: a failure is `failure`, with the
/// worst exit code.
pub async fn release(
    session: &Session,
    plan: &ReleasePlan,
    targets: &[Target],
    plans: Vec<DeployPlan>,
    options: &FleetOptions,
    delivery: &Delivery,
) -> FleetReleased {
    let start = Instant::now();
    let dry = plan.dry_run != DryRun::Off;
    let plans: Vec<DeployPlan> = plans
        .into_iter()
        .map(|mut p| {
            p.register.dry_run = dry;
            p
        })
        .collect();
    // 1. Every target reached and checked (read-only: all at once, even with --sequential).
    let (reached, checked) = check_all(session, plan, targets, &plans, options).await;
    // 2. One build, one push to --repository, the artifacts - unless no target can take it.
    let (release_result, home_image) =
        match build_once(session, plan, targets, &reached, &checked, start).await {
            Ok(built) => built,
            Err(failed) => return *failed,
        };
    let rules = match &home_image {
        Some(image) => replication_rules(session, image).await,
        None => Vec::new(),
    };
    let rules = &rules;
    // 3. In each target: the image in its registry, then register and roll out.
    let reached = &reached;
    let checked = &checked;
    let plans_ref = &plans;
    let home_image = &home_image;
    let tags = &release_result.tags;
    let reach = |i: usize| async move {
        match &reached[i] {
            Ok(c) => Ok(c.clone()),
            Err(e) => Err(copy_error(e)),
        }
    };
    let outcomes = fleet::each_reached(targets, options, reach, |i, c| async move {
        let Some(home_image) = home_image else {
            return (
                Err(Error::internal("no image after the release's push")),
                false,
            );
        };
        let taken = checked[i].lock().ok().and_then(|mut g| g.take());
        let Some(ch) = taken else {
            return (Err(Error::internal("a target was checked twice")), false);
        };
        let done = async {
            let (image, how) = image_in_target(&c, home_image, rules, plan, tags, delivery).await?;
            let mut p = plans_ref[i].clone();
            release::give_image(&mut p, &ch, &plan.containers, &image);
            // Bounded by --timeout and ended by a signal, as one release's register step is.
            let aws = c.session.aws().await?;
            let deadline = tokio::time::Instant::now() + p.wait.timeout;
            let registering = deploy::register(&c.session, &p, ch);
            let registered = deploy::within(deadline, aws, "registering", registering).await?;
            let deployed = deploy::roll_out(&c.session, &p, registered).await;
            Ok::<_, Error>((Some(how), deployed))
        }
        .await;
        let ok = matches!(&done, Ok((_, d)) if d.failure.is_none());
        (done, ok)
    })
    .await;
    let deploy = fleet::deployed(targets, &plans, outcomes).await;
    FleetReleased {
        failure: deploy.failure,
        result: FleetReleaseResult {
            release: release_result,
            deploy: deploy.result,
            seconds: start.elapsed().as_secs_f64(),
        },
    }
}

/// Every target reached and its services checked, all at once (read-only, even with
/// --sequential): each target's connection (or why not) and what its check read.
async fn check_all(
    session: &Session,
    plan: &ReleasePlan,
    targets: &[Target],
    plans: &[DeployPlan],
    options: &FleetOptions,
) -> (Vec<Result<Arc<Connected>>>, Vec<Mutex<Option<Checked>>>) {
    let all_at_once = FleetOptions {
        sequential: false,
        ..options.clone()
    };
    let checks = fleet::each(session, targets, &all_at_once, |i, c| async move {
        let checked = check(&c, &plans[i], &plan.containers).await;
        let ok = checked.is_ok();
        (checked, ok)
    })
    .await;
    let mut reached = Vec::new();
    let mut checked = Vec::new();
    for ran in checks {
        match ran {
            Some((Ok((c, Ok(ch))), _)) => {
                reached.push(Ok(c));
                checked.push(Mutex::new(Some(ch)));
            }
            Some((Ok((_, Err(e))), _)) | Some((Err(e), _)) => {
                reached.push(Err(e));
                checked.push(Mutex::new(None));
            }
            None => {
                reached.push(Err(Error::internal("a target was not checked")));
                checked.push(Mutex::new(None));
            }
        }
    }
    (reached, checked)
}

/// The build, the push to --repository and the artifacts, once for every target that can take
/// them (none: nothing is built); the image released. `Err`: the release failed before any target.
async fn build_once(
    session: &Session,
    plan: &ReleasePlan,
    targets: &[Target],
    reached: &[Result<Arc<Connected>>],
    checked: &[Mutex<Option<Checked>>],
    start: Instant,
) -> std::result::Result<(ReleaseResult, Option<ImageRef>), Box<FleetReleased>> {
    let ready = reached.iter().filter(|r| r.is_ok()).count();
    if ready == 0 {
        return Ok((ReleaseResult::empty(), None));
    }
    let mut home = plan.clone();
    home.deploy = None;
    home.before_deploy = None;
    home.for_targets = true;
    if home.build.platform.is_none() {
        match platform(checked) {
            Ok(p) => home.build.platform = p,
            Err(e) => return Err(Box::new(failed_before_targets(targets, e, start))),
        }
    }
    info!(
        "{ready} of {} targets ready: building once for all",
        targets.len()
    );
    let released = release::release(session, &home).await;
    if let Some(e) = released.failure {
        let mut out = failed_before_targets(targets, e, start);
        out.result.release = released.result;
        return Err(Box::new(out));
    }
    let image = released
        .result
        .image
        .clone()
        .or_else(|| released.result.planned_image.clone())
        .and_then(|i| ImageRef::parse(&i).ok());
    Ok((released.result, image))
}

/// A target's services checked deployable and their task definitions read, bounded by --timeout.
async fn check(c: &Connected, plan: &DeployPlan, containers: &[String]) -> Result<Checked> {
    let aws = c.session.aws().await?;
    let deadline = tokio::time::Instant::now() + plan.wait.timeout;
    let checking = deploy::check(&c.session, plan);
    let checked = deploy::within(deadline, aws, "checking the services", checking).await?;
    release::check_containers(containers, plan, &checked)?;
    Ok(checked)
}

/// The platform to build for: what the task definitions of every target run.
fn platform(checked: &[Mutex<Option<Checked>>]) -> Result<Option<String>> {
    let guards: Vec<_> = checked.iter().filter_map(|m| m.lock().ok()).collect();
    let docs = guards.iter().filter_map(|g| g.as_ref()).flat_map(|c| {
        c.services
            .iter()
            .map(|(_, loaded)| (loaded.label.as_str(), &loaded.document))
    });
    image::platform_for_tasks(docs)
}

/// The same failure again (a target's error is reported and also ends its run).
fn copy_error(e: &Error) -> Error {
    let message = e.chain().to_string().replace("\n  caused by: ", ": ");
    Error::with_exit_code(e.exit_code(), message)
}

/// The release failed before any target was deployed: every target says so.
fn failed_before_targets(targets: &[Target], e: Error, start: Instant) -> FleetReleased {
    let why = e.chain().to_string().replace("\n  caused by: ", ": ");
    let deploy = fleet::not_deployed(targets, &why, e.exit_code());
    FleetReleased {
        result: FleetReleaseResult {
            release: ReleaseResult::empty(),
            deploy,
            seconds: start.elapsed().as_secs_f64(),
        },
        failure: Some(e),
    }
}

/// The released image in a target's own registry, verified by digest, and how it got there: the
/// --repository itself when the target is its account and region (or it is no ECR repository),
/// a replica when the registry's replication rules copy it there, else a push.
async fn image_in_target(
    c: &Connected,
    home: &ImageRef,
    rules: &[targets::ReplicationRule],
    plan: &ReleasePlan,
    tags: &[String],
    delivery: &Delivery,
) -> Result<(ImageRef, String)> {
    let dry = plan.dry_run != DryRun::Off;
    let name = targets::ecr_repository_for(&home.name, &c.account, &c.region);
    if name == home.name {
        return Ok((home.clone(), format!("{home} (the --repository)")));
    }
    let digest = home.digest.clone();
    // By digest once pushed; a dry run has only the tag it would push.
    let there = ImageRef {
        name: name.clone(),
        tag: digest.is_none().then(|| home.tag.clone()).flatten(),
        digest: digest.clone(),
    };
    let replica = home
        .ecr()
        .is_some_and(|ecr| targets::replicated(rules, &ecr.name, &c.account, &c.region));
    if dry {
        let how = if replica {
            format!("dry run: would wait for ECR's replica in {name}")
        } else {
            format!("dry run: would push to {name}")
        };
        info!("{how}");
        return Ok((there, how));
    }
    let Some(digest) = digest else {
        return Err(Error::internal("the released image has no digest"));
    };
    if replica {
        wait_for_replica(c, &there, &digest, delivery).await?;
        return Ok((there.clone(), format!("{there} (ECR's replica, verified)")));
    }
    let request = PushRequest {
        repository: Some(name.clone()),
        tags: tags.to_vec(),
        ..plan.push.clone()
    };
    let pushed = image::push_copy(&c.session, &request, &plan.state).await?;
    if pushed.digest != digest {
        return Err(Error::remote(format!(
            "{name} holds the release as {}, not {digest}: the same image must have the same digest in every target",
            pushed.digest
        )));
    }
    Ok((there.clone(), format!("{there} (pushed, verified)")))
}

/// The home registry's replication rules (the run's own identity); none when they cannot be
/// read (no permission): the image is then pushed to every target.
async fn replication_rules(session: &Session, home: &ImageRef) -> Vec<targets::ReplicationRule> {
    if home.ecr().is_none() {
        return Vec::new();
    }
    let read = async { aws::ecr::replication_rules(session.aws().await?).await };
    match read.await {
        Ok(rules) => rules,
        Err(e) => {
            info!(
                "the registry's replication configuration could not be read ({}): pushing to every target",
                e.chain().to_string().replace("\n  caused by: ", ": ")
            );
            Vec::new()
        }
    }
}

/// Waits for ECR's replica of `digest` in the target's repository, verified by hashing its
/// manifest, within the replica timeout; a signal ends the wait.
async fn wait_for_replica(
    c: &Connected,
    there: &ImageRef,
    digest: &str,
    delivery: &Delivery,
) -> Result<()> {
    let deadline = tokio::time::Instant::now() + delivery.replica_timeout;
    info!(
        "waiting up to {} for ECR's replica {there}",
        humantime::format_duration(delivery.replica_timeout)
    );
    loop {
        match image::verified_digest(&c.session, there).await {
            Ok(found) if found == digest => {
                info!("the replica {there} is there, verified");
                return Ok(());
            }
            Ok(other) => {
                return Err(Error::remote(format!(
                    "the replica {there} hashes to {other}: refusing an unverified digest"
                )));
            }
            Err(e) if tokio::time::Instant::now() >= deadline => {
                return Err(Error::TimedOut(format!(
                    "ECR's replica {there} did not appear within --replica-timeout {} (last: {}); check the registry's replication rules, or leave the target out of them so the release pushes there",
                    humantime::format_duration(delivery.replica_timeout),
                    e.chain().to_string().replace("\n  caused by: ", ": ")
                )));
            }
            Err(_) => {}
        }
        tokio::select! {
            signal = crate::signal::cancelled() => return Err(signal.error()),
            () = tokio::time::sleep(delivery.replica_poll) => {}
        }
    }
}
