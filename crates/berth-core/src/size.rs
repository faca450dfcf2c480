//! Dyno sizes: Heroku's names mapped to container memory limits.

use crate::ValidationError;

/// Upper bound for `ps:scale TYPE=N` on one app; protects the host from typos.
pub const MAX_QUANTITY: i64 = 100;

/// The default size of new process types.
pub const DEFAULT_SIZE: &str = "standard-1X";

/// (name, memory limit in MiB). The first entry is also what `basic`/`free` mean.
const SIZES: &[(&str, u64)] =
    &[("basic", 512), ("standard-1X", 512), ("standard-2X", 1024), ("performance-M", 2560), ("performance-L", 14336)];

/// The memory limit in bytes of a size name (case-insensitive), or an error listing the sizes.
pub fn memory_bytes(size: &str) -> Result<u64, ValidationError> {
    SIZES
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(size))
        .map(|(_, mib)| mib * 1024 * 1024)
        .ok_or_else(|| ValidationError::Size(size.to_string()))
}

/// Normalises a size name to its canonical spelling.
pub fn canonical(size: &str) -> Result<&'static str, ValidationError> {
    SIZES
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(size))
        .map(|(name, _)| *name)
        .ok_or_else(|| ValidationError::Size(size.to_string()))
}

pub(crate) fn describe_sizes() -> String {
    let names: Vec<String> = SIZES.iter().map(|(n, mib)| format!("{n} ({mib} MiB)")).collect();
    format!("sizes are {}", names.join(", "))
}

pub fn validate_quantity(quantity: i64) -> Result<(), ValidationError> {
    if (0..=MAX_QUANTITY).contains(&quantity) {
        Ok(())
    } else {
        Err(ValidationError::Quantity(quantity))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_map_to_memory() {
        assert_eq!(memory_bytes("standard-1x").unwrap(), 512 * 1024 * 1024);
        assert_eq!(canonical("STANDARD-2X").unwrap(), "standard-2X");
        let err = memory_bytes("huge").unwrap_err().to_string();
        assert!(err.contains("standard-1X"), "{err}");
    }

    #[test]
    fn quantities_are_bounded() {
        assert!(validate_quantity(0).is_ok());
        assert!(validate_quantity(MAX_QUANTITY).is_ok());
        assert!(validate_quantity(-1).is_err());
        assert!(validate_quantity(MAX_QUANTITY + 1).is_err());
    }
}
