//! Router access lines into the app's log, as `berth[router]: …` (the line itself
//! is [`AccessEntry::heroku_line`]).

use berth_router::{AccessEntry, AccessLog};

use super::{Line, LogHub, Source};

impl AccessLog for LogHub {
    fn log(&self, entry: &AccessEntry<'_>) {
        self.push(entry.app, Line::new(Source::Berth, "router", entry.heroku_line()));
    }
}
