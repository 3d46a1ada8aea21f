//! The client side of DNS as it really is: an application that may cache answers itself (a JVM
//! keeps them 30 s), a caching resolver per node that holds every answer for at least its
//! minimum (CoreDNS: 5 s), and connections that are reused for many requests and re-resolved
//! only when they are replaced. Aviator's weights act on lookups; this is how far a lookup is
//! from a request.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DnsModel {
    /// TTL of the authoritative answer, s.
    pub ttl_s: f64,
    /// The node resolver keeps an answer at least this long, s.
    pub resolver_min_ttl_s: f64,
    /// The application's own cache, s (0: asks the resolver for every new connection).
    pub app_cache_s: f64,
    /// Connections each client pod keeps to the service.
    pub connections_per_pod: usize,
    /// A connection's lifetime (MAX_CONNECTION_AGE), s; each lives ±10 % of it.
    pub connection_age_s: f64,
}

/// One cached answer.
#[derive(Debug, Clone, Copy, Default)]
pub struct Cache {
    entry: Option<(usize, f64)>,
}

impl Cache {
    pub fn get(&self, now: f64) -> Option<usize> {
        self.entry
            .filter(|&(_, expires)| now < expires)
            .map(|(answer, _)| answer)
    }

    pub fn put(&mut self, answer: usize, now: f64, ttl_s: f64) {
        if ttl_s > 0.0 {
            self.entry = Some((answer, now + ttl_s));
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Connection {
    target: usize,
    expires: f64,
}

/// One client cluster's pods: their caches, their nodes' resolvers and their connections.
#[derive(Debug, Clone)]
pub struct ClientSide {
    model: DnsModel,
    nodes: usize,
    app: Vec<Cache>,
    node: Vec<Cache>,
    connections: Vec<Option<Connection>>,
    /// Lookups that reached the authoritative server.
    pub lookups: u64,
}

impl ClientSide {
    pub fn new(model: DnsModel, pods: usize, nodes: usize) -> Self {
        Self {
            model,
            nodes: nodes.max(1),
            app: vec![Cache::default(); pods],
            node: vec![Cache::default(); nodes.max(1)],
            connections: vec![None; pods * model.connections_per_pod.max(1)],
            lookups: 0,
        }
    }

    /// Connection slots in all: pod p owns slots p·c .. (p+1)·c.
    pub fn slots(&self) -> usize {
        self.connections.len()
    }

    /// The cluster that connection `slot` reaches at `now`, opening a new connection (and so
    /// resolving) when the old one has aged out or broken. `age_unit` (uniform in [0, 1))
    /// spreads lifetimes; `ask` is the authoritative server. Returns the target and whether the
    /// connection is new (its first request pays a handshake).
    pub fn connection(
        &mut self,
        slot: usize,
        now: f64,
        age_unit: f64,
        ask: impl FnOnce() -> usize,
    ) -> (usize, bool) {
        if let Some(c) = self.connections[slot].filter(|c| now < c.expires) {
            return (c.target, false);
        }
        let pod = slot / self.model.connections_per_pod.max(1);
        let target = self.resolve(pod, now, ask);
        let life = self.model.connection_age_s * (0.9 + 0.2 * age_unit);
        self.connections[slot] = Some(Connection {
            target,
            expires: now + life,
        });
        (target, true)
    }

    /// Resolves for `pod`: its own cache, then its node's resolver, then the server.
    pub fn resolve(&mut self, pod: usize, now: f64, ask: impl FnOnce() -> usize) -> usize {
        if let Some(answer) = self.app[pod].get(now) {
            return answer;
        }
        let node = pod % self.nodes;
        let answer = match self.node[node].get(now) {
            Some(answer) => answer,
            None => {
                self.lookups += 1;
                let answer = ask();
                let ttl = self.model.ttl_s.max(self.model.resolver_min_ttl_s);
                self.node[node].put(answer, now, ttl);
                answer
            }
        };
        self.app[pod].put(answer, now, self.model.app_cache_s);
        answer
    }

    /// The client saw connection `slot` to `target` fail: the next request opens a new one.
    pub fn broken(&mut self, slot: usize, target: usize) {
        if self.connections[slot].is_some_and(|c| c.target == target) {
            self.connections[slot] = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(app_cache_s: f64) -> DnsModel {
        DnsModel {
            ttl_s: 1.0,
            resolver_min_ttl_s: 5.0,
            app_cache_s,
            connections_per_pod: 2,
            connection_age_s: 10.0,
        }
    }

    #[test]
    fn the_resolver_holds_an_answer_for_its_minimum_not_the_ttl() {
        let mut side = ClientSide::new(model(0.0), 4, 2);
        let mut next = 0;
        let mut ask = || {
            next += 1;
            next
        };
        // Pods 0 and 2 share node 0: one lookup serves both for 5 s although the TTL is 1 s.
        assert_eq!(side.resolve(0, 0.0, &mut ask), 1);
        assert_eq!(side.resolve(2, 4.9, &mut ask), 1);
        assert_eq!(
            side.resolve(1, 1.0, &mut ask),
            2,
            "node 1 has its own cache"
        );
        assert_eq!(side.resolve(0, 5.0, &mut ask), 3, "expired at 5 s");
        assert_eq!(side.lookups, 3);
    }

    #[test]
    fn an_application_cache_outlives_the_resolver() {
        let mut side = ClientSide::new(model(30.0), 2, 1);
        let mut next = 0;
        let mut ask = || {
            next += 1;
            next
        };
        assert_eq!(side.resolve(0, 0.0, &mut ask), 1);
        assert_eq!(side.resolve(0, 20.0, &mut ask), 1, "the JVM still holds it");
        assert_eq!(
            side.resolve(1, 20.0, &mut ask),
            2,
            "another pod asks afresh"
        );
    }

    #[test]
    fn connections_are_reused_until_they_age_out_or_break() {
        let mut side = ClientSide::new(model(0.0), 1, 1);
        assert_eq!(side.slots(), 2);
        assert_eq!(side.connection(0, 0.0, 0.5, || 7), (7, true));
        // Same connection, no lookup, until its 10 s ± 10 % life ends.
        assert_eq!(side.connection(0, 8.9, 0.5, || 8), (7, false));
        assert_eq!(side.lookups, 1);
        // A new connection inside the resolver's 5 s window would get the cached 7; at 10 s
        // the cache has expired, so it asks.
        assert_eq!(side.connection(0, 10.0, 0.5, || 8), (8, true));
        side.broken(0, 3);
        assert_eq!(
            side.connection(0, 10.1, 0.5, || 9),
            (8, false),
            "another target's failure"
        );
        side.broken(0, 8);
        assert_eq!(
            side.connection(0, 10.2, 0.5, || 9),
            (8, true),
            "reconnects, but the resolver still holds 8"
        );
    }
}
