# Postgres with PostGIS for every architecture the official Postgres image has (amd64, arm64, ...):
# the postgis/postgis images are built for amd64 only. The official image already carries the
# PostgreSQL apt repository, whose postgresql-<major>-postgis-3 packages exist for each of them.
#   docker build -f infra/docker/postgis.Dockerfile -t reelboard/postgis:15-3 .
# Plain Dockerfile syntax, so docker-compose v1's classic builder builds it too.
ARG PG_MAJOR=15
FROM postgres:${PG_MAJOR}-bookworm
ARG PG_MAJOR=15
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "postgresql-${PG_MAJOR}-postgis-3" \
 && rm -rf /var/lib/apt/lists/*
