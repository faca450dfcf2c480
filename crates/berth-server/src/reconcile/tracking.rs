//! What the reconciler remembers about each instance between passes: health,
//! crashes and restart backoff. Lost on a server restart on purpose: running
//! instances are probed again (fast), and crash counts start over.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

/// First restart delay after a crash; doubles per crash up to [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: Duration = Duration::from_secs(1);
pub const MAX_BACKOFF: Duration = Duration::from_secs(5 * 60);
/// An instance healthy this long has recovered: its backoff starts over.
pub const BACKOFF_RESET_AFTER: Duration = Duration::from_secs(5 * 60);

#[derive(Debug, Clone)]
pub struct Tracked {
    /// Passed its health check since it last started.
    pub healthy: bool,
    /// When it last started (boot timeout runs from here).
    pub booted_at: Instant,
    /// When its port first accepted a connection since it last started.
    pub port_open_at: Option<Instant>,
    /// Failed HTTP check attempts since it last started.
    pub failed_attempts: u32,
    pub next_attempt: Instant,
    /// Why the last check failed (for the deploy's failure report).
    pub last_failure: Option<String>,
    /// Restarts after crashes, since the server started.
    pub restarts: u32,
    /// Doublings of the backoff so far.
    backoff_steps: u32,
    pub crash: Option<Crash>,
    pub last_exit_code: Option<i64>,
    /// When it became healthy (wall clock, for `ps`).
    pub up_since: Option<DateTime<Utc>>,
    /// Where the router reaches it (known once healthy).
    pub addr: Option<std::net::SocketAddr>,
    up_at: Option<Instant>,
}

#[derive(Debug, Clone)]
pub struct Crash {
    pub restart_at: Instant,
}

impl Tracked {
    pub fn booting(now: Instant) -> Self {
        Self {
            healthy: false,
            booted_at: now,
            port_open_at: None,
            failed_attempts: 0,
            next_attempt: now,
            last_failure: None,
            restarts: 0,
            backoff_steps: 0,
            crash: None,
            last_exit_code: None,
            up_since: None,
            up_at: None,
            addr: None,
        }
    }

    pub fn mark_healthy(&mut self, now: Instant, addr: Option<std::net::SocketAddr>) {
        self.healthy = true;
        self.addr = addr;
        self.up_since = Some(Utc::now());
        self.up_at = Some(now);
        self.last_failure = None;
    }

    /// Records a crash and returns the delay before the restart.
    pub fn record_crash(&mut self, now: Instant, exit_code: Option<i64>) -> Duration {
        if self.up_at.is_some_and(|up| now.duration_since(up) >= BACKOFF_RESET_AFTER) {
            self.backoff_steps = 0;
        }
        let delay = backoff(self.backoff_steps);
        self.backoff_steps = self.backoff_steps.saturating_add(1);
        self.healthy = false;
        self.up_since = None;
        self.up_at = None;
        self.last_exit_code = exit_code.or(self.last_exit_code);
        self.crash = Some(Crash { restart_at: now + delay });
        delay
    }

    /// The instance was started again after a crash.
    pub fn restarted(&mut self, now: Instant) {
        self.restarts += 1;
        self.crash = None;
        self.healthy = false;
        self.booted_at = now;
        self.port_open_at = None;
        self.failed_attempts = 0;
        self.next_attempt = now;
    }

    /// `ps` state: starting, up, crashed, restarting.
    pub fn state(&self) -> &'static str {
        match (&self.crash, self.healthy, self.restarts) {
            (Some(_), _, _) => "crashed",
            (None, true, _) => "up",
            (None, false, 0) => "starting",
            (None, false, _) => "restarting",
        }
    }
}

/// 1 s, 2 s, 4 s … capped at 5 min.
pub fn backoff(steps: u32) -> Duration {
    FIRST_BACKOFF
        .checked_mul(1u32.checked_shl(steps.min(31)).unwrap_or(u32::MAX))
        .unwrap_or(MAX_BACKOFF)
        .min(MAX_BACKOFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_five_minutes() {
        let delays: Vec<u64> = (0..12).map(|s| backoff(s).as_secs()).collect();
        assert_eq!(delays, vec![1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]);
        assert_eq!(backoff(u32::MAX), MAX_BACKOFF);
    }

    #[test]
    fn crash_states_and_backoff_reset() {
        let t0 = Instant::now();
        let mut t = Tracked::booting(t0);
        assert_eq!(t.state(), "starting");
        t.mark_healthy(t0, None);
        assert_eq!(t.state(), "up");
        assert_eq!(t.record_crash(t0, Some(3)), Duration::from_secs(1));
        assert_eq!((t.state(), t.last_exit_code), ("crashed", Some(3)));
        t.restarted(t0);
        assert_eq!((t.state(), t.restarts), ("restarting", 1));
        assert_eq!(t.record_crash(t0, None), Duration::from_secs(2));
        assert_eq!(t.last_exit_code, Some(3), "an unknown exit status keeps the last known one");
        t.restarted(t0);
        t.mark_healthy(t0, None);
        let later = t0 + BACKOFF_RESET_AFTER;
        assert_eq!(t.record_crash(later, Some(1)), FIRST_BACKOFF, "a long healthy run resets backoff");
    }
}
