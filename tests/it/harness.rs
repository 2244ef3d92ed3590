//! A small harness: run the built binary with the stack's environment, and find the services.
//!
//! A test that needs a service calls `require_moto()` / `require_docker()`. When the service is
//! missing, the test FAILS if `CI` is set, and is skipped with a message only on a local run.

use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

pub const ACCOUNT: &str = "123456789012";
pub const REGION: &str = "us-east-1";

fn var_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

pub fn moto_url() -> String {
    var_or("ECS_SHIP_TEST_MOTO", "http://127.0.0.1:15001")
}

pub fn docker_host() -> String {
    var_or(
        "ECS_SHIP_TEST_DOCKER_HOST",
        "unix:///var/tmp/ecs-ship-stack/docker.sock",
    )
}

fn reachable_tcp(url: &str) -> bool {
    let hostport = url.trim_start_matches("http://").trim_end_matches('/');
    hostport
        .parse::<SocketAddr>()
        .is_ok_and(|addr| TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_ok())
}

fn reachable_unix(host: &str) -> bool {
    host.strip_prefix("unix://")
        .is_some_and(|path| std::os::unix::net::UnixStream::connect(path).is_ok())
}

/// Fails under CI, skips (returns false) on a local run.
pub fn require_service(name: &str, up: bool, where_: &str) -> bool {
    require(name, up, where_)
}

fn require(name: &str, up: bool, where_: &str) -> bool {
    if up {
        return true;
    }
    let message = format!("{name} is not running at {where_}: start the stack with `ci/stack up`");
    if std::env::var_os("CI").is_some() {
        panic!("{message} (CI is set, so this test fails instead of skipping)");
    }
    eprintln!("SKIPPED: {message}");
    false
}

pub fn require_moto() -> bool {
    let url = moto_url();
    require("moto", reachable_tcp(&url), &url)
}

pub fn require_docker() -> bool {
    let host = docker_host();
    require("the Docker engine", reachable_unix(&host), &host)
}

/// A name no other test (or earlier run against the same moto) uses.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{prefix}-{}-{nanos}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// The binary with a clean, explicit environment pointing at the stack.
pub fn ecs_ship() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ecs-ship"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", std::env::temp_dir())
        .env("AWS_ENDPOINT_URL", moto_url())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", REGION)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("DOCKER_HOST", docker_host())
        .env("NO_COLOR", "1");
    cmd
}

/// A finished run, with helpers that print everything when an expectation fails.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    #[track_caller]
    pub fn expect_code(self, code: i32) -> Self {
        assert_eq!(
            self.code, code,
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }

    #[track_caller]
    pub fn stderr_has(self, needle: &str) -> Self {
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}:\n{}",
            self.stderr
        );
        self
    }

    #[track_caller]
    pub fn stdout_has(self, needle: &str) -> Self {
        assert!(
            self.stdout.contains(needle),
            "stdout lacks {needle:?}:\n{}",
            self.stdout
        );
        self
    }
}

pub fn run(cmd: &mut Command) -> Run {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().expect("the ecs-ship binary runs");
    Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

pub fn ecs_ship_run(args: &[&str]) -> Run {
    run(ecs_ship().args(args))
}

/// SDK clients pointed at moto, for arranging and inspecting state.
pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(REGION))
        .endpoint_url(moto_url())
        .credentials_provider(aws_sdk_ecs::config::Credentials::new(
            "testing", "testing", None, None, "test",
        ))
        .load()
        .await
}

