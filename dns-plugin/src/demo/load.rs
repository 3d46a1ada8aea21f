//! The load generator: simulated client pods that resolve the service through Aviator's DNS,
//! keep each answer for its TTL as a resolver would, and send real HTTP requests to the address
//! they got, at an open-loop (Poisson-like) rate set by the scenario.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RData, RecordType};
use tokio::net::UdpSocket;

/// Client pods, each with its own DNS cache: more pods, finer-grained balancing.
const CLIENTS: usize = 64;
/// A request slower than this counts as an error (a client timeout).
pub const TIMEOUT: Duration = Duration::from_secs(2);

/// A client's cached answer: the address, and when its TTL runs out.
type CachedAnswer = (IpAddr, Instant);

#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// Seconds since the run started, when the request was sent.
    pub at: f64,
    pub latency_ms: f64,
    pub ok: bool,
    /// Index of the cluster that got it, if the name resolved.
    pub cluster: Option<usize>,
}

impl Sample {
    /// Seconds since the run started, when the request ended.
    pub fn finished(&self) -> f64 {
        self.at + self.latency_ms / 1000.0
    }
}

#[derive(Clone)]
pub struct LoadGen {
    dns: SocketAddr,
    name: Name,
    /// Resolved address -> (cluster index, port).
    targets: Arc<HashMap<IpAddr, (usize, u16)>>,
    http: reqwest::Client,
    caches: Arc<Vec<Mutex<Option<CachedAnswer>>>>,
    pub samples: Arc<Mutex<Vec<Sample>>>,
    started: Instant,
}

impl LoadGen {
    pub fn new(
        dns: SocketAddr,
        name: &str,
        targets: HashMap<IpAddr, (usize, u16)>,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            dns,
            name: Name::from_ascii(name)?,
            targets: Arc::new(targets),
            http: aviator_broker::probe::http_client(TIMEOUT)?,
            caches: Arc::new((0..CLIENTS).map(|_| Mutex::new(None)).collect()),
            samples: Arc::new(Mutex::new(Vec::new())),
            started: Instant::now(),
        })
    }

    pub fn elapsed(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    /// Sends requests at `rate(t)` per second until `until` seconds have passed, then waits for
    /// every one of them to end (each is bounded: the DNS query's timeout, then [`TIMEOUT`]), so
    /// the samples count every request sent, the slowest too.
    pub async fn run(&self, rate: impl Fn(f64) -> f64, until: f64) {
        let mut in_flight = tokio::task::JoinSet::new();
        let mut tick = tokio::time::interval(Duration::from_millis(10));
        let mut owed = 0.0;
        let mut next_client = 0usize;
        while self.elapsed() < until {
            tick.tick().await;
            owed += rate(self.elapsed()) * 0.01;
            while owed >= 1.0 {
                owed -= 1.0;
                let this = self.clone();
                let client = next_client % CLIENTS;
                next_client += 1;
                in_flight.spawn(async move { this.request(client).await });
            }
            // Reap the requests that are done, so the set holds only those in flight.
            while in_flight.try_join_next().is_some() {}
        }
        while in_flight.join_next().await.is_some() {}
    }

    async fn request(&self, client: usize) {
        let at = self.elapsed();
        let sent = Instant::now();
        let (ok, cluster) = match self.resolve(client).await {
            None => (false, None),
            Some(ip) => match self.targets.get(&ip) {
                None => (false, None),
                Some(&(cluster, port)) => {
                    let url = format!("http://{ip}:{port}/work");
                    let ok = match self.http.get(&url).send().await {
                        Ok(response) => {
                            response.status().is_success() && response.bytes().await.is_ok()
                        }
                        Err(_) => false,
                    };
                    (ok, Some(cluster))
                }
            },
        };
        let latency_ms = sent.elapsed().as_secs_f64() * 1000.0;
        let ok = ok && latency_ms < TIMEOUT.as_secs_f64() * 1000.0;
        let sample = Sample {
            at,
            latency_ms,
            ok,
            cluster,
        };
        self.samples
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(sample);
    }

    /// The client's cached answer, or a fresh one from Aviator when the TTL has run out.
    async fn resolve(&self, client: usize) -> Option<IpAddr> {
        let now = Instant::now();
        if let Some((ip, expires)) = *self.caches[client]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            && now < expires
        {
            return Some(ip);
        }
        let (ip, ttl) = self.query().await?;
        *self.caches[client]
            .lock()
            .unwrap_or_else(PoisonError::into_inner) =
            Some((ip, now + Duration::from_secs(u64::from(ttl))));
        Some(ip)
    }

    async fn query(&self) -> Option<(IpAddr, u32)> {
        let mut message = Message::new(fastrand::u16(..), MessageType::Query, OpCode::Query);
        message.add_query(Query::query(self.name.clone(), RecordType::A));
        let bytes = message.to_vec().ok()?;
        let socket = UdpSocket::bind("127.0.0.1:0").await.ok()?;
        socket.send_to(&bytes, self.dns).await.ok()?;
        let mut buf = [0u8; 1500];
        let (n, _) = tokio::time::timeout(Duration::from_secs(1), socket.recv_from(&mut buf))
            .await
            .ok()?
            .ok()?;
        let reply = Message::from_vec(&buf[..n]).ok()?;
        reply.answers.iter().find_map(|r| match &r.data {
            RData::A(a) => Some((IpAddr::V4(a.0), r.ttl)),
            _ => None,
        })
    }
}
