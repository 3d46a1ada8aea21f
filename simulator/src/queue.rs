//! One cluster's servers as an M/G/k station: k servers of their own speeds, one FCFS queue
//! with a bound, and requests that expire while they wait (the server drops a request whose
//! client has given up, as gRPC deadlines do, so an overload does not turn into a backlog of
//! dead work).
//!
//! The station knows nothing of events: the engine tells it what arrives and which server
//! finished, and it says what to schedule next.
//!
//! Its servers can be added and removed while it runs ([`Station::resize`]). A removed server
//! finishes the job it is serving, as a terminating pod finishes its in-flight request within
//! its grace period, and takes no more; its slot stays (so the engine's pending completion
//! still names it) and is the first reused when servers are added again.

use std::collections::VecDeque;

/// A request as the station sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Job {
    pub id: u32,
    /// Service time on a server of speed 1, ms.
    pub work_ms: f64,
    /// When the client stops waiting, s.
    pub deadline: f64,
}

/// What happened to an arriving job.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Admit {
    /// Started on `server`; it finishes at `done_at`.
    Started {
        server: usize,
        done_at: f64,
    },
    Queued,
    /// The queue is full: the job is refused at once (an HTTP 503).
    Rejected,
}

#[derive(Debug, Clone)]
pub struct Station {
    speeds: Vec<f64>,
    /// Whether each server slot is in service (a removed one only finishes its job).
    active: Vec<bool>,
    /// Servers in service.
    servers: usize,
    running: Vec<Option<Job>>,
    queue: VecDeque<Job>,
    queue_limit: usize,
    /// Capacity multiplier (an antagonist halves it), applied to jobs as they start.
    slowdown: f64,
    /// Server-seconds spent on jobs, including work for clients that have since given up.
    busy_s: f64,
}

impl Station {
    pub fn new(speeds: Vec<f64>, queue_limit: usize) -> Self {
        let k = speeds.len();
        Self {
            speeds,
            active: vec![true; k],
            servers: k,
            running: vec![None; k],
            queue: VecDeque::new(),
            queue_limit,
            slowdown: 1.0,
            busy_s: 0.0,
        }
    }

    /// Servers in service.
    pub fn servers(&self) -> usize {
        self.servers
    }

    /// Requests in the system: running and queued (Prequal's requests-in-flight).
    pub fn in_flight(&self) -> usize {
        self.running.iter().flatten().count() + self.queue.len()
    }

    pub fn busy_s(&self) -> f64 {
        self.busy_s
    }

    /// Sets the capacity multiplier for jobs that start from now on.
    pub fn set_slowdown(&mut self, factor: f64) {
        self.slowdown = factor.max(1e-3);
    }

    pub fn arrive(&mut self, job: Job, now: f64) -> Admit {
        // The fastest idle server takes it: what a least-loaded proxy in front of the pods does.
        let idle = (0..self.speeds.len())
            .filter(|&s| self.active[s] && self.running[s].is_none())
            .max_by(|&a, &b| self.speeds[a].total_cmp(&self.speeds[b]));
        match idle {
            Some(server) => Admit::Started {
                server,
                done_at: self.start(server, job, now),
            },
            None if self.queue.len() < self.queue_limit => {
                self.queue.push_back(job);
                Admit::Queued
            }
            None => Admit::Rejected,
        }
    }

    /// `server` finished its job at `now`. Returns that job, the jobs dropped from the queue
    /// because their clients had given up, and the next job started, with its finish time.
    pub fn complete(&mut self, server: usize, now: f64) -> Completion {
        let finished = self.running[server].take();
        let mut expired = Vec::new();
        let mut next = None;
        if !self.active[server] {
            // Removed: it leaves once its job is done.
            return Completion {
                finished,
                expired: Vec::new(),
                next: None,
            };
        }
        while let Some(job) = self.queue.pop_front() {
            if job.deadline <= now {
                expired.push(job);
                continue;
            }
            next = Some((job, self.start(server, job, now)));
            break;
        }
        Completion {
            finished,
            expired,
            next,
        }
    }

    /// The cluster goes away: every job running or queued is lost.
    pub fn fail(&mut self) -> Vec<Job> {
        let mut lost: Vec<Job> = self.running.iter_mut().filter_map(Option::take).collect();
        lost.extend(self.queue.drain(..));
        lost
    }

