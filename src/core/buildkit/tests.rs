use super::*;

fn vertex(digest: &str, name: &str) -> VertexUpdate {
    VertexUpdate {
        digest: digest.into(),
        name: name.into(),
        ..Default::default()
    }
}

fn log(vertex: &str, data: &str) -> LogChunk {
    LogChunk {
        vertex: vertex.into(),
        data: data.as_bytes().to_vec(),
    }
}

/// Each step is printed once, when it ends, with its duration or CACHED; repeated updates of an
/// ended vertex print nothing; output lines are whole even when chunks split them.
#[test]
fn steps_end_once_with_duration_or_cached_and_output_comes_in_whole_lines() {
    let mut trace = Trace::default();
    let run = "[stage-0 2/3] RUN pip install -r requirements.txt";
    let from = "[stage-0 1/3] FROM docker.io/library/busybox:stable";
    let started = VertexUpdate {
        started: Some(100.0),
        ..vertex("b", run)
    };
    let cached = VertexUpdate {
        cached: true,
        started: Some(99.0),
        completed: Some(99.0),
        ..vertex("a", from)
    };
    let events = trace.apply(StatusUpdate {
        vertexes: vec![cached.clone(), started],
        logs: vec![],
    });
    assert_eq!(
        events,
        vec![TraceEvent::Done {
            number: 1,
            name: from.into(),
            seconds: 0.0,
            cached: true
        }]
    );
    assert_eq!(trace.running(), Some(run));
    let events = trace.apply(StatusUpdate {
        vertexes: vec![cached],
        logs: vec![log("b", "Collecting fa"), log("b", "stapi\r\nDone\n")],
    });
    assert_eq!(
        events.iter().map(ToString::to_string).collect::<Vec<_>>(),
        vec!["#2 Collecting fastapi", "#2 Done"]
    );
    let events = trace.apply(StatusUpdate {
        vertexes: vec![VertexUpdate {
            started: Some(100.0),
            completed: Some(104.25),
            ..vertex("b", "")
        }],
        logs: vec![],
    });
    assert_eq!(
        events.iter().map(ToString::to_string).collect::<Vec<_>>(),
        vec![format!("#2 {run} 4.2s")]
    );
    assert_eq!(
        trace.cache_count(),
        CacheCount {
            cached: 0,
            total: 1
        }
    );
    assert_eq!(trace.running(), None);
}

/// A failed step carries its whole output (the partial last line too) for the failure report.
#[test]
fn a_failed_step_carries_everything_it_printed() {
    let mut trace = Trace::default();
    let name = "[stage-0 2/2] RUN ./build.sh";
    trace.apply(StatusUpdate {
        vertexes: vec![vertex("x", name)],
        logs: vec![log("x", "one\ntwo\nno newline")],
    });
    let events = trace.apply(StatusUpdate {
        vertexes: vec![VertexUpdate {
            error: "process \"/bin/sh -c ./build.sh\" did not complete successfully: exit code: 3"
                .into(),
            ..vertex("x", name)
        }],
        logs: vec![],
    });
    let [TraceEvent::Failed { output, error, .. }] = events.as_slice() else {
        panic!("{events:?}");
    };
    assert_eq!(output, &["one", "two", "no newline"]);
    assert!(error.contains("exit code: 3"));
}

/// Only Dockerfile steps count towards "N of M steps cached": not FROM, not [internal] work.
#[test]
fn the_cache_count_counts_dockerfile_steps_only() {
    let mut trace = Trace::default();
    let done = |d: &str, n: &str, cached| VertexUpdate {
        cached,
        started: Some(1.0),
        completed: Some(2.0),
        ..vertex(d, n)
    };
    trace.apply(StatusUpdate {
        vertexes: vec![
            done(
                "1",
                "[internal] load build definition from Dockerfile",
                false,
            ),
            done(
                "2",
                "[internal] load metadata for docker.io/library/busybox:stable",
                false,
            ),
            done(
                "3",
                "[stage-0 1/4] FROM docker.io/library/busybox:stable",
                true,
            ),
            done("4", "[stage-0 2/4] COPY requirements.txt .", true),
            done("5", "[stage-0 3/4] RUN pip install", true),
            done("6", "[stage-0 4/4] COPY . .", false),
            done("7", "exporting to image", false),
            done(
                "8",
                "importing cache manifest from 127.0.0.1:15000/api:cache",
                false,
            ),
        ],
        logs: vec![],
    });
    assert_eq!(
        trace.cache_count(),
        CacheCount {
            cached: 2,
            total: 3
        }
    );
    assert_eq!(trace.cache_count().to_string(), "2 of 3 steps cached");
}