pub fn fixture(name: &str) -> String {
    format!(
        "{}/tests/fixtures/taskdefs/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// The scripted ECS emulator of tests/emulator, for what moto cannot do (rollouts that fail).
pub struct Emulator {
    child: std::process::Child,
    pub endpoint: String,
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn emulator(scenario: &str) -> Option<Emulator> {
    scripted("ecs_emulator.py", scenario)
}

/// The scripted CodeBuild (and its builds' CloudWatch Logs) of tests/emulator.
pub fn codebuild_emulator(scenario: &str) -> Option<Emulator> {
    scripted("codebuild_emulator.py", scenario)
}

impl Emulator {
    /// What the emulator counted (`GET /calls`): operation -> calls, and what it was sent.
    /// `ecs-ship ARGS` against this emulator: every AWS call goes to it.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = ecs_ship();
        cmd.env("AWS_ENDPOINT_URL", &self.endpoint).args(args);
        cmd
    }

    /// `deploy --cluster c --service web`, polling every second, with `extra` flags: the
    /// emulator's one service.
    pub fn deploy(&self, extra: &[&str]) -> Command {
        let mut cmd = self.command(&["deploy", "--cluster", "c", "--service", "web"]);
        cmd.args(["--poll-interval", "1s"]).args(extra);
        cmd
    }

    pub fn calls(&self) -> serde_json::Value {
        use std::io::{Read, Write};
        let addr = self.endpoint.trim_start_matches("http://");
        let mut stream = TcpStream::connect(addr).unwrap();
        write!(
            stream,
            "GET /calls HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut text = String::new();
        stream.read_to_string(&mut text).unwrap();
        let body = text.split("\r\n\r\n").nth(1).unwrap_or_default();
        serde_json::from_str(body).unwrap_or_else(|e| panic!("GET /calls: {e}: {text}"))
    }
}

fn scripted(file: &str, scenario: &str) -> Option<Emulator> {
    use std::io::BufRead;
    let python = var_or(
        "ECS_SHIP_TEST_PYTHON",
        "/var/tmp/ecs-ship-stack/venv/bin/python",
    );
    let script = format!("{}/tests/emulator/{file}", env!("CARGO_MANIFEST_DIR"));
    let spawned = Command::new(&python)
        .args([script.as_str(), scenario])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn();
    let Ok(mut child) = spawned else {
        require("python for the emulators", false, &python);
        return None;
    };
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    Some(Emulator {
        child,
        endpoint: line.trim().to_owned(),
    })
}

pub fn registry() -> String {
    var_or("ECS_SHIP_TEST_REGISTRY", "127.0.0.1:15000")
}

pub fn auth_registry() -> String {
    var_or("ECS_SHIP_TEST_AUTH_REGISTRY", "127.0.0.1:15002")
}

pub fn require_registry() -> bool {
    let r = registry();
    require("the registry", reachable_tcp(&r), &r)
}

/// A directory tree for a build context.
pub fn context(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, content) in files {
        let p = dir.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }
    dir
}

/// A one-shot HTTP server on loopback that answers every request with `response` (raw bytes).
pub fn fake_http(response: Vec<u8>) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(20) {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 4096];
            let _ = std::io::Read::read(&mut stream, &mut buf);
            let _ = std::io::Write::write_all(&mut stream, &response);
        }
    });
    addr
}

/// A TCP proxy to `target` on loopback that cuts any connection as soon as the client sends a
/// manifest upload (`PUT /v2/.../manifests/...`): a registry that goes away at the end of a push.
pub fn manifest_cutting_proxy(target: String) -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for client in listener.incoming().take(200) {
            let Ok(mut client) = client else { continue };
            let Ok(mut upstream) = TcpStream::connect(&target) else {
                continue;
            };
            let (mut client_r, mut upstream_w) =
                (client.try_clone().unwrap(), upstream.try_clone().unwrap());
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 64 * 1024];
                let mut tail: Vec<u8> = Vec::new();
                loop {
                    let n = match client_r.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    tail.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&tail);
                    if text.contains("PUT /v2/") && text.contains("/manifests/") {
                        let _ = client_r.shutdown(std::net::Shutdown::Both);
                        let _ = upstream_w.shutdown(std::net::Shutdown::Both);
                        break;
                    }
                    let keep = tail.len().saturating_sub(256);
                    tail.drain(..keep);
                    if upstream_w.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut upstream, &mut client);
            });
        }
    });
    addr
}

/// The example service's world in moto, as `ci/demo` makes it: a copy of examples/vendor0919-api
/// whose task definition has a family of its own, a cluster, and service `vendor0919-service`
/// running revision 1 of it (no logConfiguration, as that team's ran).
pub struct World {
    pub dir: tempfile::TempDir,
    pub family: String,
    pub cluster: String,
    pub service: String,
}

impl World {
    pub fn context(&self) -> String {
        self.dir.path().join("app").to_string_lossy().into_owned()
    }

    pub fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_string_lossy().into_owned()
    }
}

/// Copies the example into a temporary directory, with `edit` applied to its task definition.
pub fn example(edit: impl FnOnce(&mut serde_json::Value)) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/vendor0919-api");
    let app = dir.path().join("app");
    for entry in walkdir::WalkDir::new(&src) {
        let entry = entry.unwrap();
        let to = app.join(entry.path().strip_prefix(&src).unwrap());
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&to).unwrap();
        } else {
            std::fs::copy(entry.path(), &to).unwrap();
        }
    }
    let family = unique("vendor0919-task");
    let path = app.join("taskdef.json");
    let mut doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    doc["family"] = family.clone().into();
    edit(&mut doc);
    std::fs::write(&path, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    (dir, family)
}

pub fn python() -> String {
    var_or(
        "ECS_SHIP_TEST_PYTHON",
        "/var/tmp/ecs-ship-stack/venv/bin/python",
    )
}

/// The example's world in moto (see `World`).
pub fn world() -> World {
    let (dir, family) = example(|_| {});
    let cluster = unique("vendor0919-cluster");
    let service = "vendor0919-service".to_owned();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/ci/demo_world.py");
    let out = Command::new(python())
        .args([
            script,
            &moto_url(),
            &cluster,
            &service,
            dir.path().join("app/taskdef.json").to_str().unwrap(),
        ])
        .output()
        .expect("python runs ci/demo_world.py");
    assert!(
        out.status.success(),
        "ci/demo_world.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    World {
        dir,
        family,
        cluster,
        service,
    }
}

