# airlock in a container: the server on 0.0.0.0:8080, its data (SQLite database, blobs) in the
# volume /data, run as an unprivileged user. Build and run:
#
#   docker build -t airlock .
#   docker run -d --name airlock -p 8080:8080 -v airlock-data:/data airlock
#   docker exec airlock airlock token create --name ci --role publisher
#
# Configuration: the AIRLOCK_* environment variables, or a file at /data/airlock.toml (read from
# the working directory) or named by AIRLOCK_CONFIG.

# The build: the toolchain the workspace asks for (rust-version), gcc for SQLite and ring; the
# `dist` profile is release with cross-crate LTO (Cargo.toml).
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
# The registry and target directory are build caches, kept between builds (BuildKit, buildah).
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --profile dist --locked -p airlock-cli \
    && install -D -m 0755 target/dist/airlock /out/airlock

# The runtime: the same Debian release as the build (glibc), CA certificates for HTTPS upstreams.
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --uid 10001 --user-group --no-create-home --home-dir /data --shell /usr/sbin/nologin airlock \
    && install -d -o airlock -g airlock -m 0750 /data
COPY --from=build /out/airlock /usr/local/bin/airlock
USER airlock
WORKDIR /data
ENV AIRLOCK_DATA_DIR=/data \
    AIRLOCK_LISTEN=0.0.0.0:8080
VOLUME ["/data"]
EXPOSE 8080
ENTRYPOINT ["airlock"]
CMD ["serve"]
