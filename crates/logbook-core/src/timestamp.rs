//! Millisecond-precision UTC timestamps, the only time type on Logbook's wire.
//!
//! Events carry RFC 3339 strings; storage and comparisons use whole milliseconds
//! since the Unix epoch. Parsing accepts any RFC 3339 offset and normalises to UTC;
//! formatting always writes `YYYY-MM-DDTHH:MM:SS.mmmZ`.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// A point in time, in whole milliseconds since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

/// The text could not be read as an RFC 3339 date-time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected an RFC 3339 date-time such as 2026-01-31T12:00:00Z")]
pub struct TimestampError;

impl Timestamp {
    /// The earliest instant Logbook accepts (year 1970).
    pub const MIN: Timestamp = Timestamp(0);
    /// The latest instant Logbook accepts (the end of year 9999).
    pub const MAX: Timestamp = Timestamp(253_402_300_799_999);

    /// Builds a timestamp from milliseconds since the epoch.
    pub const fn from_millis(millis: i64) -> Timestamp {
        Timestamp(millis)
    }

    /// Milliseconds since the epoch.
    pub const fn as_millis(self) -> i64 {
        self.0
    }

    /// Reads an RFC 3339 date-time with any offset; sub-millisecond digits are
    /// truncated. Dates before 1970 or after 9999 are refused.
    pub fn parse_rfc3339(text: &str) -> Result<Timestamp, TimestampError> {
        let parsed = OffsetDateTime::parse(text, &Rfc3339).map_err(|_| TimestampError)?;
        let millis = i64::try_from(parsed.unix_timestamp_nanos() / 1_000_000).map_err(|_| TimestampError)?;
        let timestamp = Timestamp(millis);
        if timestamp < Timestamp::MIN || timestamp > Timestamp::MAX {
            return Err(TimestampError);
        }
        Ok(timestamp)
    }

    /// Reads either an RFC 3339 date-time or a plain date (`2026-01-31`, meaning
    /// its midnight UTC), as accepted by the `since` and `until` filters.
    pub fn parse_date_or_datetime(text: &str) -> Result<Timestamp, TimestampError> {
        if text.len() == 10 {
            return Timestamp::parse_rfc3339(&format!("{text}T00:00:00Z"));
        }
        Timestamp::parse_rfc3339(text)
    }

    /// Adds a number of milliseconds, saturating at the representable range.
    pub fn plus_millis(self, millis: i64) -> Timestamp {
        Timestamp(self.0.saturating_add(millis))
    }

    /// The timestamp in the canonical wire form, `2026-01-31T12:00:00.000Z`.
    pub fn to_rfc3339(self) -> String {
        let nanos = i128::from(self.0) * 1_000_000;
        let datetime = OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap_or(OffsetDateTime::UNIX_EPOCH);
        // Exports and hashing write two of these per event: digits by hand are
        // several times faster than `format!` with padding.
        if let Ok(year) = u16::try_from(datetime.year())
            && year <= 9999
        {
            let mut text = *b"0000-00-00T00:00:00.000Z";
            let mut put = |at: usize, width: usize, mut value: u16| {
                for index in (at..at + width).rev() {
                    text[index] = b'0' + (value % 10) as u8;
                    value /= 10;
                }
            };
            put(0, 4, year);
            put(5, 2, u16::from(u8::from(datetime.month())));
            put(8, 2, u16::from(datetime.day()));
            put(11, 2, u16::from(datetime.hour()));
            put(14, 2, u16::from(datetime.minute()));
            put(17, 2, u16::from(datetime.second()));
            put(20, 3, datetime.millisecond());
            return String::from_utf8(text.to_vec()).expect("digits and separators are ASCII");
        }
        wire_form_by_format(datetime)
    }

    /// The UTC calendar day of this instant, `2026-01-31`.
    pub fn day(self) -> String {
        self.to_rfc3339()[..10].to_string()
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.to_rfc3339())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Timestamp, D::Error> {
        let text = String::deserialize(deserializer)?;
        Timestamp::parse_rfc3339(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Timestamp {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::DateTime)))
            .description(Some("RFC 3339 date-time in UTC with milliseconds"))
            .examples(["2026-01-31T12:00:00.000Z"])
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Timestamp {}

/// The wire form written with `format!`: for years beyond four digits, and the
/// reference the hand-written digits are tested against.
fn wire_form_by_format(datetime: OffsetDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        datetime.year(),
        u8::from(datetime.month()),
        datetime.day(),
        datetime.hour(),
        datetime.minute(),
        datetime.second(),
        datetime.millisecond()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: Option<&str>) {
        let actual = Timestamp::parse_rfc3339(input).ok().map(Timestamp::to_rfc3339);
        assert_eq!(actual.as_deref(), expected, "parsing {input:?}");
    }

    #[test]
    fn parses_and_normalises_rfc3339() {
        check("2026-01-31T12:00:00Z", Some("2026-01-31T12:00:00.000Z"));
        check("2026-01-31T12:00:00.123456Z", Some("2026-01-31T12:00:00.123Z"));
        check("2026-01-31T14:00:00+02:00", Some("2026-01-31T12:00:00.000Z"));
        check("2026-01-31", None);
        check("yesterday", None);
        check("1969-12-31T23:59:59Z", None);
    }

    #[test]
    fn plain_dates_mean_midnight_utc() {
        let midnight = Timestamp::parse_date_or_datetime("2026-01-31").unwrap();
        assert_eq!(midnight.to_rfc3339(), "2026-01-31T00:00:00.000Z");
        assert_eq!(midnight.day(), "2026-01-31");
    }

    #[test]
    fn the_wire_form_agrees_with_the_calendar_for_every_kind_of_instant() {
        let by_calendar = |millis: i64| {
            wire_form_by_format(OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000).unwrap())
        };
        let mut millis: i64 = 0;
        // Steps of about 11.6 days plus odd milliseconds, up to the year 9999.
        while millis < 253_402_300_799_999 {
            assert_eq!(Timestamp(millis).to_rfc3339(), by_calendar(millis), "{millis}");
            millis += 1_000_000_007;
        }
        for millis in [0, 1, 999, 86_399_999, 951_782_400_000, 253_402_300_799_999] {
            assert_eq!(Timestamp(millis).to_rfc3339(), by_calendar(millis), "{millis}");
        }
    }
}
