//! Integer temporal encodings (days, and ms/µs/ns counts) into calendar values.
//!
//! Everything is computed with checked, floor-based arithmetic so that values before 1970 land
//! on the right day and hostile values are errors, not overflows.

use super::schema::Unit;
use crate::event::Value;
use chrono::{DateTime, Days, NaiveDate, NaiveTime};

const NANOS_PER_DAY: i64 = 86_400 * 1_000_000_000;

impl Unit {
    /// How many of this unit make one second.
    fn per_second(self) -> i64 {
        match self {
            Unit::Millis => 1_000,
            Unit::Micros => 1_000_000,
            Unit::Nanos => 1_000_000_000,
        }
    }

    /// Nanoseconds in one of this unit.
    fn nanos(self) -> i64 {
        1_000_000_000 / self.per_second()
    }
}

/// PostgreSQL's `infinity` / `-infinity` dates as Debezium 3.6 sends them, which differs by
/// path (recorded in the corpus `edge` scenario). Streaming maps them to the LocalDates
/// -5877611-06-21 / -22 (`PostgresValueConverter.POSITIVE_/NEGATIVE_INFINITY_LOCAL_DATE`):
/// -2147472692 / -2147472691 days. The snapshot reads the JDBC driver's `java.sql.Date`
/// sentinels and casts their epoch day to an int: -622191234 / -625821272. All four lie before
/// 4713 BC, PostgreSQL's first date, so none is a real date.
pub(crate) fn date_infinity(days: i64) -> Option<bool> {
    match days {
        -2_147_472_692 | -622_191_234 => Some(false),
        -2_147_472_691 | -625_821_272 => Some(true),
        _ => None,
    }
}

/// Days since 1970-01-01 (Connect `Date`, `io.debezium.time.Date`), negative before.
pub(crate) fn date(days: i64) -> Result<Value, String> {
    if let Some(negative) = date_infinity(days) {
        return Ok(Value::Infinite { negative });
    }
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).ok_or("epoch")?;
    let magnitude = Days::new(days.unsigned_abs());
    let date = if days >= 0 {
        epoch.checked_add_days(magnitude)
    } else {
        epoch.checked_sub_days(magnitude)
    };
    date.map(Value::Date)
        .ok_or_else(|| format!("date {days} days from 1970-01-01 is out of range"))
}

/// Time of day as a count of `unit` since midnight.
///
/// PostgreSQL's `24:00:00` arrives as exactly one day; no `NaiveTime` can hold it, so it stays
/// the text PostgreSQL itself prints and accepts.
pub(crate) fn time(count: i64, unit: Unit) -> Result<Value, String> {
    let out_of_range = || format!("time of day {count} ({unit:?}) is out of range");
    let nanos = count.checked_mul(unit.nanos()).ok_or_else(out_of_range)?;
    if nanos == NANOS_PER_DAY {
        return Ok(Value::Text("24:00:00".into()));
    }
    if !(0..NANOS_PER_DAY).contains(&nanos) {
        return Err(out_of_range());
    }
    let secs = (nanos / 1_000_000_000) as u32;
    let frac = (nanos % 1_000_000_000) as u32;
    NaiveTime::from_num_seconds_from_midnight_opt(secs, frac)
        .map(Value::Time)
        .ok_or_else(out_of_range)
}

/// PostgreSQL's `infinity` / `-infinity` timestamps as Debezium sends them: the PostgreSQL JDBC
/// driver's sentinels (`PGStatement.DATE_POSITIVE_INFINITY` / `DATE_NEGATIVE_INFINITY`, in
/// milliseconds) passed through as the millisecond count of `io.debezium.time.Timestamp`
/// divided by 1000, and as is in the microsecond count of `MicroTimestamp` (see the corpus
/// `types` scenario, rows 8 and 9). No real timestamp PostgreSQL can hold has these counts.
pub(crate) fn infinity(count: i64, unit: Unit) -> Option<&'static str> {
    const POSITIVE: i64 = 9_223_372_036_825_200_000;
    const NEGATIVE: i64 = -9_223_372_036_832_400_000;
    let (positive, negative) = match unit {
        Unit::Millis => (POSITIVE / 1000, NEGATIVE / 1000),
        Unit::Micros => (POSITIVE, NEGATIVE),
        // NanoTimestamp (time.precision.mode=nanoseconds): Long.MAX_VALUE / MIN_VALUE
        // (`convertTimestampToEpochNanos`), which would otherwise read as a day in 2262.
        Unit::Nanos => (i64::MAX, i64::MIN),
    };
    match count {
        c if c == positive => Some("infinity"),
        c if c == negative => Some("-infinity"),
        _ => None,
    }
}