/// Accepts connections with `accept` (non-blocking) and holds them unanswered for two minutes at
/// most, then goes away.
fn hold<S: Send + 'static>(mut accept: impl FnMut() -> std::io::Result<S> + Send + 'static) {
    std::thread::spawn(move || {
        let mut held = Vec::new();
        let start = std::time::Instant::now();
        while start.elapsed() < Duration::from_secs(120) {
            match accept() {
                Ok(stream) => held.push(stream),
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    });
}

/// A TCP server on loopback that accepts connections and never answers (a stalled proxy, a
/// black-holed endpoint).
pub fn black_hole() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    listener.set_nonblocking(true).unwrap();
    hold(move || listener.accept().map(|(s, _)| s));
    addr
}

/// A unix socket that accepts connections and never answers: a hung Docker engine.
pub fn black_hole_socket(dir: &std::path::Path) -> String {
    let path = dir.join("hung.sock");
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    listener.set_nonblocking(true).unwrap();
    hold(move || listener.accept().map(|(s, _)| s));
    format!("unix://{}", path.display())
}

/// Runs `cmd`, and returns how it ended and how long it took.
pub fn timed(cmd: &mut Command) -> (Run, Duration) {
    let start = std::time::Instant::now();
    let run = run(cmd);
    (run, start.elapsed())
}

/// Starts `cmd`, waits until its stderr shows `marker`, sends `signal` (e.g. "-TERM"), and returns
/// how it ended.
pub fn signalled(cmd: &mut Command, marker: &str, signal: &str) -> Run {
    use std::io::Read;
    use std::process::Stdio;
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut all = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = stderr.read(&mut buf) {
            if n == 0 {
                break;
            }
            all.extend_from_slice(&buf[..n]);
            let _ = tx.send(String::from_utf8_lossy(&all).into_owned());
        }
    });
    let start = std::time::Instant::now();
    let mut seen = String::new();
    while !seen.contains(marker) {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "never saw {marker:?} in:\n{seen}"
        );
        if let Ok(s) = rx.recv_timeout(Duration::from_millis(200)) {
            seen = s;
        }
    }
    Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    let status = child.wait().unwrap();
    while let Ok(s) = rx.recv_timeout(Duration::from_millis(500)) {
        seen = s;
    }
    Run {
        code: status.code().unwrap_or(-1),
        stdout,
        stderr: seen,
    }
}

/// A TCP front to the stack's engine socket that answers 404 to `POST .../session`, as an engine
/// without BuildKit does, and passes every other connection through: `tcp://ADDR` for DOCKER_HOST.
pub fn engine_without_buildkit() -> String {
    use std::io::{Read, Write};
    let socket = docker_host()
        .strip_prefix("unix://")
        .expect("the stack's engine is a unix socket")
        .to_owned();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for client in listener.incoming().take(200) {
            let Ok(mut client) = client else { continue };
            let mut first = vec![0u8; 64 * 1024];
            let Ok(n) = client.read(&mut first) else {
                continue;
            };
            let head = String::from_utf8_lossy(&first[..n]).into_owned();
            if head.starts_with("POST ") && head.lines().next().unwrap_or("").contains("/session") {
                let body = r#"{"message":"page not found"}"#;
                let _ = write!(
                    client,
                    "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                continue;
            }
            let Ok(mut upstream) = std::os::unix::net::UnixStream::connect(&socket) else {
                continue;
            };
            if upstream.write_all(&first[..n]).is_err() {
                continue;
            }
            let (mut client_r, mut upstream_w) =
                (client.try_clone().unwrap(), upstream.try_clone().unwrap());
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut client_r, &mut upstream_w);
                let _ = upstream_w.shutdown(std::net::Shutdown::Write);
            });
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut upstream, &mut client);
            });
        }
    });
    format!("tcp://{addr}")
}

/// arm64 emulation and the arm64 base image that ci/stack sets up, required under CI.
pub fn require_arm64() -> bool {
    let emulated = std::fs::read_to_string("/proc/sys/fs/binfmt_misc/qemu-aarch64")
        .is_ok_and(|s| s.starts_with("enabled"));
    let base = std::process::Command::new("docker")
        .env("DOCKER_HOST", docker_host())
        .args(["image", "inspect", "busybox:stable-arm64"])
        .output()
        .is_ok_and(|o| o.status.success());
    require_service(
        "arm64 emulation (qemu-aarch64 in binfmt_misc) and busybox:stable-arm64",
        emulated && base,
        "ci/stack up",
    )
}

/// Task definition `td_json` registered (`taskdef register --file`) and a new cluster with service
/// `web` running it (desired count 1) in moto; returns the cluster.
pub async fn service_running(td_json: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("td.json");
    std::fs::write(&path, td_json).unwrap();
    let arn = ecs_ship_run(&["taskdef", "register", "--file", path.to_str().unwrap()])
        .expect_code(0)
        .stdout
        .trim()
        .to_owned();
    let ecs = aws_sdk_ecs::Client::new(&sdk_config().await);
    let cluster = unique("cluster");
    ecs.create_cluster()
        .cluster_name(&cluster)
        .send()
        .await
        .unwrap();
    ecs.create_service()
        .cluster(&cluster)
        .service_name("web")
        .task_definition(&arn)
        .desired_count(1)
        .send()
        .await
        .unwrap();
    cluster
}
