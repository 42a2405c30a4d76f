//! Source ports that get answers. Every connection is bound to a local port before it connects,
//! so the scanner knows which source port each attempt used, and counts per block of 1,024 ports
//! how often an attempt got an answer or met silence.
//!
//! Why: a firewall that drops packets *to* a range of ports also drops the answers a scanner
//! receives *on* its own source ports in that range (on a host scanning itself, or behind a
//! stateless filter). The kernel picks source ports from the ephemeral range (32768-60999), so a
//! rule dropping 20000-40000 silently eats a quarter of all answers: closed ports look filtered
//! and open ports are missed (nmap -sT misses them there). When some blocks are clearly worse
//! than the others, retries and service probes bind to source ports in the blocks that answer.

use std::collections::HashSet;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::TcpStream;

/// Linux's "connection in progress" and "too many open files".
const EINPROGRESS: i32 = 115;
const EMFILE: i32 = 24;
const ECONNABORTED: i32 = 103;
/// Idle sockets kept for reuse.
const IDLE_MAX: usize = 512;

const BLOCK: usize = 1024;
const BLOCKS: usize = 65_536 / BLOCK;
/// Attempts a block needs before its silence rate is trusted.
const MIN_SAMPLES: u32 = 16;

/// Per-block answer statistics and the local ports in flight.
#[derive(Debug)]
pub struct SourcePorts {
    answered: Vec<AtomicU32>,
    silent: Vec<AtomicU32>,
    next: AtomicUsize,
    in_flight: Mutex<HashSet<u16>>,
    /// Sockets whose last attempt was refused, kept for the next attempt (Linux lets a TCP
    /// socket connect again after a failed connect): no socket, bind or close per attempt.
    idle: Mutex<Vec<(bool, Socket)>>,
}

impl Default for SourcePorts {
    fn default() -> Self {
        Self {
            answered: (0..BLOCKS).map(|_| AtomicU32::new(0)).collect(),
            silent: (0..BLOCKS).map(|_| AtomicU32::new(0)).collect(),
            next: AtomicUsize::new(0),
            in_flight: Mutex::new(HashSet::new()),
            idle: Mutex::new(Vec::new()),
        }
    }
}

/// A connection attempt just started.
#[derive(Debug)]
pub enum Started {
    /// The answer was already there.
    Done(Dialed),
    /// Waiting for the answer: the socket and its source port.
    Pending(TcpStream, u16),
}

/// How one connection attempt ended.
#[derive(Debug)]
pub enum Dialed {
    /// Connected.
    Connected(TcpStream),
    /// Refused (RST) or reset.
    Refused,
    /// No answer in time.
    Silent,
    /// An ICMP unreachable or another network error.
    Unreachable(io::Error),
}