    /// From `now` on, `count` servers are in service and up to `queue_limit` jobs may wait:
    /// removed servers (the last ones) finish their jobs and take no more; added ones run at
    /// `speed`, reusing removed slots first, and start on queued jobs at once. Returns the jobs
    /// started, with their servers and finish times, and those dropped from the queue because
    /// their clients had given up.
    pub fn resize(&mut self, count: usize, speed: f64, queue_limit: usize, now: f64) -> Resized {
        self.queue_limit = queue_limit;
        for s in (0..self.speeds.len()).rev() {
            if self.servers <= count {
                break;
            }
            if self.active[s] {
                self.active[s] = false;
                self.servers -= 1;
            }
        }
        for s in 0..self.speeds.len() {
            if self.servers >= count {
                break;
            }
            if !self.active[s] {
                self.active[s] = true;
                self.speeds[s] = speed;
                self.servers += 1;
            }
        }
        while self.servers < count {
            self.speeds.push(speed);
            self.active.push(true);
            self.running.push(None);
            self.servers += 1;
        }
        let mut resized = Resized::default();
        for server in 0..self.speeds.len() {
            if !self.active[server] || self.running[server].is_some() {
                continue;
            }
            while let Some(job) = self.queue.pop_front() {
                if job.deadline <= now {
                    resized.expired.push(job);
                    continue;
                }
                resized.started.push((server, self.start(server, job, now)));
                break;
            }
        }
        resized
    }

    fn start(&mut self, server: usize, job: Job, now: f64) -> f64 {
        let service_s = job.work_ms / 1e3 / (self.speeds[server] * self.slowdown);
        self.busy_s += service_s;
        self.running[server] = Some(job);
        now + service_s
    }
}

/// What a resize set going: jobs started (server, finish time) and jobs expired in the queue.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Resized {
    pub started: Vec<(usize, f64)>,
    pub expired: Vec<Job>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    pub finished: Option<Job>,
    pub expired: Vec<Job>,
    pub next: Option<(Job, f64)>,
}

#[cfg(test)]
mod tests {
    //! The station against queueing theory's closed forms, driven by a minimal event loop.

    use std::cmp::Reverse;
    use std::collections::BinaryHeap;

    use super::*;
    use crate::rng::{Purpose, exponential, stream};

    /// Mean time in system for Poisson arrivals at `rate` per s and exponential service of
    /// mean `service_ms`, over `n` jobs, after a warm-up.
    fn mean_sojourn_ms(servers: usize, rate: f64, service_ms: f64, n: u32) -> f64 {
        let mut station = Station::new(vec![1.0; servers], usize::MAX);
        let mut arrivals = stream(11, "queue", Purpose::Arrivals);
        let mut work = stream(11, "queue", Purpose::Work);
        // (finish time in ns, server): the only events besides arrivals.
        let mut done: BinaryHeap<Reverse<(u64, usize)>> = BinaryHeap::new();
        let mut arrived_at = vec![0.0; n as usize];
        let (mut total, mut counted) = (0.0, 0u32);
        let mut now = 0.0;
        let ns = |t: f64| (t * 1e9) as u64;
        let mut record = |job: Job, at: f64, arrived_at: &[f64]| {
            if job.id >= n / 10 {
                total += at - arrived_at[job.id as usize];
                counted += 1;
            }
        };
        for id in 0..n {
            now += exponential(&mut arrivals, 1.0 / rate);
            while let Some(&Reverse((t, server))) = done.peek() {
                if t > ns(now) {
                    break;
                }
                done.pop();
                let at = t as f64 / 1e9;
                let c = station.complete(server, at);
                record(c.finished.unwrap(), at, &arrived_at);
                if let Some((_, finish)) = c.next {
                    done.push(Reverse((ns(finish), server)));
                }
            }
            arrived_at[id as usize] = now;
            let job = Job {
                id,
                work_ms: exponential(&mut work, service_ms),
                deadline: f64::INFINITY,
            };
            if let Admit::Started { server, done_at } = station.arrive(job, now) {
                done.push(Reverse((ns(done_at), server)));
            }
        }
        total / f64::from(counted) * 1e3
    }

