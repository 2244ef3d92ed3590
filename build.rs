//! Build facts for `ecs-ship --version`: the git commit and date of the build, and the versions of
//! the AWS SDK and bollard it was built with (read from Cargo.lock, so they cannot drift).

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .filter(|s| !s.is_empty())
}

fn locked_version(lock: &str, name: &str) -> String {
    let marker = format!("name = \"{name}\"\nversion = \"");
    lock.find(&marker)
        .map(|i| {
            let rest = &lock[i + marker.len()..];
            rest[..rest.find('"').unwrap_or(0)].to_owned()
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

fn main() {
    let commit = std::env::var("ECS_SHIP_GIT_COMMIT")
        .ok()
        .or_else(|| git(&["rev-parse", "--short=12", "HEAD"]))
        .unwrap_or_else(|| "unknown".to_owned());
    let date = git(&["log", "-1", "--format=%cs"]).unwrap_or_else(|| "unknown".to_owned());
    let lock = std::fs::read_to_string("Cargo.lock").unwrap_or_default();
    println!("cargo:rustc-env=ECS_SHIP_GIT_COMMIT={commit}");
    println!("cargo:rustc-env=ECS_SHIP_COMMIT_DATE={date}");
    for (var, name) in [
        ("ECS_SHIP_SDK_ECS_VERSION", "aws-sdk-ecs"),
        ("ECS_SHIP_SDK_CONFIG_VERSION", "aws-config"),
        ("ECS_SHIP_BOLLARD_VERSION", "bollard"),
    ] {
        println!("cargo:rustc-env={var}={}", locked_version(&lock, name));
    }
    println!("cargo:rerun-if-changed=Cargo.lock");
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/refs/heads");
    println!("cargo:rerun-if-env-changed=ECS_SHIP_GIT_COMMIT");
}
