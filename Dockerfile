# mqttdiag: a static binary on distroless, running as non-root.
# Build: make docker   (docker build -t mqttdiag:<version> .)
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=devel
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/mqttdiag ./cmd/mqttdiag

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/mqttdiag /usr/local/bin/mqttdiag
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/mqttdiag"]
CMD ["--help"]