impl SourcePorts {
    /// Records the outcome of an attempt from this local port.
    pub fn record(&self, local: u16, answered: bool) {
        let b = local as usize / BLOCK;
        let c = if answered {
            &self.answered[b]
        } else {
            &self.silent[b]
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// Blocks clearly better than the rest, when the statistics show some blocks losing
    /// answers: those whose silence rate is within 10 points of the best one. `None` when no
    /// block stands out (the common case: source ports do not matter).
    pub fn good_blocks(&self) -> Option<Vec<usize>> {
        let rates: Vec<(usize, f64)> = (0..BLOCKS)
            .filter_map(|b| {
                let a = self.answered[b].load(Ordering::Relaxed);
                let s = self.silent[b].load(Ordering::Relaxed);
                (a + s >= MIN_SAMPLES).then(|| (b, s as f64 / (a + s) as f64))
            })
            .collect();
        let best = rates.iter().map(|(_, r)| *r).fold(f64::INFINITY, f64::min);
        let worst = rates.iter().map(|(_, r)| *r).fold(0.0, f64::max);
        if rates.len() < 2 || worst - best < 0.25 {
            return None;
        }
        Some(
            rates
                .into_iter()
                .filter(|(_, r)| *r <= best + 0.10)
                .map(|(b, _)| b)
                .collect(),
        )
    }

    /// A source port to try in a good block, round robin.
    fn candidate(&self, good: &[usize]) -> u16 {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let block = good[n % good.len()];
        let offset = (n / good.len()).wrapping_mul(389) % BLOCK;
        let port = block * BLOCK + offset;
        port.max(1024) as u16
    }

    fn socket(addr: SocketAddr) -> io::Result<Socket> {
        let s = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
        s.set_nonblocking(true)?;
        Ok(s)
    }

    /// A socket bound to a source port: one in a good block when `prefer_good` and the
    /// statistics name good blocks, else one the kernel picks.
    fn bound(&self, addr: SocketAddr, prefer_good: bool) -> io::Result<(Socket, u16)> {
        let any: IpAddr = if addr.is_ipv4() {
            Ipv4Addr::UNSPECIFIED.into()
        } else {
            Ipv6Addr::UNSPECIFIED.into()
        };
        if prefer_good && let Some(good) = self.good_blocks() {
            for _ in 0..16 {
                let port = self.candidate(&good);
                let s = Self::socket(addr)?;
                if s.bind(&SocketAddr::new(any, port).into()).is_ok() {
                    return Ok((s, port));
                }
            }
        }
        let s = Self::socket(addr)?;
        s.bind(&SocketAddr::new(any, 0).into())?;
        let port = s
            .local_addr()?
            .as_socket()
            .map(|a| a.port())
            .unwrap_or_default();
        Ok((s, port))
    }

    /// Starts a connection attempt without waiting. On the loopback and on fast networks the
    /// answer (a refusal, most often) is already there when `connect` returns: it is read at
    /// once, and no readiness registration, task or wake-up is spent on it. Local resource
    /// errors (no free port, no descriptor) are returned as `Err` for the caller to retry.
    pub fn start(&self, addr: SocketAddr, prefer_good: bool) -> io::Result<Started> {
        let v4 = addr.is_ipv4();
        let reused = if prefer_good && self.good_blocks().is_some() {
            None
        } else {
            let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
            idle.iter()
                .rposition(|(f, _)| *f == v4)
                .map(|i| idle.swap_remove(i).1)
        };
        let Some(sock) = reused else {
            return self.start_fresh(addr, prefer_good);
        };
        // A reused socket says "aborted" once (its last attempt's end), then connects.
        let r = match sock.connect(&addr.into()) {
            Err(e) if e.raw_os_error() == Some(ECONNABORTED) => sock.connect(&addr.into()),
            r => r,
        };
        let local = sock
            .local_addr()
            .ok()
            .and_then(|a| a.as_socket())
            .map(|a| a.port())
            .unwrap_or_default();
        self.settle_start(sock, local, r, addr)
    }

    fn start_fresh(&self, addr: SocketAddr, prefer_good: bool) -> io::Result<Started> {
        let (sock, local) = self.bound(addr, prefer_good)?;
        self.in_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(local);
        let r = sock.connect(&addr.into());
        self.settle_start(sock, local, r, addr)
    }

    /// What a just-started attempt's `connect` result means; a refused socket goes back to the
    /// idle pool.
    fn settle_start(
        &self,
        sock: Socket,
        local: u16,
        result: io::Result<()>,
        addr: SocketAddr,
    ) -> io::Result<Started> {
        let refused = |e: &io::Error| {
            matches!(
                e.kind(),
                io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionReset
            )
        };
        let local_error = |e: &io::Error| {
            matches!(
                e.kind(),
                io::ErrorKind::AddrNotAvailable | io::ErrorKind::AddrInUse
            ) || e.raw_os_error() == Some(EMFILE)
        };
        // Our own port is in flight while the attempt may still meet another of ours.
        self.in_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(local);
        let done = |d: Dialed| {
            self.release(local);
            self.record(local, true);
            Ok(Started::Done(d))
        };
        let refused_keep = |sock: Socket| {
            let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
            if idle.len() < IDLE_MAX {
                idle.push((addr.is_ipv4(), sock));
            }
            drop(idle);
            done(Dialed::Refused)
        };
        match result {
            Ok(()) => {
                let s = TcpStream::from_std(std::net::TcpStream::from(sock))?;
                if self.crossed(&s) {
                    return done(Dialed::Refused);
                }
                done(Dialed::Connected(s))
            }
            Err(e) if e.raw_os_error() == Some(EINPROGRESS) => match sock.take_error()? {
                Some(e) if refused(&e) => refused_keep(sock),
                Some(e) => done(Dialed::Unreachable(e)),
                None => Ok(Started::Pending(
                    TcpStream::from_std(std::net::TcpStream::from(sock))?,
                    local,
                )),
            },
            Err(e) if refused(&e) => refused_keep(sock),
            Err(e) if local_error(&e) => {
                self.release(local);
                Err(e)
            }
            Err(e) => done(Dialed::Unreachable(e)),
        }
    }

    /// Waits up to `timeout` for a pending attempt's answer.
    pub async fn finish(&self, s: TcpStream, local: u16, timeout: Duration) -> Dialed {
        let out = match tokio::time::timeout(timeout, s.writable()).await {
            Err(_) => Dialed::Silent,
            Ok(Err(e)) => Dialed::Unreachable(e),
            Ok(Ok(())) => match s.take_error() {
                Ok(Some(e))
                    if matches!(
                        e.kind(),
                        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionReset
                    ) =>
                {
                    Dialed::Refused
                }
                Ok(Some(e)) | Err(e) => Dialed::Unreachable(e),
                Ok(None) if s.peer_addr().is_err() => Dialed::Refused,
                Ok(None) if self.crossed(&s) => Dialed::Refused,
                Ok(None) => Dialed::Connected(s),
            },
        };
        self.release(local);
        self.record(local, !matches!(out, Dialed::Silent));
        out
    }

    /// Two of our own attempts can meet each other (simultaneous open) when scanning the local
    /// machine: A from port P to Q and B from Q to P, or one attempt from P to P. Neither reached
    /// a listener.
    fn crossed(&self, s: &TcpStream) -> bool {
        let (Ok(local), Ok(peer)) = (s.local_addr(), s.peer_addr()) else {
            return false;
        };
        let crossed = local == peer
            || (local.ip() == peer.ip()
                && self
                    .in_flight
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .contains(&peer.port()));
        if crossed {
            let _ = socket2::SockRef::from(s).set_linger(Some(Duration::ZERO));
        }
        crossed
    }

    /// One connection attempt within `timeout`, recorded in the statistics. Local resource
    /// errors are returned as `Err` for the caller to retry.
    pub async fn dial(
        &self,
        addr: SocketAddr,
        timeout: Duration,
        prefer_good: bool,
    ) -> io::Result<Dialed> {
        match self.start(addr, prefer_good)? {
            Started::Done(d) => Ok(d),
            Started::Pending(s, local) => Ok(self.finish(s, local, timeout).await),
        }
    }

    fn release(&self, local: u16) {
        self.in_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&local);
    }

    /// Connects for a service probe (preferring good source ports), as a plain stream.
    pub async fn connect(&self, addr: SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
        let started = tokio::time::Instant::now();
        loop {
            match self.dial(addr, timeout, true).await {
                Ok(Dialed::Connected(s)) => return Ok(s),
                Ok(Dialed::Refused) => {
                    return Err(io::Error::new(io::ErrorKind::ConnectionRefused, "refused"));
                }
                Ok(Dialed::Silent) => {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "connection timed out",
                    ));
                }
                Ok(Dialed::Unreachable(e)) => return Err(e),
                Err(e) if started.elapsed() >= timeout => return Err(e),
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_blocks_only_when_some_blocks_lose_answers() {
        let s = SourcePorts::default();
        for b in 32..62 {
            for _ in 0..20 {
                s.record((b * BLOCK) as u16, true);
            }
        }
        assert!(s.good_blocks().is_none());
        for b in 32..40 {
            for _ in 0..40 {
                s.record((b * BLOCK) as u16, false);
            }
        }
        let good = s.good_blocks().unwrap();
        assert!(good.iter().all(|b| *b >= 40), "{good:?}");
        assert_eq!(good.len(), 22);
        let p = s.candidate(&good);
        assert!(p >= 40 * 1024);
    }
}
