//! The DNS sockets: one UDP socket and one TCP listener on the same address, served by hickory's
//! [`Server`] with our [`Handler`](crate::handler::Handler).

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use hickory_server::Server;
use hickory_server::server::RequestHandler;
use tokio::net::{TcpListener, UdpSocket};

/// A TCP client that sends nothing for this long is disconnected (RFC 7766 suggests seconds).
const TCP_IDLE_TIMEOUT: Duration = Duration::from_secs(10);
/// Responses queued per TCP connection before the writer applies back-pressure.
const TCP_RESPONSE_BUFFER: usize = 32;
/// Attempts to find a port free for both UDP and TCP when asked for port 0.
const PORT_ATTEMPTS: usize = 16;

/// A bound UDP socket and TCP listener sharing one address.
pub struct DnsSockets {
    pub udp: UdpSocket,
    pub tcp: TcpListener,
}

impl DnsSockets {
    /// Binds UDP and TCP on `addr`. With port 0 the kernel picks a UDP port and TCP takes the
    /// same one, retrying if TCP finds it taken.
    pub async fn bind(addr: SocketAddr) -> io::Result<Self> {
        let mut last_error = None;
        for _ in 0..PORT_ATTEMPTS {
            let udp = UdpSocket::bind(addr).await?;
            let port = udp.local_addr()?.port();
            match TcpListener::bind(SocketAddr::new(addr.ip(), port)).await {
                Ok(tcp) => return Ok(Self { udp, tcp }),
                Err(error) if addr.port() == 0 && error.kind() == io::ErrorKind::AddrInUse => {
                    last_error = Some(error);
                }
                Err(error) => return Err(error),
            }
        }
        Err(last_error.unwrap_or_else(|| io::Error::other("no port free for both UDP and TCP")))
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.udp.local_addr()
    }
}

/// Serves DNS on `sockets` until `shutdown` completes, then stops accepting and drains.
pub async fn run<H: RequestHandler>(
    sockets: DnsSockets,
    handler: H,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let mut server = Server::new(handler);
    server.register_socket(sockets.udp);
    server.register_listener(sockets.tcp, TCP_IDLE_TIMEOUT, TCP_RESPONSE_BUFFER);
    tokio::select! {
        result = server.block_until_done() => result?,
        () = shutdown => server.shutdown_gracefully().await?,
    }
    Ok(())
}
