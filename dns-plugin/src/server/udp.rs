//! One UDP shard: a thread that reads queries in batches with `recvmmsg`, answers each into a
//! buffer of its own, and sends the replies in one `sendmmsg`. Buffers are allocated once, so a
//! query costs no allocation, no task and no wake-up.

use std::io::{self, IoSlice, IoSliceMut};
use std::net::UdpSocket;
use std::os::fd::AsRawFd;
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::socket::{MsgFlags, MultiHeaders, SockaddrStorage, recvmmsg, sendmmsg};
use tokio_util::sync::CancellationToken;

use crate::wire::{Responder, Transport};

/// Datagrams read per system call, at most.
const BATCH: usize = 32;
/// A query longer than this is cut short and answered FORMERR: real queries are a few dozen
/// bytes, and an EDNS client rarely sends more than a few hundred.
const QUERY_BUFFER: usize = 4096;
/// How often a thread with no traffic looks for shutdown.
const SHUTDOWN_POLL: Duration = Duration::from_millis(100);

/// Serves `socket` until `shutdown` is cancelled.
pub fn serve(
    socket: UdpSocket,
    responder: &Responder,
    shutdown: &CancellationToken,
) -> io::Result<()> {
    socket.set_nonblocking(false)?;
    socket.set_read_timeout(Some(SHUTDOWN_POLL))?;
    let fd = socket.as_raw_fd();
    let mut queries: Box<[[u8; QUERY_BUFFER]; BATCH]> = Box::new([[0; QUERY_BUFFER]; BATCH]);
    let mut replies: [Vec<u8>; BATCH] =
        std::array::from_fn(|_| Vec::with_capacity(responder.max_reply(Transport::Udp)));
    let mut received_from: [Option<SockaddrStorage>; BATCH] = [None; BATCH];
    let mut lengths = [0usize; BATCH];
    let mut recv_headers = MultiHeaders::<SockaddrStorage>::preallocate(BATCH, None);
    let mut send_headers = MultiHeaders::<SockaddrStorage>::preallocate(BATCH, None);
    while !shutdown.is_cancelled() {
        let received = {
            let mut slices = queries.each_mut().map(|q| [IoSliceMut::new(q)]);
            match recvmmsg(
                fd,
                &mut recv_headers,
                slices.iter_mut(),
                MsgFlags::MSG_WAITFORONE,
                None,
            ) {
                Ok(messages) => {
                    let mut n = 0;
                    for (i, message) in messages.enumerate() {
                        received_from[i] = message.address;
                        lengths[i] = message.bytes;
                        n = i + 1;
                    }
                    n
                }
                Err(Errno::EAGAIN | Errno::EINTR) => continue,
                Err(error) => return Err(error.into()),
            }
        };
        // The replies owed, in the order received: indices into `replies`.
        let mut owed = [0usize; BATCH];
        let mut count = 0;
        for i in 0..received {
            if responder.respond(&queries[i][..lengths[i]], Transport::Udp, &mut replies[i]) {
                owed[count] = i;
                count += 1;
            }
        }
        let destinations: [Option<SockaddrStorage>; BATCH] =
            std::array::from_fn(|j| received_from[owed[j]]);
        let slices: [[IoSlice<'_>; 1]; BATCH] =
            std::array::from_fn(|j| [IoSlice::new(&replies[owed[j]])]);
        send_all(
            fd,
            &mut send_headers,
            &slices[..count],
            &destinations[..count],
        );
    }
    Ok(())
}

/// Sends every reply; one that cannot be sent (its client gone, say) is skipped, as a lost
/// datagram would be.
fn send_all(
    fd: i32,
    headers: &mut MultiHeaders<SockaddrStorage>,
    slices: &[[IoSlice<'_>; 1]],
    destinations: &[Option<SockaddrStorage>],
) {
    let mut start = 0;
    while start < slices.len() {
        let no_control: [nix::sys::socket::ControlMessage<'_>; 0] = [];
        match sendmmsg(
            fd,
            headers,
            slices[start..].iter(),
            &destinations[start..],
            no_control,
            MsgFlags::empty(),
        ) {
            Ok(sent) => start += sent.count().max(1),
            Err(Errno::EINTR) => {}
            Err(_) => start += 1,
        }
    }
}
