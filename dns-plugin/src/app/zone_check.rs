//! Whether the cluster's own DNS sends the clusterset zone's queries to Aviator: a silent
//! revert of the cutover (the submariner-operator rewrites CoreDNS's `clusterset.local` block on
//! every reconcile) must show. Every few seconds it asks the cluster's DNS for the
//! `aviator-served.<zone>` TXT record, which only Aviator answers, naming its cluster; any other
//! answer (lighthouse-coredns says NXDOMAIN) means the zone is served elsewhere.
//!
//! The verdict goes to the `aviator_zone_served` gauge and the policies' `ZoneServed`
//! condition. A check that gets no answer changes neither, and is counted.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use aviator_broker::state::ClusterSet;
use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use tokio::net::UdpSocket;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::metrics;
use crate::snapshot::{SERVED_LABEL, served_text};

const EVERY: Duration = Duration::from_secs(5);
const TIMEOUT: Duration = Duration::from_secs(2);

/// What the last check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ZoneServed {
    /// Not checked yet, or no answer so far.
    Unknown = 0,
    /// The cluster's DNS answered with this cluster's Aviator.
    Here = 1,
    /// It answered without Aviator: the zone is served elsewhere.
    Elsewhere = 2,
}

/// The shared verdict, read by the status writer.
#[derive(Debug, Default)]
pub struct ZoneServedCell(AtomicU8);

impl ZoneServedCell {
    pub fn get(&self) -> ZoneServed {
        match self.0.load(Ordering::Acquire) {
            1 => ZoneServed::Here,
            2 => ZoneServed::Elsewhere,
            _ => ZoneServed::Unknown,
        }
    }

    fn set(&self, verdict: ZoneServed) {
        self.0.store(verdict as u8, Ordering::Release);
    }
}

/// The cluster's DNS server: the first `nameserver` of `resolv.conf`, as pods resolve.
pub fn cluster_dns_from(resolv_conf: &str) -> Option<SocketAddr> {
    resolv_conf.lines().find_map(|line| {
        let mut words = line.split_whitespace();
        (words.next() == Some("nameserver"))
            .then(|| words.next()?.parse::<std::net::IpAddr>().ok())
            .flatten()
            .map(|ip| SocketAddr::new(ip, 53))
    })
}

pub async fn run(
    cluster_dns: SocketAddr,
    zone: Name,
    config: watch::Receiver<Arc<ClusterSet>>,
    verdict: Arc<ZoneServedCell>,
    shutdown: CancellationToken,
) {
    let Ok(question) = Name::from_ascii(SERVED_LABEL).and_then(|l| l.append_domain(&zone)) else {
        warn!(%zone, "cannot form the zone check's name; not checking");
        return;
    };
    let mut failing = false;
    loop {
        let cluster = config.borrow().local_cluster.to_string();
        match ask(cluster_dns, &question).await {
            Ok(texts) => {
                failing = false;
                let here = texts.iter().any(|t| *t == served_text(&cluster));
                let next = if here {
                    ZoneServed::Here
                } else {
                    ZoneServed::Elsewhere
                };
                if verdict.get() != next {
                    if here {
                        info!(%cluster_dns, %zone, "the cluster's DNS sends the zone's queries to Aviator");
                    } else {
                        warn!(%cluster_dns, %zone, answer = ?texts, "the cluster's DNS answers the zone without Aviator: the cutover is undone (see docs/kubernetes.md)");
                    }
                }
                verdict.set(next);
                ::metrics::gauge!(metrics::ZONE_SERVED).set(if here { 1.0 } else { 0.0 });
            }
            Err(error) => {
                ::metrics::counter!(metrics::ZONE_CHECK_FAILURES).increment(1);
                if !failing {
                    warn!(%cluster_dns, %error, "cannot ask the cluster's DNS who serves the zone");
                }
                failing = true;
            }
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(EVERY) => {}
        }
    }
}

/// The TXT strings of the answer (none for NXDOMAIN or another answer).
async fn ask(server: SocketAddr, name: &Name) -> Result<Vec<String>, String> {
    let mut query = Message::new(fastrand::u16(..), MessageType::Query, OpCode::Query);
    query.metadata.recursion_desired = true;
    query.add_query(Query::query(name.clone(), RecordType::TXT));
    let bytes = query.to_vec().map_err(|e| e.to_string())?;
    let bind: SocketAddr = if server.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(bind).await.map_err(|e| e.to_string())?;
    socket
        .send_to(&bytes, server)
        .await
        .map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; 4096];
    loop {
        let (len, from) = tokio::time::timeout(TIMEOUT, socket.recv_from(&mut buf))
            .await
            .map_err(|_| format!("no answer within {TIMEOUT:?}"))?
            .map_err(|e| e.to_string())?;
        if from != server {
            continue;
        }
        let answer = Message::from_vec(&buf[..len]).map_err(|e| e.to_string())?;
        if answer.metadata.id != query.metadata.id {
            continue;
        }
        if !matches!(
            answer.metadata.response_code,
            ResponseCode::NoError | ResponseCode::NXDomain
        ) {
            return Err(format!("answered {}", answer.metadata.response_code));
        }
        return Ok(answer
            .answers
            .iter()
            .filter_map(|r| match &r.data {
                RData::TXT(txt) => Some(txt.to_string()),
                _ => None,
            })
            .collect());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cluster_dns_is_the_first_nameserver() {
        let conf = "search aviator.svc.cluster.local svc.cluster.local\nnameserver 10.96.0.10\nnameserver 10.96.0.11\noptions ndots:5\n";
        assert_eq!(
            cluster_dns_from(conf),
            Some("10.96.0.10:53".parse().unwrap())
        );
        assert_eq!(cluster_dns_from("options ndots:5\n"), None);
    }
}