#[test]
fn cache_flags_are_read_as_buildx_reads_them() {
    for (value, want) in [
        ("127.0.0.1:15000/api:cache", Ok("127.0.0.1:15000/api:cache")),
        ("type=registry,ref=r/api:cache", Ok("r/api:cache")),
        ("ref=r/api:cache", Ok("r/api:cache")),
        ("type=gha", Err("type `gha` is not supported")),
        ("type=registry", Err("no ref=")),
        ("", Err("empty")),
    ] {
        let got = parse_cache_from(value).map_err(|e| e.to_string());
        match (got, want) {
            (Ok(g), Ok(w)) => assert_eq!(g, w, "{value}"),
            (Err(g), Err(w)) => assert!(g.contains(w), "{value}: {g}"),
            (g, w) => panic!("{value}: {g:?} vs {w:?}"),
        }
    }
    for (value, want) in [
        ("type=inline", Ok(CacheTo::Inline)),
        (
            "type=registry,ref=r/a:c,mode=max,image-manifest=true,oci-mediatypes=true",
            Ok(CacheTo::Registry {
                reference: "r/a:c".into(),
                max: true,
            }),
        ),
        ("type=registry,ref=r/a:c,mode=all", Err("mode `all`")),
        ("type=local,dest=x", Err("type `local`")),
        ("inline", Err("no type=")),
    ] {
        let got = parse_cache_to(value).map_err(|e| e.to_string());
        match (got, want) {
            (Ok(g), Ok(w)) => assert_eq!(g, w, "{value}"),
            (Err(g), Err(w)) => assert!(g.contains(w), "{value}: {g}"),
            (g, w) => panic!("{value}: {g:?} vs {w:?}"),
        }
    }
}

/// On the engine's built-in BuildKit: --cache picks an inline cache pushed under its ref; a
/// registry export is refused naming what to use instead.
#[test]
fn the_cache_plan_picks_what_the_builder_can_do() {
    let engine = BuilderCaps {
        registry_cache: false,
    };
    let plan = plan_cache(&[], None, Some("r/api:buildcache"), engine).unwrap();
    assert_eq!(plan.imports, vec!["r/api:buildcache"]);
    assert!(plan.inline);
    assert_eq!(plan.push_as.as_deref(), Some("r/api:buildcache"));
    assert!(plan.note.unwrap().contains("inline"));

    let plan = plan_cache(&["r/api:old".into()], Some("type=inline"), None, engine).unwrap();
    assert_eq!(plan.imports, vec!["r/api:old"]);
    assert!(plan.inline);
    assert_eq!(plan.push_as, None);

    let err = plan_cache(&[], Some("type=registry,ref=r/a:c"), None, engine).unwrap_err();
    assert!(err.to_string().contains("only an inline cache"), "{err}");
    for bad in ["r/api", "r/api@sha256:00", ""] {
        assert!(plan_cache(&[], None, Some(bad), engine).is_err(), "{bad}");
    }
    assert_eq!(
        plan_cache(&[], None, None, engine).unwrap(),
        CachePlan::default()
    );
}

#[test]
fn secrets_are_read_as_buildx_reads_them() {
    let file = |id: &str, p: &str| SecretSpec {
        id: id.into(),
        source: SecretSource::File(p.into()),
    };
    let env = |id: &str, v: &str| SecretSpec {
        id: id.into(),
        source: SecretSource::Env(v.into()),
    };
    for (value, want) in [
        ("id=pip,src=/run/pip.conf", Ok(file("pip", "/run/pip.conf"))),
        ("id=pip,source=pip.conf", Ok(file("pip", "pip.conf"))),
        ("id=token,env=NPM_TOKEN", Ok(env("token", "NPM_TOKEN"))),
        ("id=TOKEN", Ok(env("TOKEN", "TOKEN"))),
        ("type=env,id=t,src=VAR", Ok(env("t", "VAR"))),
        ("type=file,id=a.conf", Ok(file("a.conf", "a.conf"))),
        ("src=/x", Err("no id=ID")),
        ("id=x,path=/y", Err("unknown `path`")),
    ] {
        let got = parse_secret(value);
        match (got, want) {
            (Ok(g), Ok(w)) => assert_eq!(g, w, "{value}"),
            (Err(g), Err(w)) => assert!(g.contains(w), "{value}: {g}"),
            (g, w) => panic!("{value}: {g:?} vs {w:?}"),
        }
    }
}

/// A cache ref that is not there yet is said plainly, not as the build's error.
#[test]
fn a_missing_cache_import_reads_as_a_note() {
    let mut trace = Trace::default();
    let name = "importing cache manifest from r/api:buildcache";
    let events = trace.apply(StatusUpdate {
        vertexes: vec![VertexUpdate {
            error: "r/api:buildcache: not found".into(),
            ..vertex("c", name)
        }],
        logs: vec![],
    });
    assert_eq!(
        events[0].to_string(),
        format!("#1 {name}: r/api:buildcache: not found (nothing to import yet: built without it)")
    );
    assert!(is_cache_import(name));
    assert!(!is_cache_import("[2/3] RUN x"));
}
