//! Running containers for a rehearsal: create and start one as `core::rehearsal` planned it, read
//! its state and health, tail its logs, remove it.

use std::collections::HashMap;

use bollard::models::{
    ContainerCreateBody, HealthConfig, HostConfig, PortBinding, ResourcesUlimits,
};
use bollard::query_parameters::{
    CreateContainerOptions, ListContainersOptions, ListNetworksOptions, LogsOptions,
    RemoveContainerOptions,
};
use futures_util::StreamExt;

use super::Engine;
use crate::core::rehearsal::RunSpec;
use crate::error::{Error, Result};

/// The label every rehearsal container carries, with the run's id as value.
pub const LABEL: &str = "dev.ecs-ship.rehearsal";

/// How a container is networked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Network {
    /// The host's network: ports are the host's (engines without a bridge network).
    Host,
    /// The default bridge, each port published on 127.0.0.1 at the same number.
    Bridge,
    /// Another container's network namespace (a sidecar beside the main container, as in awsvpc).
    Container(String),
}

/// What a look at a container found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    pub running: bool,
    pub exit_code: Option<i64>,
    /// starting, healthy or unhealthy, when it has a health check.
    pub health: Option<String>,
    pub error: Option<String>,
}

fn secs_to_nanos(s: i64) -> i64 {
    s.saturating_mul(1_000_000_000)
}

/// Whether the engine has a network of that name (`bridge` is absent on engines run with `--bridge=none`).
pub async fn has_network(engine: &Engine, name: &str) -> Result<bool> {
    let networks = engine
        .docker
        .list_networks(None::<ListNetworksOptions>)
        .await
        .map_err(|e| {
            Error::remote_with(format!("failed to list the networks of {}", engine.host), e)
        })?;
    Ok(networks.iter().any(|n| n.name.as_deref() == Some(name)))
}

/// Whether the image is on the local engine.
pub async fn image_exists(engine: &Engine, image: &str) -> Result<bool> {
    match engine.docker.inspect_image(image).await {
        Ok(_) => Ok(true),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(false),
        Err(e) => Err(Error::remote_with(
            format!("failed to inspect image `{image}`"),
            e,
        )),
    }
}

/// Creates and starts `spec` as container `name`; returns its id. A container that was created but
/// failed to start is removed again.
pub async fn start(
    engine: &Engine,
    spec: &RunSpec,
    name: &str,
    network: &Network,
    run_id: &str,
) -> Result<String> {
    let ports: Vec<String> = spec
        .ports
        .iter()
        .map(|p| format!("{}/{}", p.container_port, p.protocol))
        .collect();
    let port_bindings = (*network == Network::Bridge).then(|| {
        ports
            .iter()
            .zip(&spec.ports)
            .map(|(key, p)| {
                (
                    key.clone(),
                    Some(vec![PortBinding {
                        host_ip: Some("127.0.0.1".to_owned()),
                        host_port: Some(p.container_port.to_string()),
                    }]),
                )
            })
            .collect::<HashMap<_, _>>()
    });
    let network_mode = match network {
        Network::Host => "host".to_owned(),
        Network::Bridge => "bridge".to_owned(),
        Network::Container(id) => format!("container:{id}"),
    };
    let healthcheck = spec.health.as_ref().map(|h| HealthConfig {
        test: Some(h.test.clone()),
        interval: Some(secs_to_nanos(h.interval)),
        timeout: Some(secs_to_nanos(h.timeout)),
        retries: Some(h.retries),
        start_period: Some(secs_to_nanos(h.start_period)),
        start_interval: None,
    });
    let body = ContainerCreateBody {
        image: Some(spec.image.clone()),
        entrypoint: spec.entrypoint.clone(),
        cmd: spec.command.clone(),
        env: Some(spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
        working_dir: spec.working_directory.clone(),
        user: spec.user.clone(),
        exposed_ports: (matches!(network, Network::Bridge) && !ports.is_empty())
            .then(|| ports.clone()),
        stop_timeout: spec.stop_timeout,
        healthcheck,
        labels: Some(HashMap::from([(LABEL.to_owned(), run_id.to_owned())])),
        host_config: Some(HostConfig {
            network_mode: Some(network_mode),
            port_bindings,
            ulimits: Some(
                spec.ulimits
                    .iter()
                    .map(|u| ResourcesUlimits {
                        name: Some(u.name.clone()),
                        soft: Some(u.soft),
                        hard: Some(u.hard),
                    })
                    .collect(),
            ),
            init: Some(true),
            ..Default::default()
        }),
        ..Default::default()
    };
    let created = engine
        .docker
        .create_container(
            Some(CreateContainerOptions {
                name: Some(name.to_owned()),
                ..Default::default()
            }),
            body,
        )
        .await
        .map_err(|e| {
            Error::remote_with(
                format!(
                    "failed to create container `{}` from `{}`",
                    spec.name, spec.image
                ),
                e,
            )
        })?;
    if let Err(e) = engine.docker.start_container(&created.id, None).await {
        let _ = remove(engine, &created.id).await;
        return Err(Error::remote_with(
            format!("failed to start container `{}`", spec.name),
            e,
        ));
    }
    Ok(created.id)
}

pub async fn state(engine: &Engine, id: &str) -> Result<State> {
    let inspected = engine
        .docker
        .inspect_container(id, None)
        .await
        .map_err(|e| Error::remote_with(format!("failed to inspect container {id}"), e))?;
    let state = inspected.state.unwrap_or_default();
    let running = state.running.unwrap_or(false);
    Ok(State {
        running,
        exit_code: (!running).then_some(state.exit_code).flatten(),
        health: state
            .health
            .and_then(|h| h.status)
            .map(|s| s.to_string())
            .filter(|s| !s.is_empty() && s != "none"),
        error: state.error.filter(|e| !e.is_empty()),
    })
}

/// The last `n` lines the container wrote (stdout and stderr).
pub async fn tail(engine: &Engine, id: &str, n: usize) -> Result<Vec<String>> {
    let mut stream = engine.docker.logs(
        id,
        Some(LogsOptions {
            stdout: true,
            stderr: true,
            tail: n.to_string(),
            ..Default::default()
        }),
    );
    let mut text = String::new();
    while let Some(item) = stream.next().await {
        let chunk =
            item.map_err(|e| Error::remote_with(format!("failed to read the logs of {id}"), e))?;
        text.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
    }
    Ok(text.lines().map(str::to_owned).collect())
}

/// Removes the container (stopping it first) with its anonymous volumes; a missing one, or one
/// the engine is removing already (409), is fine.
pub async fn remove(engine: &Engine, id: &str) -> Result<()> {
    match engine
        .docker
        .remove_container(
            id,
            Some(RemoveContainerOptions {
                force: true,
                v: true,
                ..Default::default()
            }),
        )
        .await
    {
        Ok(())
        | Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404 | 409,
            ..
        }) => Ok(()),
        Err(e) => Err(Error::remote_with(
            format!("failed to remove container {id}"),
            e,
        )),
    }
}

/// The ids of the containers a rehearsal run labelled (all states).
pub async fn labelled(engine: &Engine, run_id: &str) -> Result<Vec<String>> {
    let filters = HashMap::from([("label".to_owned(), vec![format!("{LABEL}={run_id}")])]);
    let list = engine
        .docker
        .list_containers(Some(ListContainersOptions {
            all: true,
            filters: Some(filters),
            ..Default::default()
        }))
        .await
        .map_err(|e| Error::remote_with("failed to list the rehearsal's containers", e))?;
    Ok(list.into_iter().filter_map(|c| c.id).collect())
}
