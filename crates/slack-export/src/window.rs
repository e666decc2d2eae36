//! `--since` / `--until`: dates (in the export's time zone) or RFC 3339 times, as Slack `ts` bounds,
//! and Slack `ts` strings as sortable microsecond keys.

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

/// A bound that is neither a date nor an RFC 3339 time.
#[derive(Debug, thiserror::Error)]
#[error(
    "{flag} {value:?} is neither a date (2025-01-31) nor an RFC 3339 time (2025-01-31T09:00:00Z)"
)]
pub struct BadBound {
    pub flag: &'static str,
    pub value: String,
}

/// Which end of the window a date names: `--since DATE` starts at that day's midnight, `--until DATE`
/// includes the whole day (ends at the next midnight).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Since,
    Until,
}

/// `--tz` (default: the machine's zone) and `--since` / `--until` as microsecond bounds, as the
/// export and `search` both take them.
pub fn zone_and_window(
    tz: Option<&str>,
    since: Option<&str>,
    until: Option<&str>,
) -> Result<(TimeZone, Option<i64>, Option<i64>), cli_support::UsageError> {
    let tz = match tz {
        Some(name) => TimeZone::get(name).map_err(|e| {
            cli_support::UsageError::new(format!("unknown time zone {name:?}: {e}"))
                .with_hint("use an IANA zone name such as UTC, Europe/Berlin or America/New_York")
        })?,
        None => TimeZone::system(),
    };
    let bound = |v: Option<&str>, end| {
        v.map(|s| {
            parse_bound(s, end, &tz)
                .map(|t| t.as_microsecond())
                .map_err(|e| cli_support::UsageError::new(e.to_string()))
        })
        .transpose()
    };
    let since = bound(since, End::Since)?;
    let until = bound(until, End::Until)?;
    Ok((tz, since, until))
}

/// Parses a bound to an instant.
pub fn parse_bound(value: &str, end: End, tz: &TimeZone) -> Result<Timestamp, BadBound> {
    let bad = || BadBound {
        flag: match end {
            End::Since => "--since",
            End::Until => "--until",
        },
        value: value.to_string(),
    };
    let value = value.trim();
    if let Ok(ts) = value.parse::<Timestamp>() {
        return Ok(ts);
    }
    let date: Date = value.parse().map_err(|_| bad())?;
    let day = match end {
        End::Since => date,
        End::Until => date.tomorrow().map_err(|_| bad())?,
    };
    day.to_zoned(tz.clone())
        .map(|z| z.timestamp())
        .map_err(|_| bad())
}

/// An instant as a Slack `ts` string (`seconds.micros`).
pub fn slack_ts(t: Timestamp) -> String {
    let micros = t.as_microsecond();
    format!(
        "{}.{:06}",
        micros.div_euclid(1_000_000),
        micros.rem_euclid(1_000_000)
    )
}

/// A Slack `ts` (`"1700000000.000100"`) as microseconds, so keys sort like time.
pub fn ts_key(ts: &str) -> Option<i64> {
    let (secs, frac) = ts.split_once('.').unwrap_or((ts, ""));
    if frac.len() > 6 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let secs: i64 = secs.parse().ok()?;
    let micros: i64 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<6}").parse().ok()?
    };
    secs.checked_mul(1_000_000)?.checked_add(micros)
}

/// The instant of a `ts` key.
pub fn key_time(key: i64) -> Timestamp {
    Timestamp::from_microsecond(key).unwrap_or(Timestamp::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_cover_whole_days_in_the_zone() {
        let utc = TimeZone::UTC;
        let since = parse_bound("2025-01-31", End::Since, &utc).expect("date");
        let until = parse_bound("2025-01-31", End::Until, &utc).expect("date");
        assert_eq!(slack_ts(since), "1738281600.000000");
        assert_eq!(slack_ts(until), "1738368000.000000");
        let berlin = TimeZone::get("Europe/Berlin").expect("tzdb");
        let b = parse_bound("2025-01-31", End::Since, &berlin).expect("date");
        assert_eq!(since.as_second() - b.as_second(), 3600);
    }

    #[test]
    fn rfc3339_is_exact_and_garbage_is_refused() {
        let t =
            parse_bound("2025-01-31T09:00:00.5+01:00", End::Until, &TimeZone::UTC).expect("rfc");
        assert_eq!(slack_ts(t), "1738310400.500000");
        let err = parse_bound("last week", End::Since, &TimeZone::UTC).expect_err("bad");
        assert!(err.to_string().contains("--since"), "{err}");
    }

    #[test]
    fn ts_keys_sort_like_time() {
        assert_eq!(ts_key("1700000000.000100"), Some(1_700_000_000_000_100));
        assert_eq!(ts_key("1700000000.1"), Some(1_700_000_000_100_000));
        assert_eq!(ts_key("1700000000"), Some(1_700_000_000_000_000));
        assert_eq!(ts_key("abc"), None);
        assert_eq!(ts_key("1.1234567"), None);
        assert!(ts_key("999999999.999999") < ts_key("1000000000.000000"));
    }
}
