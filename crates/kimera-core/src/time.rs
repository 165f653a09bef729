//! Times written by people (`--as-of`, an input's `valid_from`), read as UTC seconds.

/// Seconds since the Unix epoch for `s`: an integer (seconds), an RFC 3339 timestamp
/// (`2024-03-01T12:00:00Z`, `…+02:00`), a date and time without offset (UTC), a date
/// (`2024-03-01`, midnight UTC), a month (`2024-03`) or a year (`2024`, four digits).
/// `None` when it is none of these.
///
/// ```
/// use kimera_core::parse_time;
/// assert_eq!(parse_time("1970-01-02"), Some(86_400));
/// assert_eq!(parse_time("2000"), parse_time("2000-01-01T00:00:00Z"));
/// assert_eq!(parse_time("2000-03"), parse_time("2000-03-01"));
/// assert_eq!(parse_time("86400"), Some(86_400));
/// assert_eq!(parse_time("yesterday"), None);
/// ```
pub fn parse_time(s: &str) -> Option<i64> {
    use jiff::civil::{Date, DateTime};
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    let utc = |dt: DateTime| {
        jiff::tz::TimeZone::UTC
            .to_timestamp(dt)
            .ok()
            .map(|t| t.as_second())
    };
    if s.len() == 4 && s.bytes().all(|b| b.is_ascii_digit()) {
        let y: i16 = s.parse().ok()?;
        return utc(Date::new(y, 1, 1).ok()?.at(0, 0, 0, 0));
    }
    if let Ok(n) = s.parse::<i64>() {
        return Some(n);
    }
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        return Some(t.as_second());
    }
    if let Ok(dt) = s.parse::<DateTime>() {
        return utc(dt);
    }
    if let Ok(d) = s.parse::<Date>() {
        return utc(d.at(0, 0, 0, 0));
    }
    // a month: 2024-03
    let (y, m) = s.split_once('-')?;
    if y.len() == 4 && m.len() == 2 {
        return utc(Date::new(y.parse().ok()?, m.parse().ok()?, 1)
            .ok()?
            .at(0, 0, 0, 0));
    }
    None
}

/// `secs` as an RFC 3339 UTC timestamp (`2024-03-01T12:00:00Z`), for people to read.
pub fn format_time(secs: i64) -> String {
    jiff::Timestamp::from_second(secs).map_or_else(|_| secs.to_string(), |t| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_accepted_spelling_reads_as_the_same_instant() {
        let t = 1_709_251_200; // 2024-03-01T00:00:00Z
        for s in [
            "2024-03-01",
            "2024-03",
            "2024-03-01T00:00:00Z",
            "2024-03-01T01:00:00+01:00",
            "2024-03-01T00:00:00",
            "2024-03-01 00:00:00",
            "1709251200",
            " 2024-03-01 ",
        ] {
            assert_eq!(parse_time(s), Some(t), "{s}");
        }
        assert_eq!(format_time(t), "2024-03-01T00:00:00Z");
        for bad in ["", "2024-13-01", "soon", "2024-3", "12:00"] {
            assert_eq!(parse_time(bad), None, "{bad}");
        }
    }
}
