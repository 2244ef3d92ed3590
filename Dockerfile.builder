# An image with ecs-ship, for CodeBuild (custom image, privileged mode for the Docker engine) or a
# CI job container. Build it with Docker or with ecs-ship itself:
#   ecs-ship build -f Dockerfile.builder --repository <account>.dkr.ecr.<region>.amazonaws.com/ecs-ship
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY tests ./tests
RUN cargo build --release --locked --bin ecs-ship

FROM debian:bookworm-slim
# git: the short-sha tag from the repository when CI gives no revision; jq: reading --output json.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates git jq \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/ecs-ship /usr/local/bin/ecs-ship
ENTRYPOINT ["ecs-ship"]
CMD ["--help"]
