# Aviator's container image: build with cargo, run as a non-root user on a minimal base.
#   docker build -t aviator:latest .
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --profile dist --locked -p aviator-dns --bin aviator

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/dist/aviator /usr/local/bin/aviator
USER 65532:65532
EXPOSE 5353/udp 5353/tcp 9153/tcp
ENTRYPOINT ["/usr/local/bin/aviator"]
CMD ["serve", "--kubernetes", "--listen=0.0.0.0:5353", "--admin=0.0.0.0:9153"]
