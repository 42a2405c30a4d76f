//! The TCP connect scanner: no raw sockets, so no root. Bounded concurrency (a semaphore shared by
//! every host), an optional connection-attempts-per-second limit, per-host timeouts that follow
//! the measured round-trip time (RFC 6298 style: srtt + 4·rttvar, clamped), and retries of ports
//! that did not answer. A port is open (handshake completed), closed (refused: a RST came back)
//! or filtered (no answer within the timeout, or an ICMP unreachable).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::Semaphore;

use crate::source::{Dialed, SourcePorts, Started};
use tokio::time::Instant;

/// The state of a scanned port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PortState {
    /// The TCP handshake completed.
    Open,
    /// The host refused the connection (RST).
    Closed,
    /// No answer, or an ICMP unreachable.
    Filtered,
}

/// Timing and load knobs of the connect scanner.
#[derive(Debug, Clone)]
pub struct Timing {
    /// Connection attempts in flight at once, over every host.
    pub concurrency: usize,
    /// Connection attempts per second, when limited.
    pub rate: Option<u32>,
    /// Extra tries of a port that did not answer.
    pub retries: u8,
    /// The timeout before any round trip was measured.
    pub initial_timeout: Duration,
    /// Lower bound of the adaptive timeout.
    pub min_timeout: Duration,
    /// Upper bound of the adaptive timeout.
    pub max_timeout: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            concurrency: 2_000,
            rate: None,
            retries: 1,
            initial_timeout: Duration::from_millis(1_000),
            min_timeout: Duration::from_millis(100),
            max_timeout: Duration::from_millis(3_000),
        }
    }
}

/// Round-trip estimator of one host (RFC 6298).
#[derive(Debug)]
pub struct Rtt {
    state: Mutex<Option<(f64, f64)>>,
    min: Duration,
    max: Duration,
    initial: Duration,
}

impl Rtt {
    /// A fresh estimator.
    pub fn new(t: &Timing) -> Self {
        Self {
            state: Mutex::new(None),
            min: t.min_timeout,
            max: t.max_timeout,
            initial: t.initial_timeout,
        }
    }

    /// Feeds one measured round trip.
    pub fn sample(&self, d: Duration) {
        let r = d.as_secs_f64();
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        *s = Some(match *s {
            None => (r, r / 2.0),
            Some((srtt, var)) => (
                0.875 * srtt + 0.125 * r,
                0.75 * var + 0.25 * (srtt - r).abs(),
            ),
        });
    }

    /// The smoothed round trip, once measured.
    pub fn srtt(&self) -> Option<Duration> {
        let s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.map(|(srtt, _)| Duration::from_secs_f64(srtt))
    }

    /// The current timeout.
    pub fn timeout(&self) -> Duration {
        let s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match *s {
            None => self.initial,
            Some((srtt, var)) => {
                Duration::from_secs_f64(srtt + 4.0 * var).clamp(self.min, self.max)
            }
        }
    }
}

/// A connection-attempt rate limit shared by every task.
#[derive(Debug)]
pub struct RateLimit {
    interval: Option<Duration>,
    next: Mutex<Instant>,
}

impl RateLimit {
    /// `None`: unlimited.
    pub fn new(per_second: Option<u32>) -> Self {
        Self {
            interval: per_second
                .filter(|r| *r > 0)
                .map(|r| Duration::from_secs_f64(1.0 / r as f64)),
            next: Mutex::new(Instant::now()),
        }
    }

    /// Waits for the next slot.
    pub async fn wait(&self) {
        let Some(step) = self.interval else { return };
        let at = {
            let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            let at = (*next).max(now);
            *next = at + step;
            at
        };
        tokio::time::sleep_until(at).await;
    }
}

