//! The DNS sockets and the threads that serve them with hickory's [`Server`] and our handler.
//!
//! UDP is sharded: one `SO_REUSEPORT` socket per core, each served by its own thread and
//! single-threaded runtime, so a query is received, answered and sent on one thread with no
//! cross-thread wake-ups (the kernel spreads clients over the sockets by address hash). TCP,
//! which carries little traffic, is served on the caller's runtime from a listener on the same
//! port, beside the control plane.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Context;
use hickory_server::Server;
use hickory_server::server::RequestHandler;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::{TcpListener, UdpSocket};
use tokio_util::sync::CancellationToken;

/// A TCP client that sends nothing for this long is disconnected (RFC 7766 suggests seconds).
const TCP_IDLE_TIMEOUT: Duration = Duration::from_secs(10);
/// Responses queued per TCP connection before the writer applies back-pressure.
const TCP_RESPONSE_BUFFER: usize = 32;
/// Attempts to find a port free for both UDP and TCP when asked for port 0.
const PORT_ATTEMPTS: usize = 16;

/// Bound UDP sockets (one per shard) and a TCP listener, all on one address.
pub struct DnsSockets {
    udp: Vec<std::net::UdpSocket>,
    tcp: std::net::TcpListener,
}

impl DnsSockets {
    /// Binds `shards` UDP sockets and one TCP listener on `addr`. With port 0 the kernel picks
    /// the UDP port and the rest take the same one, retrying if one finds it taken.
    pub fn bind(addr: SocketAddr, shards: usize) -> io::Result<Self> {
        let mut last_error = None;
        for _ in 0..PORT_ATTEMPTS {
            match Self::try_bind(addr, shards.max(1)) {
                Ok(sockets) => return Ok(sockets),
                Err(error) if addr.port() == 0 && error.kind() == io::ErrorKind::AddrInUse => {
                    last_error = Some(error);
                }
                Err(error) => return Err(error),
            }
        }
        Err(last_error.unwrap_or_else(|| io::Error::other("no port free for both UDP and TCP")))
    }

    fn try_bind(addr: SocketAddr, shards: usize) -> io::Result<Self> {
        let first = udp_socket(addr)?;
        let port = first.local_addr()?.port();
        let addr = SocketAddr::new(addr.ip(), port);
        let mut udp = vec![first];
        for _ in 1..shards {
            udp.push(udp_socket(addr)?);
        }
        let tcp = std::net::TcpListener::bind(addr)?;
        tcp.set_nonblocking(true)?;
        Ok(Self { udp, tcp })
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.udp[0].local_addr()
    }
}

fn udp_socket(addr: SocketAddr) -> io::Result<std::net::UdpSocket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_reuse_port(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

/// Serves DNS on `sockets` until `shutdown` completes, then stops accepting and drains.
/// `handler` makes one handler per shard (they share the snapshot behind an `Arc`).
pub async fn run<H: RequestHandler>(
    sockets: DnsSockets,
    handler: impl Fn() -> H,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let DnsSockets { udp, tcp } = sockets;
    let shards: Vec<JoinHandle<anyhow::Result<()>>> = udp
        .into_iter()
        .enumerate()
        .map(|(i, socket)| {
            let handler = handler();
            let shutdown = shutdown.clone();
            std::thread::Builder::new()
                .name(format!("dns-udp-{i}"))
                .spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()?;
                    runtime.block_on(async move {
                        let mut server = Server::new(handler);
                        server.register_socket(UdpSocket::from_std(socket)?);
                        serve_until(server, shutdown.cancelled_owned()).await
                    })
                })
        })
        .collect::<io::Result<_>>()
        .context("cannot start the UDP threads")?;

    let mut server = Server::new(handler());
    server.register_listener(
        TcpListener::from_std(tcp)?,
        TCP_IDLE_TIMEOUT,
        TCP_RESPONSE_BUFFER,
    );
    let result = serve_until(server, shutdown.clone().cancelled_owned()).await;
    shutdown.cancel();
    for shard in shards {
        match shard.join() {
            Ok(shard_result) => shard_result?,
            Err(_) => anyhow::bail!("a UDP thread panicked"),
        }
    }
    result
}

async fn serve_until<H: RequestHandler>(
    mut server: Server<H>,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    tokio::select! {
        result = server.block_until_done() => result?,
        () = shutdown => server.shutdown_gracefully().await?,
    }
    Ok(())
}
