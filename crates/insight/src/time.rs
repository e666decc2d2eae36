//! Slack timestamps and local days: the one place `ts` strings become instants, days and hours.

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

/// Microseconds since the epoch of a Slack `ts` (`"1700000000.123456"`); `None` if malformed.
///
/// A `ts` comes from the server, so it is checked rather than trusted: ASCII digits with at most
/// one dot (no sign, no other characters), and an instant jiff can represent. Callers skip a
/// message whose `ts` fails; nothing here can panic or overflow.
pub fn ts_to_us(ts: &str) -> Option<i64> {
    let (secs, frac) = ts.split_once('.').unwrap_or((ts, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if secs.is_empty() || !all_digits(secs) || !all_digits(frac) {
        return None;
    }
    // Too many digits fails here instead of wrapping.
    let secs: i64 = secs.parse().ok()?;
    // The first six fraction digits are the microseconds (Slack sends exactly six); pad short ones.
    let micros = frac
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(6)
        .fold(0i64, |acc, b| acc * 10 + i64::from(b - b'0'));
    let us = secs.checked_mul(1_000_000)?.checked_add(micros)?;
    Timestamp::from_microsecond(us).ok().map(|_| us)
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
        assert_eq!(ts_to_us("17."), Some(17_000_000));
        assert_eq!(ts_to_us("17.5"), Some(17_500_000));
        assert_eq!(ts_to_us("1700000000.1234567"), Some(1_700_000_000_123_456));
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

    /// Issue 11: a hostile or broken server's `ts` is skipped, never a panic (the old code sliced
    /// the fraction at byte 6, which can fall inside a multi-byte character, and multiplied
    /// without checking).
    #[test]
    fn hostile_ts_is_none_not_a_panic() {
        for ts in [
            "1700000000.12345é",
            "1700000000.ééééé",
            "1700000000.١٢٣٤٥٦",
            "١٧٠٠٠٠٠٠٠٠.000100",
            "99999999999999999999.000000",
            "9223372036854775807.000000",
            "9223372036854.775807",
            "-1700000000.000100",
            "+1700000000.000100",
            " 1700000000.000100",
            "1700000000.000100 ",
            "1.2.3",
            ".000100",
            "",
            ".",
        ] {
            assert_eq!(ts_to_us(ts), None, "{ts:?}");
        }
    }

    fn ts_char() -> impl proptest::strategy::Strategy<Value = char> {
        use proptest::prelude::*;
        prop_oneof![
            6 => prop::char::range('0', '9'),
            1 => Just('.'),
            1 => prop::sample::select(vec!['-', '+', ' ', 'é', '١', '\u{ff10}', 'e']),
            1 => any::<char>(),
        ]
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config::with_cases(512))]

        /// Any string a server might send as `ts` is parsed or refused, never a panic; what
        /// parses is digits with at most one dot, and every later step takes it.
        #[test]
        fn any_ts_is_parsed_or_refused(
            chars in proptest::collection::vec(ts_char(), 0..28),
        ) {
            let ts: String = chars.into_iter().collect();
            if let Some(us) = ts_to_us(&ts) {
                proptest::prop_assert!(ts.bytes().all(|b| b.is_ascii_digit() || b == b'.'));
                proptest::prop_assert!(ts.matches('.').count() <= 1);
                let berlin = TimeZone::get("Europe/Berlin").expect("tz");
                let _ = local_day_hour(us, &berlin);
                let _ = rfc3339_local(us, &berlin);
            }
        }

        /// A well-formed `ts` round-trips to its microseconds.
        #[test]
        fn well_formed_ts_round_trips(secs in 0i64..253_402_000_000, micros in 0i64..1_000_000) {
            let ts = format!("{secs}.{micros:06}");
            proptest::prop_assert_eq!(ts_to_us(&ts), Some(secs * 1_000_000 + micros));
        }
    }
}
