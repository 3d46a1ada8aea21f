//! The network in front of a simulated cluster: a TCP relay that delays every byte it carries.
//!
//! It listens on the cluster's address and forwards each connection to the cluster's HTTP
//! server on another loopback port, delivering the bytes of each direction half a round trip
//! after they arrived, in order. A new connection also pays the round trip of its handshake:
//! the loopback handshake itself completes at once in the kernel, so the relay holds the
//! connection's first client bytes back by one more round trip, as if they had been sent only
//! once the handshake was done. Requests then cost the network what a real one would, while the
//! service behind the relay measures its own time only.

use std::collections::VecDeque;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Bytes read from a socket at once.
const CHUNK: usize = 16 * 1024;
/// Bytes a direction holds in flight before it stops reading: the relay's window, so a reader
/// that does not keep up pushes back on the writer instead of filling memory.
const WINDOW: usize = 1024 * 1024;
/// tokio's timer rounds deadlines up to its next millisecond tick, so a delay would come out
/// half a millisecond long on average; aiming this much early makes it right on average (and
/// keeps sub-millisecond delays, such as the local cluster's, from growing to a millisecond).
const TIMER_ROUNDING: Duration = Duration::from_micros(500);
/// How long the relay pauses after a failed accept (e.g. out of file descriptors) before it
/// tries again, so a persistent failure does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(10);

/// Relays connections to `ip` (on a port it picks) to `upstream`, with `rtt` of network between
/// them, until `shutdown`. Returns the address it listens on.
pub async fn start(
    ip: IpAddr,
    upstream: SocketAddr,
    rtt: Duration,
    shutdown: CancellationToken,
) -> io::Result<SocketAddr> {
    let listener = TcpListener::bind((ip, 0)).await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                () = shutdown.cancelled() => return,
                accepted = listener.accept() => accepted,
            };
            match accepted {
                Ok((client, _)) => {
                    let accepted_at = Instant::now();
                    tokio::spawn(async move {
                        if let Err(error) = relay(client, upstream, rtt, accepted_at).await {
                            // Resets and broken pipes are how clients that time out leave.
                            tracing::debug!(%error, %upstream, "relayed connection ended");
                        }
                    });
                }
                Err(error) => {
                    tracing::warn!(%error, %addr, "the relay cannot accept a connection");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            }
        }
    });
    Ok(addr)
}

/// Carries one connection both ways until both directions have ended, or either fails.
async fn relay(
    client: TcpStream,
    upstream: SocketAddr,
    rtt: Duration,
    accepted_at: Instant,
) -> io::Result<()> {
    let server = TcpStream::connect(upstream).await?;
    // The delay is the relay's to add: Nagle's algorithm would add its own on small writes.
    client.set_nodelay(true)?;
    server.set_nodelay(true)?;
    let (from_client, to_client) = client.into_split();
    let (from_server, to_server) = server.into_split();
    let half = rtt / 2;
    // Both directions in one task: when one fails the other is dropped with it, and both
    // sockets close at once, as a broken connection does.
    tokio::try_join!(
        delay_line(from_client, to_server, half, accepted_at + rtt),
        delay_line(from_server, to_client, half, accepted_at),
    )?;
    Ok(())
}

