# An image with ecs-ship, for CodeBuild (as a custom image; privileged mode for a Docker engine) or a
# CI job container. Build it with Docker or with ecs-ship itself:
#   ecs-ship build -f Dockerfile.builder --repository <account>.dkr.ecr.<region>.amazonaws.com/ecs-ship
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs ./
COPY src ./src
COPY tests ./tests
RUN cargo build --release --locked --bin ecs-ship

FROM debian:bookworm-slim
# ca-certificates: TLS to AWS and registries; git: the short-sha tag from the repository when CI gives
# no revision; jq: reading --output json. Versions follow the bookworm point release the base carries.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates git jq \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 10001 ecs-ship
COPY --from=build /src/target/release/ecs-ship /usr/local/bin/ecs-ship
# Non-root by default. A build step that talks to the Docker engine's root-owned socket (CodeBuild in
# privileged mode) runs as root: `run-as: root` in the buildspec, or `--user root` for a job container.
USER 10001
ENTRYPOINT ["ecs-ship"]
CMD ["--help"]
