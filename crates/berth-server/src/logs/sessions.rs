//! Log sessions (`POST /apps/{app}/log-sessions`): each is a short-lived secret
//! URL that streams an app's log without the API token, as Heroku's
//! `logplex_url` does (the `heroku` CLI fetches it without credentials).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::Filter;

/// How long a session URL can be opened after it was made (a tail, once open, stays open).
pub const SESSION_TTL: Duration = Duration::from_secs(5 * 60);
/// Sessions kept at once; the oldest go first.
const MAX_SESSIONS: usize = 4096;

#[derive(Debug, Clone)]
pub struct Session {
    pub app: String,
    pub lines: usize,
    pub tail: bool,
    pub filter: Filter,
    created: Instant,
}

#[derive(Default)]
pub struct Sessions {
    by_secret: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    /// Registers a session; returns its secret (the last segment of its URL).
    pub fn create(&self, app: &str, lines: usize, tail: bool, filter: Filter) -> String {
        let secret = crate::auth::generate_token().trim_start_matches("berth_").to_string();
        let mut all = self.by_secret.lock().unwrap();
        all.retain(|_, s| s.created.elapsed() < SESSION_TTL);
        if all.len() >= MAX_SESSIONS {
            if let Some(oldest) = all.iter().min_by_key(|(_, s)| s.created).map(|(k, _)| k.clone()) {
                all.remove(&oldest);
            }
        }
        all.insert(secret.clone(), Session { app: app.to_string(), lines, tail, filter, created: Instant::now() });
        secret
    }

    /// The session behind a secret, if it has not expired.
    pub fn get(&self, secret: &str) -> Option<Session> {
        let all = self.by_secret.lock().unwrap();
        all.get(secret).filter(|s| s.created.elapsed() < SESSION_TTL).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_unique_and_resolve() {
        let sessions = Sessions::default();
        let a = sessions.create("web1", 10, false, Filter::default());
        let b = sessions.create("web1", 10, true, Filter::default());
        assert_ne!(a, b);
        assert!(a.len() >= 40);
        assert_eq!(sessions.get(&a).unwrap().app, "web1");
        assert!(sessions.get(&b).unwrap().tail);
        assert!(sessions.get("nope").is_none());
    }
}