/// Counters a progress display reads while a scan runs.
#[derive(Debug, Default)]
pub struct Progress {
    /// Addresses to scan.
    pub hosts_total: AtomicU64,
    /// Addresses finished (ports scanned and services identified).
    pub hosts_done: AtomicU64,
    /// Addresses that answered.
    pub hosts_up: AtomicU64,
    /// Host × port pairs to probe.
    pub ports_total: AtomicU64,
    /// Host × port pairs decided.
    pub ports_done: AtomicU64,
    /// Open ports found.
    pub open: AtomicU64,
    /// Connection attempts made (retries included).
    pub attempts: AtomicU64,
}

impl Progress {
    /// Reads a counter.
    pub fn get(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }
}

/// The shared machinery of one scan.
#[derive(Debug)]
pub struct Connector {
    /// Timing knobs.
    pub timing: Timing,
    permits: Arc<Semaphore>,
    rate: RateLimit,
    /// Live counters.
    pub progress: Arc<Progress>,
    /// Source port statistics, shared with service identification.
    pub sources: Arc<SourcePorts>,
}

impl Connector {
    /// A connector with its semaphore and rate limit.
    pub fn new(timing: Timing, progress: Arc<Progress>, sources: Arc<SourcePorts>) -> Self {
        Self {
            sources,
            permits: Arc::new(Semaphore::new(timing.concurrency.max(1))),
            rate: RateLimit::new(timing.rate),
            timing,
            progress,
        }
    }

