//! Slack timestamps and local days: the one place `ts` strings become instants, days and hours.

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

/// Microseconds since the epoch of a Slack `ts` (`"1700000000.123456"`); `None` if malformed.
pub fn ts_to_us(ts: &str) -> Option<i64> {
    let (secs, frac) = ts.split_once('.').unwrap_or((ts, "0"));
    let secs: i64 = secs.parse().ok()?;
    let mut frac = frac.to_string();
    frac.truncate(6);
    while frac.len() < 6 {
        frac.push('0');
    }
    let micros: i64 = frac.parse().ok()?;
    Some(secs * 1_000_000 + micros)
}

/// Local day (`YYYY-MM-DD`) and hour of an instant.
pub fn local_day_hour(us: i64, tz: &TimeZone) -> (String, u8) {
    let ts = Timestamp::from_microsecond(us).unwrap_or(Timestamp::UNIX_EPOCH);
    let z = ts.to_zoned(tz.clone());
    (z.date().to_string(), z.hour() as u8)
}

/// The instant a local day starts.
pub fn day_start_us(day: Date, tz: &TimeZone) -> i64 {
    day.to_zoned(tz.clone())
        .map_or(0, |z| z.timestamp().as_microsecond())
}

/// Today in `tz`.
pub fn today(tz: &TimeZone) -> Date {
    Timestamp::now().to_zoned(tz.clone()).date()
}

/// RFC 3339 with the zone's offset, e.g. `2026-03-02T09:15:00+01:00`.
pub fn rfc3339_local(us: i64, tz: &TimeZone) -> String {
    let ts = Timestamp::from_microsecond(us).unwrap_or(Timestamp::UNIX_EPOCH);
    ts.to_zoned(tz.clone())
        .strftime("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ts_parsing_and_local_days() {
        assert_eq!(ts_to_us("1700000000.000100"), Some(1_700_000_000_000_100));
        assert_eq!(ts_to_us("17"), Some(17_000_000));
        assert_eq!(ts_to_us("x.1"), None);
        // 2026-01-01T23:30Z is already Jan 2 in Berlin (UTC+1).
        let us = 1_767_310_200_000_000;
        let berlin = TimeZone::get("Europe/Berlin").expect("tz");
        assert_eq!(
            local_day_hour(us, &TimeZone::UTC),
            ("2026-01-01".into(), 23)
        );
        assert_eq!(local_day_hour(us, &berlin), ("2026-01-02".into(), 0));
        assert_eq!(rfc3339_local(us, &berlin), "2026-01-02T00:30:00+01:00");
    }
}
