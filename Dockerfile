# The trend image: the one binary (every role: migrate, api, relay, worker,
# all, tmdb-fake) and its health probe, both static, on a distroless base
# (no shell, no package manager, CA certificates for TMDB's HTTPS), running
# as an unprivileged user.
#
#   docker build -t movietrend/trend .
#   docker run --rm movietrend/trend help
#
# docker-compose.yml builds it once, in its migrate service, and runs it as
# the migrate, api, relay and worker services.

# go.mod's toolchain line, patch release included: the golang images set
# GOTOOLCHAIN=local, so the image's own Go builds (internal/deploy checks).
ARG GO_VERSION=1.26.10

# ---- build: static binaries --------------------------------------------------
FROM golang:${GO_VERSION}-alpine AS build
WORKDIR /src
# Static: no cgo, so no libc is needed at run time (the final image has none).
ENV CGO_ENABLED=0 GOOS=linux GOFLAGS=-trimpath
# Dependencies first: this layer is rebuilt only when go.mod or go.sum change.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN go build -ldflags="-s -w" -o /out/trend ./cmd/trend \
 && go build -ldflags="-s -w" -o /out/healthcheck ./deploy/healthcheck

# ---- run -----------------------------------------------------------------------
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/trend /out/healthcheck /usr/local/bin/
# nonroot (65532) from distroless' /etc/passwd; numeric so that
# "run as non-root" policies can verify it without reading /etc/passwd.
USER 65532:65532
WORKDIR /home/nonroot
EXPOSE 8000
ENTRYPOINT ["/usr/local/bin/trend"]
CMD ["all"]
