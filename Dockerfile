# mqttdiag: a static binary on distroless, running as non-root.
# Build: make docker   (docker build -t mqttdiag:<version> .)
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=devel
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/mqttdiag ./cmd/mqttdiag
# The state directory (--state /var/lib/mqttdiag/positions.json). A named
# volume mounted here starts as a copy of it, owner and mode included: it
# is writable by the image's user (group 65532) and by uid 1883, the
# eclipse-mosquitto image's mosquitto user that the examples run mqttdiag as
# (Mosquitto creates its log mode 0600: only its own user can read it).
RUN mkdir -p /out/state && chmod 0770 /out/state

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/mqttdiag /usr/local/bin/mqttdiag
COPY --from=build --chown=1883:65532 --chmod=0770 /out/state /var/lib/mqttdiag
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/mqttdiag"]
CMD ["--help"]
