//! Dates for people: "2026-11-24 15:30:00 UTC", "in 14 min", "3 days ago"; and durations like `15m` from them.

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, in seconds since the epoch. `WAXSEAL_NOW` fixes it, so that tests and snapshots are reproducible.
pub fn now() -> u64 {
    if let Some(fixed) = std::env::var("WAXSEAL_NOW")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        return fixed;
    }
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `2026-11-24 15:30:00 UTC` for a NumericDate.
pub fn utc(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Howard Hinnant's `civil_from_days`, for days since 1970-01-01 (non-negative only).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// "in 14 min", "3 days ago", "now".
pub fn relative(secs: u64, now: u64) -> String {
    match secs.cmp(&now) {
        std::cmp::Ordering::Equal => "now".to_owned(),
        std::cmp::Ordering::Greater => format!("in {}", span(secs - now)),
        std::cmp::Ordering::Less => format!("{} ago", span(now - secs)),
    }
}

/// "45 s", "14 min", "3 h", "12 days", "2 years".
pub fn span(seconds: u64) -> String {
    match seconds {
        0..=89 => format!("{seconds} s"),
        90..=5_399 => format!("{} min", (seconds + 30) / 60),
        5_400..=129_599 => format!("{} h", (seconds + 1_800) / 3_600),
        129_600..=63_071_999 => format!("{} days", (seconds + 43_200) / 86_400),
        _ => format!("{} years", seconds / 31_536_000),
    }
}

/// Parses `90s`, `15m`, `1h`, `7d`, `2w` into seconds.
pub use waxseal_server::settings::seconds as parse_duration;

/// A point in time given as a duration from now (`15m`) or an absolute NumericDate (`1800000000`).
pub fn parse_when(text: &str, now: u64) -> Result<u64, String> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text
            .parse()
            .map_err(|_| format!("{text:?} is too large a NumericDate"));
    }
    Ok(now.saturating_add(parse_duration(text)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc(1_795_534_086), "2026-11-24 15:28:06 UTC");
    }

    #[test]
    fn relative_times() {
        assert_eq!(relative(1000 + 14 * 60, 1000), "in 14 min");
        assert_eq!(relative(1000, 1000 + 3 * 86_400), "3 days ago");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Ok(90));
        assert_eq!(parse_duration("15m"), Ok(900));
        assert_eq!(parse_duration("7d"), Ok(604_800));
        assert!(parse_duration("15").is_err());
        assert!(parse_duration("m").is_err());
        assert!(parse_duration("99999999999999999999d").is_err());
        assert_eq!(parse_when("1800000000", 5), Ok(1_800_000_000));
        assert_eq!(parse_when("1h", 5), Ok(3_605));
    }
}