/// Timestamp without zone as a count of `unit` since the epoch, negative before 1970.
/// PostgreSQL's infinities arrive as the JDBC driver's sentinels and stay the text PostgreSQL
/// prints and accepts (see [`infinity`]).
pub(crate) fn timestamp(count: i64, unit: Unit) -> Result<Value, String> {
    if let Some(text) = infinity(count, unit) {
        return Ok(Value::Infinite {
            negative: text.starts_with('-'),
        });
    }
    let per_second = unit.per_second();
    let secs = count.div_euclid(per_second);
    // rem_euclid is in [0, per_second), so the product stays below one second in nanoseconds.
    let frac = (count.rem_euclid(per_second) * unit.nanos()) as u32;
    DateTime::from_timestamp(secs, frac)
        .map(|t| Value::Timestamp(t.naive_utc()))
        .ok_or_else(|| format!("timestamp {count} ({unit:?}) is out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDateTime;

    fn ts(text: &str) -> Value {
        Value::Timestamp(NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f").unwrap())
    }

    #[test]
    fn dates() {
        let d = |s: &str| Value::Date(NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap());
        assert_eq!(date(0), Ok(d("1970-01-01")));
        assert_eq!(date(16816), Ok(d("2016-01-16")));
        assert_eq!(date(-1), Ok(d("1969-12-31")));
        assert_eq!(date(-719162), Ok(d("0001-01-01")));
        assert!(date(i64::MAX).is_err());
        assert!(date(i64::MIN).is_err());
    }

    #[test]
    fn times() {
        let t = |s: &str| Value::Time(NaiveTime::parse_from_str(s, "%H:%M:%S%.f").unwrap());
        assert_eq!(time(0, Unit::Millis), Ok(t("00:00:00")));
        assert_eq!(time(37_230_500, Unit::Millis), Ok(t("10:20:30.5")));
        assert_eq!(time(37_230_123_456, Unit::Micros), Ok(t("10:20:30.123456")));
        assert_eq!(
            time(1_000_000_001, Unit::Nanos),
            Ok(t("00:00:01.000000001"))
        );
        assert_eq!(
            time(86_400_000_000, Unit::Micros),
            Ok(Value::Text("24:00:00".into()))
        );
        assert!(time(-1, Unit::Micros).is_err());
        assert!(time(86_400_000_001, Unit::Micros).is_err());
        assert!(time(i64::MAX, Unit::Millis).is_err());
    }

    #[test]
    fn timestamps_before_and_after_the_epoch() {
        assert_eq!(timestamp(0, Unit::Millis), Ok(ts("1970-01-01 00:00:00")));
        assert_eq!(
            timestamp(-1, Unit::Millis),
            Ok(ts("1969-12-31 23:59:59.999"))
        );
        assert_eq!(
            timestamp(-1, Unit::Nanos),
            Ok(ts("1969-12-31 23:59:59.999999999"))
        );
        assert_eq!(
            timestamp(-1_500_000, Unit::Micros),
            Ok(ts("1969-12-31 23:59:58.5"))
        );
        assert_eq!(
            timestamp(1_795_319_038_403_273, Unit::Micros),
            Ok(ts("2026-11-22 03:43:58.403273"))
        );
        // 1900-01-01 00:00:00.000001
        assert_eq!(
            timestamp(-2_208_988_799_999_999, Unit::Micros),
            Ok(ts("1900-01-01 00:00:00.000001"))
        );
        assert!(timestamp(i64::MAX, Unit::Millis).is_err());
        assert!(timestamp(i64::MIN, Unit::Millis).is_err());
    }

    #[test]
    fn infinite_dates_from_either_path() {
        // The corpus `edge` scenario: snapshot and streaming send different day counts.
        for (days, negative) in [
            (-622_191_234, false),
            (-2_147_472_692, false),
            (-625_821_272, true),
            (-2_147_472_691, true),
        ] {
            assert_eq!(date(days), Ok(Value::Infinite { negative }), "{days}");
        }
        // Year 12345 and 44 BC (streaming) stay dates.
        assert!(matches!(date(3_789_548), Ok(Value::Date(_))));
        assert!(matches!(date(-735_160), Ok(Value::Date(_))));
    }

    #[test]
    fn infinite_timestamps_are_the_jdbc_sentinels() {
        // As recorded in the corpus `types` and `edge` scenarios (timestamp(0/3) and
        // timestamp(6)); NanoTimestamp's from Debezium's source.
        let text = |s: &str| {
            Ok(Value::Infinite {
                negative: s.starts_with('-'),
            })
        };
        assert_eq!(timestamp(i64::MAX, Unit::Nanos), text("infinity"));
        assert_eq!(timestamp(i64::MIN, Unit::Nanos), text("-infinity"));
        assert_eq!(
            timestamp(9_223_372_036_825_200, Unit::Millis),
            text("infinity")
        );
        assert_eq!(
            timestamp(-9_223_372_036_832_400, Unit::Millis),
            text("-infinity")
        );
        assert_eq!(
            timestamp(9_223_372_036_825_200_000, Unit::Micros),
            text("infinity")
        );
        assert_eq!(
            timestamp(-9_223_372_036_832_400_000, Unit::Micros),
            text("-infinity")
        );
        // The millisecond sentinel read as microseconds is an ordinary (year 294247) instant.
        assert!(matches!(
            timestamp(9_223_372_036_825_200, Unit::Micros),
            Ok(Value::Timestamp(_))
        ));
        assert!(timestamp(9_223_372_036_825_200_001, Unit::Micros).is_err());
    }
}