/// Copies `from` to `to`, delivering each chunk `delay` after it was read, but counting no chunk
/// as sent before `sent_from` (the end of the handshake). Order is kept: the delay is the same
/// for every chunk, so a FIFO queue is a delay queue. The end of the stream is delayed too, and
/// passed on as a shutdown of `to`.
async fn delay_line(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    delay: Duration,
    sent_from: Instant,
) -> io::Result<()> {
    // Chunks in flight with the time each is due; `None` is the end of the stream.
    let mut in_flight: VecDeque<(Instant, Option<Vec<u8>>)> = VecDeque::new();
    let mut held = 0usize;
    let mut ended = false;
    let mut buf = vec![0u8; CHUNK];
    loop {
        let wake = in_flight
            .front()
            .map(|(due, _)| due.checked_sub(TIMER_ROUNDING).unwrap_or(*due));
        tokio::select! {
            read = from.read(&mut buf), if !ended && held < WINDOW => {
                let n = read?;
                let at = Instant::now().max(sent_from) + delay;
                if n == 0 {
                    ended = true;
                    in_flight.push_back((at, None));
                } else {
                    held += n;
                    in_flight.push_back((at, Some(buf[..n].to_vec())));
                }
            }
            () = tokio::time::sleep_until(wake.unwrap_or(sent_from)), if wake.is_some() => {
                match in_flight.pop_front() {
                    Some((_, Some(bytes))) => {
                        held -= bytes.len();
                        to.write_all(&bytes).await?;
                    }
                    Some((_, None)) => {
                        to.shutdown().await?;
                        return Ok(());
                    }
                    None => {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};
    use tokio::time::Instant;
    use tokio_util::sync::CancellationToken;

    /// Long enough that a stalled test machine cannot pass a handshake off as an exchange.
    const RTT: Duration = Duration::from_millis(100);
    /// What the relay may deliver early: its aim, half a millisecond early per direction.
    const EARLY: Duration = Duration::from_millis(1);

    /// An echo server on 127.0.0.1 behind a relay with [`RTT`]; returns the relay's address.
    async fn echo_behind_relay(shutdown: &CancellationToken) -> std::net::SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let upstream = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let (mut r, mut w) = socket.split();
                    let _ = tokio::io::copy(&mut r, &mut w).await;
                });
            }
        });
        super::start(
            "127.0.0.1".parse().expect("ip"),
            upstream,
            RTT,
            shutdown.clone(),
        )
        .await
        .expect("relay")
    }

    async fn exchange(stream: &mut TcpStream, message: &[u8]) -> Duration {
        let sent = Instant::now();
        stream.write_all(message).await.expect("write");
        let mut back = vec![0u8; message.len()];
        stream.read_exact(&mut back).await.expect("read");
        assert_eq!(back, message);
        sent.elapsed()
    }

    #[tokio::test]
    async fn a_new_connection_pays_its_handshake_and_every_exchange_a_round_trip() {
        let shutdown = CancellationToken::new();
        let addr = echo_behind_relay(&shutdown).await;
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        let first = exchange(&mut stream, b"hello").await;
        assert!(first >= 2 * RTT - EARLY, "first exchange took {first:?}");
        for _ in 0..3 {
            let next = exchange(&mut stream, b"again").await;
            assert!(next >= RTT - EARLY, "an exchange took {next:?}");
            // Not a handshake again: under two round trips.
            assert!(next < 2 * RTT - EARLY, "an exchange took {next:?}");
        }
        shutdown.cancel();
    }

    #[tokio::test]
    async fn bytes_arrive_whole_and_in_order_and_the_end_of_stream_follows_them() {
        let shutdown = CancellationToken::new();
        let addr = echo_behind_relay(&shutdown).await;
        let stream = TcpStream::connect(addr).await.expect("connect");
        let (mut r, mut w) = stream.into_split();
        // More than the relay's window, so the push-back path is taken too.
        let sent: Vec<u8> = (0..3 * super::WINDOW).map(|i| (i % 251) as u8).collect();
        let to_send = sent.clone();
        let writer = tokio::spawn(async move {
            w.write_all(&to_send).await.expect("write");
            w.shutdown().await.expect("shutdown");
        });
        let mut received = Vec::new();
        // read_to_end returns only when the echo server's end of stream came back through.
        r.read_to_end(&mut received).await.expect("read");
        writer.await.expect("writer");
        assert_eq!(received.len(), sent.len());
        assert!(
            received == sent,
            "the bytes came back altered or out of order"
        );
        shutdown.cancel();
    }
}
