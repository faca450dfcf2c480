//! Terminal output: Heroku-style headers and borderless tables.

use comfy_table::{presets, ContentArrangement, Table};
use serde::Serialize;

/// `=== title`
pub fn header(title: &str) {
    println!("=== {title}");
}

pub fn table(columns: &[&str], rows: Vec<Vec<String>>) {
    let mut table = Table::new();
    table.load_preset(presets::NOTHING).set_content_arrangement(ContentArrangement::Disabled);
    table.set_header(columns.iter().map(|c| c.to_string()).collect::<Vec<_>>());
    for row in rows {
        table.add_row(row);
    }
    // comfy-table pads the first column with a leading space in this preset; trim it.
    for line in table.to_string().lines() {
        println!("{}", line.strip_prefix(' ').unwrap_or(line).trim_end());
    }
}

/// `key: value` lines with aligned values.
pub fn key_values(pairs: &[(&str, String)]) {
    let width = pairs.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (key, value) in pairs {
        println!("{key:<width$}  {value}", width = width + 1, key = format!("{key}:"));
    }
}

pub fn json<T: Serialize>(value: &T) {
    println!("{}", serde_json::to_string_pretty(value).unwrap_or_default());
}

/// "3m ago"-style age of an RFC 3339 timestamp.
pub fn age(timestamp: &str) -> String {
    let Ok(then) = chrono::DateTime::parse_from_rfc3339(timestamp) else { return timestamp.to_string() };
    let secs = (chrono::Utc::now() - then.with_timezone(&chrono::Utc)).num_seconds().max(0);
    match secs {
        0..=59 => format!("{secs}s ago"),
        60..=3599 => format!("{}m ago", secs / 60),
        3600..=86399 => format!("{}h ago", secs / 3600),
        _ => format!("{}d ago", secs / 86400),
    }
}
