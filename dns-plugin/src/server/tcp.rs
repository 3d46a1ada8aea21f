//! DNS over TCP (RFC 7766): length-prefixed messages, answered in order, on the caller's
//! runtime. Idle and stalled clients are cut off, and connections are capped, so a client that
//! holds sockets open cannot starve the others.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::debug;

use crate::wire::{Responder, Transport};

/// A client that sends nothing for this long, or takes this long to send one message, is
/// disconnected (RFC 7766 §6.2.3 suggests seconds).
const IDLE_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections served at once; more wait in the kernel's backlog.
const MAX_CONNECTIONS: usize = 1024;

/// Accepts and serves connections until `shutdown` is cancelled.
pub async fn serve(
    listener: TcpListener,
    responder: Arc<Responder>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut connections = JoinSet::new();
    loop {
        let slot = tokio::select! {
            () = shutdown.cancelled() => break,
            slot = slots.clone().acquire_owned() => slot?,
        };
        let stream = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    // Out of file descriptors, say: back off instead of spinning.
                    debug!(%error, "cannot accept a TCP connection");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let responder = responder.clone();
        let shutdown = shutdown.clone();
        connections.spawn(async move {
            tokio::select! {
                () = shutdown.cancelled() => {}
                () = connection(stream, &responder) => {}
            }
            drop(slot);
        });
        // Reap finished connections so the set does not grow.
        while connections.try_join_next().is_some() {}
    }
    connections.shutdown().await;
    Ok(())
}

async fn connection(stream: TcpStream, responder: &Responder) {
    let _ = stream.set_nodelay(true);
    let (mut reader, writer) = stream.into_split();
    let mut writer = BufWriter::new(writer);
    let mut query = Vec::new();
    let mut reply = Vec::new();
    loop {
        let read = async {
            let len = usize::from(reader.read_u16().await?);
            query.resize(len, 0);
            reader.read_exact(&mut query).await
        };
        match tokio::time::timeout(IDLE_TIMEOUT, read).await {
            Ok(Ok(_)) => {}
            // Closed, broken or idle: nothing more to answer.
            _ => return,
        }
        if !responder.respond(&query, Transport::Tcp, &mut reply) {
            continue;
        }
        let sent = async {
            writer.write_u16(reply.len() as u16).await?;
            writer.write_all(&reply).await?;
            writer.flush().await
        };
        if !matches!(tokio::time::timeout(IDLE_TIMEOUT, sent).await, Ok(Ok(()))) {
            return;
        }
    }
}
