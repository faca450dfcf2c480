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

/// `512 MiB`, `31.5 MiB`, `900 KiB`.
pub fn bytes(n: u64) -> String {
    const KIB: f64 = 1024.0;
    let n = n as f64;
    if n >= KIB * KIB * KIB {
        format!("{:.1} GiB", n / KIB / KIB / KIB)
    } else if n >= KIB * KIB {
        let mib = n / KIB / KIB;
        if mib.fract() == 0.0 {
            format!("{mib:.0} MiB")
        } else {
            format!("{mib:.1} MiB")
        }
    } else if n >= KIB {
        format!("{:.0} KiB", n / KIB)
    } else {
        format!("{n} B")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn byte_sizes() {
        assert_eq!(super::bytes(512 * 1024 * 1024), "512 MiB");
        assert_eq!(super::bytes(33_030_144), "31.5 MiB");
        assert_eq!(super::bytes(900 * 1024), "900 KiB");
        assert_eq!(super::bytes(2 * 1024 * 1024 * 1024), "2.0 GiB");
        assert_eq!(super::bytes(125), "125 B");
    }
}