    /// Erlang C: the probability that an arrival waits in M/M/k with offered load a = λ/μ.
    fn erlang_c(k: usize, a: f64) -> f64 {
        let mut term = 1.0;
        let mut sum = 1.0;
        for i in 1..k {
            term *= a / i as f64;
            sum += term;
        }
        let last = term * a / k as f64 * (k as f64 / (k as f64 - a));
        last / (sum + last)
    }

    #[test]
    fn one_server_matches_m_m_1() {
        // λ = 40/s, μ = 50/s: mean time in system 1/(μ - λ) = 100 ms.
        let measured = mean_sojourn_ms(1, 40.0, 20.0, 400_000);
        assert!((measured - 100.0).abs() / 100.0 < 0.05, "{measured} ms");
    }

    #[test]
    fn eight_servers_match_m_m_k() {
        // k = 8, μ = 50/s each, λ = 320/s (u = 0.8): W = C(k, a)/(kμ - λ) + 1/μ.
        let (k, mu, lambda) = (8, 50.0, 320.0);
        let expected = (erlang_c(k, lambda / mu) / (k as f64 * mu - lambda) + 1.0 / mu) * 1e3;
        let measured = mean_sojourn_ms(k, lambda, 1e3 / mu, 400_000);
        assert!(
            (measured - expected).abs() / expected < 0.05,
            "{measured} ms against {expected} ms"
        );
    }

    #[test]
    fn a_full_queue_refuses_and_expired_jobs_are_dropped() {
        let mut s = Station::new(vec![2.0], 1);
        let job = |id, deadline| Job {
            id,
            work_ms: 10.0,
            deadline,
        };
        // Speed 2 halves the 10 ms of work.
        assert_eq!(
            s.arrive(job(0, 9.0), 0.0),
            Admit::Started {
                server: 0,
                done_at: 0.005
            }
        );
        assert_eq!(s.arrive(job(1, 0.004), 0.001), Admit::Queued);
        assert_eq!(s.arrive(job(2, 9.0), 0.002), Admit::Rejected);
        assert_eq!(s.in_flight(), 2);
        let c = s.complete(0, 0.005);
        assert_eq!(c.finished.map(|j| j.id), Some(0));
        assert_eq!(c.expired.iter().map(|j| j.id).collect::<Vec<_>>(), vec![1]);
        assert_eq!(c.next, None);
        s.set_slowdown(0.5);
        assert!(
            matches!(s.arrive(job(3, 9.0), 1.0), Admit::Started { done_at, .. } if (done_at - 1.01).abs() < 1e-12)
        );
        assert_eq!(s.fail().len(), 1);
        assert_eq!(s.in_flight(), 0);
    }

    #[test]
    fn a_removed_server_finishes_its_job_and_an_added_one_takes_the_queue() {
        let job = |id| Job {
            id,
            work_ms: 10.0,
            deadline: 9.0,
        };
        let mut s = Station::new(vec![1.0, 1.0], 4);
        assert!(matches!(
            s.arrive(job(0), 0.0),
            Admit::Started { server: 1, .. }
        ));
        assert!(matches!(
            s.arrive(job(1), 0.0),
            Admit::Started { server: 0, .. }
        ));
        assert_eq!(s.arrive(job(2), 0.0), Admit::Queued);
        // Down to one server: the last (server 1) leaves once its job is done.
        assert_eq!(s.resize(1, 1.0, 4, 0.001), Resized::default());
        assert_eq!(s.servers(), 1);
        assert_eq!(s.in_flight(), 3);
        let c = s.complete(1, 0.01);
        assert_eq!(c.finished.map(|j| j.id), Some(0));
        assert_eq!(c.next, None, "a removed server takes no more");
        let c = s.complete(0, 0.01);
        assert_eq!(c.next.map(|(j, _)| j.id), Some(2));
        // Arrivals now queue behind the one server in service.
        assert_eq!(s.arrive(job(3), 0.011), Admit::Queued);
        // Three servers: slot 1 comes back, slot 2 is new, at speed 2; both start at once.
        let r = s.resize(3, 2.0, 12, 0.012);
        assert_eq!(s.servers(), 3);
        assert_eq!(r.started.len(), 1);
        assert_eq!(r.started[0].0, 1);
        assert!((r.started[0].1 - 0.017).abs() < 1e-12, "10 ms at speed 2");
        assert!(matches!(
            s.arrive(job(4), 0.013),
            Admit::Started { server: 2, .. }
        ));
    }
}
