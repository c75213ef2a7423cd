# syntax=docker/dockerfile:1
# The Mesh Metrics pair agent image (opt-in): ocb v0.148.0 builds the
# distribution of provisioning/collector/agent-builder-config.yaml (why
# v0.148.0: that file's header). The same build as
# `scripts/build-collector.sh .bin/otelcol-meshmetrics-agent provisioning/collector/agent-builder-config.yaml`.
#
# Build context: provisioning/ (only collector/agent-builder-config.yaml is read)
#   docker build -f provisioning/compose/otelcol-agent.Dockerfile -t meshmetrics-otelcol-agent:dev provisioning
# Cold: about 5 minutes on 2 cores.

FROM golang:1.26 AS build
ENV CGO_ENABLED=0 GOTOOLCHAIN=local
RUN go install go.opentelemetry.io/collector/cmd/builder@v0.148.0
WORKDIR /build
COPY collector/agent-builder-config.yaml agent-builder-config.yaml
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    builder --config agent-builder-config.yaml --skip-strict-versioning=false \
 && cp .bin/otelcol-meshmetrics-agent.src/otelcol-meshmetrics-agent /otelcol-meshmetrics-agent

# Static binary, no shell. It runs as root in Kubernetes and Compose: the
# container log files it reads are root's (0640); it drops every capability.
FROM gcr.io/distroless/static-debian12
COPY --from=build /otelcol-meshmetrics-agent /otelcol-meshmetrics-agent
# 13134 health_check.
EXPOSE 13134
ENTRYPOINT ["/otelcol-meshmetrics-agent"]
