# syntax=docker/dockerfile:1
# The Mesh Metrics collector image: ocb v0.161.0 builds the distribution of
# provisioning/collector/builder-config.yaml (every component v0.161.0;
# --skip-strict-versioning=false fails the build if one drifts). The same
# build as scripts/build-collector.sh, inside Docker.
#
# Build context: provisioning/ (only collector/builder-config.yaml is read)
#   docker build -f provisioning/compose/otelcol.Dockerfile -t meshmetrics-otelcol:dev provisioning
# docker-compose.yaml and provisioning/kubernetes/Tiltfile build it so.
# Cold: about 17 minutes on 2 cores; the module download layer is cached.

FROM golang:1.26 AS build
ENV CGO_ENABLED=0 GOTOOLCHAIN=local
RUN go install go.opentelemetry.io/collector/cmd/builder@v0.161.0
WORKDIR /build
COPY collector/builder-config.yaml builder-config.yaml
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    builder --config builder-config.yaml --skip-strict-versioning=false \
 && cp .bin/otelcol-meshmetrics.src/otelcol-meshmetrics /otelcol-meshmetrics
# The queue directory, owned by the collector's user: a Docker named volume
# mounted there starts with this owner (distroless has no shell to chown).
RUN mkdir -p /rootfs/var/lib/otelcol/file_storage && chown -R 65532:65532 /rootfs/var/lib/otelcol

# Static binary, no shell; runs as the distroless nonroot user (65532), the
# uid the Kubernetes Deployment's securityContext names.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /otelcol-meshmetrics /otelcol-meshmetrics
COPY --from=build --chown=65532:65532 /rootfs/var/lib/otelcol /var/lib/otelcol
USER 65532:65532
# 4317/4318 OTLP (the logs pipeline), 13133 health_check.
EXPOSE 4317 4318 13133
ENTRYPOINT ["/otelcol-meshmetrics"]
