// Package deploy has no code: its tests check the deployment files at the
// root of the repository against the issue that asked for them and
// DESIGN.md, with no Docker engine (none runs on our machines).
//
//   - docker-compose.yml: the services, images, ports (and which are
//     loopback-only), health checks, start order, restart policies, roles,
//     and that each container's environment gives the program the right
//     database, broker and listen address (through internal/config itself).
//   - .env.example: every variable the program reads (internal/config) is
//     there and documented, and nothing else is.
//   - Dockerfile: static binaries on a distroless base, non-root user.
//   - frontend/Dockerfile and frontend/nginx.conf: the dashboard image, /api
//     and the Server-Sent Events stream proxied unbuffered (and, where nginx
//     is installed, events shown to arrive at once, uncompressed, through a
//     real nginx).
//   - Validation by compose-go (the loader of Compose v2, in
//     deploy/composecheck), and by `docker compose` (v2) and `docker-compose`
//     (v1) where installed; scripts/compose-check.sh does the same for make.
package deploy
