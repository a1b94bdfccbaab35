//! Exact decimal money in JSON: written as strings, read from strings or numbers.
//!
//! A price is written as a JSON string (`"0.0032"`), which every JSON reader
//! keeps exactly. It is read from a string, or from a JSON number through the
//! shortest text that reads back as the same `f64` (`0.0032` stays
//! `0.0032`): exact for numbers of up to 15 significant digits; give longer
//! ones as strings.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::de::{self, Visitor};
use serde::{Deserializer, Serializer};

/// Parses a decimal written plainly (`0.0032`) or in scientific notation (`3.2e-3`).
///
/// ```
/// use lifecycle_domain::{parse_decimal, Decimal};
/// assert_eq!(parse_decimal("3.2e-3").unwrap().to_string(), "0.0032");
/// assert!(parse_decimal("NaN").is_err());
/// ```
pub fn parse_decimal(text: &str) -> Result<Decimal, String> {
    let trimmed = text.trim();
    let parsed = if trimmed.contains(['e', 'E']) {
        Decimal::from_scientific(trimmed)
    } else {
        Decimal::from_str(trimmed)
    };
    parsed.map(|d| d.normalize()).map_err(|_| {
        format!(
            "{:?} is not a decimal number such as 0.0025 (at most 28 digits)",
            crate::shorten(text)
        )
    })
}

struct DecimalVisitor;

impl Visitor<'_> for DecimalVisitor {
    type Value = Decimal;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a decimal number, as a string such as \"0.0025\" or a number")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Decimal, E> {
        parse_decimal(text).map_err(E::custom)
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Decimal, E> {
        if !value.is_finite() {
            return Err(E::custom(format!("{value} is not a decimal number")));
        }
        // `Display` prints the shortest digits that read back as `value`,
        // never in exponent form: 0.0032 prints as 0.0032.
        parse_decimal(&value.to_string()).map_err(E::custom)
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Decimal, E> {
        Ok(Decimal::from(value))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Decimal, E> {
        Ok(Decimal::from(value))
    }
}

/// `#[serde(with = "decimal")]` for a `Decimal` field.
pub(crate) mod decimal {
    use super::*;

    pub fn serialize<S: Serializer>(value: &Decimal, to: S) -> Result<S::Ok, S::Error> {
        to.collect_str(&value.normalize())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(from: D) -> Result<Decimal, D::Error> {
        from.deserialize_any(DecimalVisitor)
    }
}

/// `#[serde(with = "optional_decimal")]` for an `Option<Decimal>` field
/// (`null` or absent is `None`; absent needs `#[serde(default)]` too).
pub(crate) mod optional_decimal {
    use super::*;
    use serde::Serialize;

    pub fn serialize<S: Serializer>(value: &Option<Decimal>, to: S) -> Result<S::Ok, S::Error> {
        value.map(|d| d.normalize().to_string()).serialize(to)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(from: D) -> Result<Option<Decimal>, D::Error> {
        struct OptionVisitor;
        impl<'de> Visitor<'de> for OptionVisitor {
            type Value = Option<Decimal>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a decimal number or null")
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_some<D: Deserializer<'de>>(self, from: D) -> Result<Self::Value, D::Error> {
                super::decimal::deserialize(from).map(Some)
            }
        }
        from.deserialize_option(OptionVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    struct Priced {
        #[serde(with = "decimal")]
        price: Decimal,
        #[serde(default, with = "optional_decimal")]
        limit: Option<Decimal>,
    }

    fn read(json: &str) -> Result<Priced, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn numbers_and_strings_read_as_the_decimal_they_spell() {
        for (json, expected) in [
            (r#"{"price":0.0032}"#, "0.0032"),
            (r#"{"price":"0.0032"}"#, "0.0032"),
            (r#"{"price":3.2e-3}"#, "0.0032"),
            (r#"{"price":"3.2e-3"}"#, "0.0032"),
            (r#"{"price":0.1}"#, "0.1"),
            (r#"{"price":15}"#, "15"),
            (r#"{"price":"0.000000150"}"#, "0.00000015"),
        ] {
            let priced = read(json).unwrap();
            assert_eq!(priced.price.to_string(), expected, "{json}");
            assert_eq!(priced.limit, None);
        }
    }

    #[test]
    fn written_as_strings_and_read_back_exactly() {
        let priced = Priced {
            price: Decimal::from_str("0.0031999999999999997").unwrap(),
            limit: Some(Decimal::from_str("1.50").unwrap()),
        };
        let json = serde_json::to_string(&priced).unwrap();
        assert_eq!(json, r#"{"price":"0.0031999999999999997","limit":"1.5"}"#);
        assert_eq!(read(&json).unwrap(), priced);
    }

    #[test]
    fn what_is_not_a_decimal_is_refused_with_the_value() {
        for bad in [
            r#"{"price":"abc"}"#,
            r#"{"price":1e40}"#,
            r#"{"price":"NaN"}"#,
            r#"{"price":true}"#,
            r#"{"price":null}"#,
        ] {
            let err = read(bad).unwrap_err().to_string();
            assert!(err.contains("decimal"), "{bad}: {err}");
        }
    }
}