    /// Probes one port under an already held concurrency permit; retries bind to source ports
    /// whose answers arrive, when some do not. Open connections are closed at once with a RST
    /// (no TIME_WAIT left behind).
    async fn probe(&self, addr: SocketAddr, rtt: &Rtt, retry: bool) -> PortState {
        loop {
            self.rate.wait().await;
            self.progress.attempts.fetch_add(1, Ordering::Relaxed);
            let started = Instant::now();
            match self.sources.dial(addr, rtt.timeout(), retry).await {
                Ok(d) => return self.settle(d, started, rtt),
                // Out of local ports or descriptors: a local limit, not an answer. Wait and
                // try again rather than report a state the target never gave.
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    }

    /// The state an attempt's outcome means, feeding the round-trip estimate.
    fn settle(&self, d: Dialed, started: Instant, rtt: &Rtt) -> PortState {
        match d {
            Dialed::Connected(s) => {
                rtt.sample(started.elapsed());
                let _ = socket2::SockRef::from(&s).set_linger(Some(Duration::ZERO));
                PortState::Open
            }
            Dialed::Refused => {
                rtt.sample(started.elapsed());
                PortState::Closed
            }
            Dialed::Silent | Dialed::Unreachable(_) => PortState::Filtered,
        }
    }

    async fn permit(&self) -> tokio::sync::OwnedSemaphorePermit {
        self.permits
            .clone()
            .acquire_owned()
            .await
            .expect("the scan semaphore is never closed")
    }

    /// Whether the host answers on any of these ports (open or refused).
    pub async fn discover(self: &Arc<Self>, ip: IpAddr, ports: &[u16], rtt: &Arc<Rtt>) -> bool {
        for _ in 0..=self.timing.retries {
            let mut set = tokio::task::JoinSet::new();
            for &p in ports {
                let (me, rtt) = (self.clone(), rtt.clone());
                let permit = self.permit().await;
                set.spawn(async move {
                    let _permit = permit;
                    me.probe(SocketAddr::new(ip, p), &rtt, false).await
                });
            }
            while let Some(r) = set.join_next().await {
                if matches!(r, Ok(PortState::Open | PortState::Closed)) {
                    return true;
                }
            }
        }
        false
    }

    /// Scans these ports of one host: every port once, then the unanswered ones again up to
    /// `retries` times with the timeout the answers taught. Returns each port's state, in port
    /// order.
    pub async fn scan_host(
        self: &Arc<Self>,
        ip: IpAddr,
        ports: &[u16],
        rtt: Arc<Rtt>,
    ) -> Vec<(u16, PortState)> {
        let mut states: Vec<(u16, PortState)> = Vec::with_capacity(ports.len());
        let mut pending: Vec<u16> = ports.to_vec();
        for round in 0..=self.timing.retries {
            let last = round == self.timing.retries;
            let mut set = tokio::task::JoinSet::new();
            let mut again = Vec::new();
            let handle = |r: Result<(u16, PortState), tokio::task::JoinError>,
                          states: &mut Vec<(u16, PortState)>,
                          again: &mut Vec<u16>| {
                let (port, st) = r.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
                if st == PortState::Filtered && !last {
                    again.push(port);
                } else {
                    self.progress.ports_done.fetch_add(1, Ordering::Relaxed);
                    if st == PortState::Open {
                        self.progress.open.fetch_add(1, Ordering::Relaxed);
                    }
                    states.push((port, st));
                }
            };
            for &port in &pending {
                // A task is spawned only with a permit in hand: the tasks alive over every host
                // are bounded by the concurrency, so memory stays flat however many are queued.
                let permit = self.permit().await;
                while let Some(r) = set.try_join_next() {
                    handle(r, &mut states, &mut again);
                }
                let addr = SocketAddr::new(ip, port);
                let (me, rtt) = (self.clone(), rtt.clone());
                self.rate.wait().await;
                let started = Instant::now();
                // Retries bind to source ports whose answers arrive, when some do not.
                match self.sources.start(addr, round > 0) {
                    // Answered before connect returned (the loopback, a fast LAN): no task.
                    Ok(Started::Done(d)) => {
                        self.progress.attempts.fetch_add(1, Ordering::Relaxed);
                        drop(permit);
                        let st = self.settle(d, started, &rtt);
                        handle(Ok((port, st)), &mut states, &mut again);
                    }
                    Ok(Started::Pending(stream, local)) => {
                        self.progress.attempts.fetch_add(1, Ordering::Relaxed);
                        let timeout = rtt.timeout();
                        set.spawn(async move {
                            let _permit = permit;
                            let d = me.sources.finish(stream, local, timeout).await;
                            (port, me.settle(d, started, &rtt))
                        });
                    }
                    // A local limit (ports, descriptors): the waiting attempt loop handles it.
                    Err(_) => {
                        set.spawn(async move {
                            let _permit = permit;
                            (port, me.probe(addr, &rtt, round > 0).await)
                        });
                    }
                }
            }
            while let Some(r) = set.join_next().await {
                handle(r, &mut states, &mut again);
            }
            if again.is_empty() {
                break;
            }
            pending = again;
        }
        states.sort_unstable_by_key(|(p, _)| *p);
        states
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rtt_timeout_adapts_and_is_clamped() {
        let t = Timing::default();
        let rtt = Rtt::new(&t);
        assert_eq!(rtt.timeout(), t.initial_timeout);
        for _ in 0..20 {
            rtt.sample(Duration::from_micros(50));
        }
        assert_eq!(rtt.timeout(), t.min_timeout);
        for _ in 0..50 {
            rtt.sample(Duration::from_secs(10));
        }
        assert_eq!(rtt.timeout(), t.max_timeout);
    }

    #[tokio::test]
    async fn open_closed_states_on_loopback() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let open = listener.local_addr().unwrap().port();
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let c = Arc::new(Connector::new(
            Timing::default(),
            Arc::default(),
            Arc::default(),
        ));
        let rtt = Arc::new(Rtt::new(&c.timing));
        let states = c
            .scan_host("127.0.0.1".parse().unwrap(), &[open, closed], rtt.clone())
            .await;
        let mut want = vec![(open, PortState::Open), (closed, PortState::Closed)];
        want.sort();
        assert_eq!(states, want);
        assert!(rtt.srtt().is_some());
        assert!(
            c.discover("127.0.0.1".parse().unwrap(), &[closed], &rtt)
                .await
        );
    }

    #[tokio::test]
    async fn rate_limit_spaces_attempts() {
        let r = RateLimit::new(Some(100));
        let t0 = Instant::now();
        for _ in 0..11 {
            r.wait().await;
        }
        assert!(
            t0.elapsed() >= Duration::from_millis(95),
            "{:?}",
            t0.elapsed()
        );
    }
}
