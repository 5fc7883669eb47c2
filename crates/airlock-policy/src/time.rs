//! Instants in messages: `2026-11-24 10:00 UTC`.

use crate::facts::{MICROS_PER_SECOND, Timestamp};

/// The instant to the minute, rounded up (an "eligible from" time shown rounded down
/// would name a minute at which the version is still refused).
pub(crate) fn format_minute_ceil(at: Timestamp) -> String {
    let at = at.as_micros();
    let minute = 60 * MICROS_PER_SECOND;
    let minutes = at.div_euclid(minute) + i64::from(at.rem_euclid(minute) != 0);
    format_minutes(minutes)
}

/// The instant to the minute, rounded down.
pub(crate) fn format_minute(at: Timestamp) -> String {
    format_minutes(at.as_micros().div_euclid(60 * MICROS_PER_SECOND))
}

fn format_minutes(minutes: i64) -> String {
    let days = minutes.div_euclid(24 * 60);
    let in_day = minutes.rem_euclid(24 * 60);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        in_day / 60,
        in_day % 60
    )
}

/// Proleptic Gregorian date of a day count since 1970-01-01, by the usual
/// era-of-400-years arithmetic (eras start on 0000-03-01 so that leap days end them).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let shifted = days + 719_468; // days from 0000-03-01 to 1970-01-01
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(seconds: i64, expected: &str) {
        assert_eq!(format_minute(Timestamp::from_secs(seconds)), expected);
    }

    #[test]
    fn dates() {
        check(0, "1970-01-01 00:00 UTC");
        check(951_782_400, "2000-02-29 00:00 UTC");
        check(1_700_000_000, "2023-11-14 22:13 UTC");
        check(1_795_478_400, "2026-11-24 00:00 UTC");
        check(4_107_542_399, "2100-02-28 23:59 UTC");
        check(4_107_542_400, "2100-03-01 00:00 UTC");
        check(-1, "1969-12-31 23:59 UTC");
        assert_eq!(
            format_minute_ceil(Timestamp::from_micros(1)),
            "1970-01-01 00:01 UTC"
        );
        assert_eq!(
            format_minute_ceil(Timestamp::from_secs(60)),
            "1970-01-01 00:01 UTC"
        );
        // Extremes do not panic.
        format_minute(Timestamp::MAX);
        format_minute(Timestamp::from_micros(i64::MIN));
        format_minute_ceil(Timestamp::MAX);
    }
}
