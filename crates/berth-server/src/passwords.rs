//! Passwords: argon2id hashes (PHC strings) and a limit on failed logins.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

pub const MIN_PASSWORD_LEN: usize = 8;
/// Hashing cost grows with input; a cap keeps a huge "password" from being a DoS.
pub const MAX_PASSWORD_LEN: usize = 1024;

/// Failed attempts allowed per (email, source IP) within [`LOGIN_WINDOW`].
pub const MAX_LOGIN_FAILURES: usize = 5;
pub const LOGIN_WINDOW: Duration = Duration::from_secs(60);

/// Checks the length rules; the message never echoes the password.
pub fn check_policy(password: &str) -> Result<(), String> {
    let len = password.chars().count();
    if len < MIN_PASSWORD_LEN {
        return Err(format!("The password is too short: use at least {MIN_PASSWORD_LEN} characters."));
    }
    if password.len() > MAX_PASSWORD_LEN {
        return Err(format!("The password is too long: at most {MAX_PASSWORD_LEN} bytes."));
    }
    Ok(())
}

/// An argon2id PHC string with a random salt (argon2's default cost).
pub fn hash(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 hashing with default parameters cannot fail")
        .to_string()
}

/// Whether `password` matches the stored hash. With no hash (unknown user, or a
/// user without a password) a dummy hash is checked anyway, so the answer takes
/// as long either way and does not reveal which emails exist.
pub fn verify(password: &str, stored: Option<&str>) -> bool {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let dummy = DUMMY.get_or_init(|| hash("not a real password"));
    let (phc, real) = match stored {
        Some(s) => (s, true),
        None => (dummy.as_str(), false),
    };
    if password.len() > MAX_PASSWORD_LEN {
        return false;
    }
    let Ok(parsed) = PasswordHash::new(phc) else { return false };
    Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok() && real
}

/// Failed logins per (email, IP) in a sliding window. In memory: a restart
/// forgets, which only ever helps a legitimate user.
#[derive(Default)]
pub struct LoginLimiter {
    failures: Mutex<HashMap<(String, IpAddr), Vec<Instant>>>,
}

impl LoginLimiter {
    /// `Err(retry_after)` when the key has used up its failures in the window.
    pub fn check(&self, email: &str, ip: IpAddr, now: Instant) -> Result<(), Duration> {
        let mut map = self.failures.lock().unwrap();
        let key = (email.to_ascii_lowercase(), ip);
        let Some(times) = map.get_mut(&key) else { return Ok(()) };
        times.retain(|t| now.duration_since(*t) < LOGIN_WINDOW);
        if times.len() >= MAX_LOGIN_FAILURES {
            let oldest = times[0];
            return Err(LOGIN_WINDOW.saturating_sub(now.duration_since(oldest)));
        }
        if times.is_empty() {
            map.remove(&key);
        }
        Ok(())
    }

    pub fn record_failure(&self, email: &str, ip: IpAddr, now: Instant) {
        let mut map = self.failures.lock().unwrap();
        // Bound memory under a spray of distinct keys: drop entries with no recent failure.
        if map.len() > 10_000 {
            map.retain(|_, times| times.last().is_some_and(|t| now.duration_since(*t) < LOGIN_WINDOW));
        }
        map.entry((email.to_ascii_lowercase(), ip)).or_default().push(now);
    }

    /// A successful login clears the key's failures.
    pub fn record_success(&self, email: &str, ip: IpAddr) {
        self.failures.lock().unwrap().remove(&(email.to_ascii_lowercase(), ip));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_are_salted() {
        let h = hash("correct horse");
        assert!(h.starts_with("$argon2id$"));
        assert!(!h.contains("correct horse"));
        assert_ne!(h, hash("correct horse"), "random salt");
        assert!(verify("correct horse", Some(&h)));
        assert!(!verify("wrong horse", Some(&h)));
        assert!(!verify("correct horse", None), "no hash never verifies");
        assert!(!verify("x", Some("not a phc string")));
    }

    #[test]
    fn policy_needs_length() {
        assert!(check_policy("short").is_err());
        assert!(check_policy("long enough").is_ok());
        let err = check_policy(&"p".repeat(2000)).unwrap_err();
        assert!(!err.contains("ppp"), "never echoes the password");
    }

    #[test]
    fn limiter_blocks_after_failures_per_email_and_ip() {
        let limiter = LoginLimiter::default();
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let other_ip: IpAddr = "10.0.0.2".parse().unwrap();
        let t0 = Instant::now();
        for i in 0..MAX_LOGIN_FAILURES {
            assert!(limiter.check("Dev@Example.com", ip, t0).is_ok(), "attempt {i}");
            limiter.record_failure("dev@example.com", ip, t0);
        }
        let wait = limiter.check("dev@example.com", ip, t0 + Duration::from_secs(10)).unwrap_err();
        assert_eq!(wait, Duration::from_secs(50));
        assert!(limiter.check("dev@example.com", other_ip, t0).is_ok(), "other IPs are not blocked");
        assert!(limiter.check("admin@example.com", ip, t0).is_ok(), "other emails are not blocked");
        assert!(limiter.check("dev@example.com", ip, t0 + LOGIN_WINDOW).is_ok(), "the window slides");
        limiter.record_failure("dev@example.com", ip, t0 + LOGIN_WINDOW);
        limiter.record_success("dev@example.com", ip);
        assert!(limiter.check("dev@example.com", ip, t0 + LOGIN_WINDOW).is_ok());
    }
}
