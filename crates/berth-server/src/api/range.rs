//! Heroku's `Range` header for lists: `version ..; order=desc, max=15`.

/// Sort order and page size requested by a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListRange {
    pub descending: bool,
    pub max: Option<usize>,
}

/// Parses the parts of a Range header that Berth honours (order and max); the
/// field and bounds are ignored, so an odd header never causes an error.
pub fn parse(header: Option<&str>) -> ListRange {
    let mut range = ListRange { descending: false, max: None };
    let Some(header) = header else { return range };
    let params = header.split_once(';').map(|(_, p)| p).unwrap_or("");
    for param in params.split([',', ';']) {
        let Some((key, value)) = param.split_once('=') else { continue };
        match key.trim() {
            "order" => range.descending = value.trim().eq_ignore_ascii_case("desc"),
            "max" => range.max = value.trim().parse().ok(),
            _ => {}
        }
    }
    range
}

impl ListRange {
    /// Orders ascending items as asked and truncates to `max`.
    pub fn apply<T>(&self, mut ascending: Vec<T>) -> Vec<T> {
        if self.descending {
            ascending.reverse();
        }
        if let Some(max) = self.max {
            ascending.truncate(max);
        }
        ascending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_heroku_cli_forms() {
        assert_eq!(parse(Some("version ..; order=desc,max=1")), ListRange { descending: true, max: Some(1) });
        assert_eq!(parse(Some("version ..; max=15, order=desc")), ListRange { descending: true, max: Some(15) });
        assert_eq!(parse(Some("id ..")), ListRange { descending: false, max: None });
        assert_eq!(parse(Some("garbage")), ListRange { descending: false, max: None });
        assert_eq!(parse(None), ListRange { descending: false, max: None });
    }

    #[test]
    fn applies_order_and_max() {
        let r = parse(Some("version ..; order=desc, max=2"));
        assert_eq!(r.apply(vec![1, 2, 3]), vec![3, 2]);
    }
}
