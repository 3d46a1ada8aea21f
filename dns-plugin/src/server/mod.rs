//! The DNS sockets and the threads that serve them with the [`Responder`].
//!
//! UDP is sharded: one `SO_REUSEPORT` socket per core, each served by its own thread in
//! batches (see [`udp`]), so a query is received, answered and sent on one thread with no
//! task, no wake-up and no allocation (the kernel spreads clients over the sockets by address
//! hash). TCP, which carries little traffic, is served on the caller's runtime from a listener
//! on the same port (see [`tcp`]).

mod tcp;
mod udp;

use std::io;
use std::net::SocketAddr;
use std::thread::JoinHandle;

use anyhow::Context;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::wire::Responder;

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

/// Serves DNS on `sockets` until `shutdown` is cancelled, then stops and drains. `responder`
/// makes one responder per thread (they share the snapshot behind an `Arc`).
pub async fn run(
    sockets: DnsSockets,
    responder: impl Fn() -> Responder,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let DnsSockets { udp, tcp } = sockets;
    let shards: Vec<JoinHandle<io::Result<()>>> = udp
        .into_iter()
        .enumerate()
        .map(|(i, socket)| {
            let responder = responder();
            let shutdown = shutdown.clone();
            std::thread::Builder::new()
                .name(format!("dns-udp-{i}"))
                .spawn(move || udp::serve(socket, &responder, &shutdown))
        })
        .collect::<io::Result<_>>()
        .context("cannot start the UDP threads")?;

    let result = tcp::serve(
        TcpListener::from_std(tcp)?,
        std::sync::Arc::new(responder()),
        shutdown.clone(),
    )
    .await;
    shutdown.cancel();
    for shard in shards {
        match shard.join() {
            Ok(shard_result) => shard_result.context("a UDP thread failed")?,
            Err(_) => anyhow::bail!("a UDP thread panicked"),
        }
    }
    result
}
